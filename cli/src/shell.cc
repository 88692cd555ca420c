// The interactive shell: GNU readline for line editing and history; each
// line runs through the same command layer as the command line.
#include <readline/history.h>
#include <readline/readline.h>

#include <cstdlib>
#include <string>

#include "cli.h"

namespace shovel::cli {
namespace {

std::string HistoryPath() {
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.shovelctl_history" : "";
}

constexpr const char* kShellHelp =
    "commands: set ID [FILE] [--value V] | append ID [FILE] [--value V] |\n"
    "  get ID [--offset N] [--length N] | rm ID |\n"
    "  ls [PREFIX] [--limit N] [--after ID] [-d] | stat ID |\n"
    "  init [--strategy S] (ID... | --prefix P --count N | --from-file F) |\n"
    "  node-ids ID | node-id ID [--strategy S] | score NODE ID | members |\n"
    "  help | quit   (global options like --json may precede a command)\n";

}  // namespace

int RunShell(Cli& cli) {
  const std::string history = HistoryPath();
  using_history();
  if (!history.empty()) read_history(history.c_str());
  int last = 0;
  for (;;) {
    char* raw = readline("shovel> ");
    if (!raw) {  // EOF (Ctrl-D)
      std::fputc('\n', stdout);
      break;
    }
    std::string line(raw);
    std::free(raw);
    auto words = SplitWords(line);
    if (!words.ok()) {
      std::fprintf(stderr, "shovelctl: %s\n", words.status().message().c_str());
      continue;
    }
    if (words->empty()) continue;
    add_history(line.c_str());
    const std::string& cmd = words->front();
    if (cmd == "quit" || cmd == "exit") break;
    if (cmd == "help" || cmd == "?") {
      std::fputs(kShellHelp, stdout);
      continue;
    }
    last = cli.Run(*words, /*in_shell=*/true);
    std::fflush(stdout);
  }
  if (!history.empty()) {
    write_history(history.c_str());
    history_truncate_file(history.c_str(), 1000);
  }
  return last == 2 ? 1 : last;
}

}  // namespace shovel::cli
