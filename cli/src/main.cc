// shovelctl: parses the command line and runs one command, or opens the
// interactive shell when there is no command and stdin is a terminal.
#include <unistd.h>

#include "cli.h"

int main(int argc, char** argv) {
  shovel::cli::Io io;
  io.err_is_tty = isatty(STDERR_FILENO);
  io.out_is_tty = isatty(STDOUT_FILENO);
  shovel::cli::Cli cli(io);
  std::vector<std::string> args(argv + 1, argv + argc);
  int rc = cli.Run(args);
  if (rc != 0 || !cli.wants_shell()) return rc;
  if (!isatty(STDIN_FILENO)) {
    std::fputs("shovelctl: no command given (run with --help for the list)\n", stderr);
    return 2;
  }
  return shovel::cli::RunShell(cli);
}
