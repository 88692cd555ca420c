// shovelctl's command layer: parses one command line (CLI11) and runs it
// against a shovel::Client, writing to the given streams. main.cc and the
// interactive shell are thin loops over Cli::Run.
//
// Exit codes: 0 success, 1 the operation failed (one line on `err`
// naming the command, the id and the problem), 2 usage error.
// Not thread-safe: one Cli per thread. The Cli owns its Client (connected
// lazily on the first command that needs one, then reused by the shell).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "shovel/client.h"

namespace shovel::cli {

struct Io {
  std::FILE* in = stdin;
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  bool err_is_tty = false;  // draw progress bars
  bool out_is_tty = false;  // `top` refreshes in place
};

// Global options (also accepted before any command in the shell).
struct GlobalOptions {
  std::string workers;  // "tcp://a:1,tcp://b:2"; empty = SHOVEL_WORKERS
  std::string consul;   // Consul agent URL; empty = $CONSUL_HTTP_ADDR
  int64_t deadline_ms = 5000;
  uint32_t replicas = 0;   // 0: $SHOVEL_REPLICAS, else the client's default
  std::string key_file;    // CURVE key pair file; empty = $SHOVEL_KEY_FILE
  std::string worker_key;  // the workers' public key; empty = $SHOVEL_WORKER_KEY
  std::string mount;       // a shovelfs mount whose embedded worker to use
  bool json = false;
};

class Cli {
 public:
  explicit Cli(Io io) : io_(io) {}
  // args excludes argv[0]. `in_shell`: no "shell" recursion, keep globals.
  int Run(const std::vector<std::string>& args, bool in_shell = false);
  // With no command: true when the caller should open the shell.
  bool wants_shell() const { return wants_shell_; }
  const GlobalOptions& globals() const { return globals_; }
  // The Consul agent address for `config`: --consul, else CONSUL_HTTP_ADDR,
  // else Consul's default http://127.0.0.1:8500.
  std::string ConsulAddress() const;

 private:
  Result<Client*> Connected();
  int Fail(const std::string& what, const Status& s);

  Io io_;
  GlobalOptions globals_;
  std::string connected_with_;  // workers + deadline the client was made with
  std::unique_ptr<Client> client_;
  bool wants_shell_ = false;
  friend class Commands;
};

// Splits a shell line into words: whitespace separates, '...' and "..."
// quote, backslash escapes. kInvalidArgument on an unterminated quote.
Result<std::vector<std::string>> SplitWords(std::string_view line);

// Runs the interactive shell on the terminal (GNU readline: line editing,
// history kept in ~/.shovelctl_history). Returns the exit code.
int RunShell(Cli& cli);

}  // namespace shovel::cli
