// Test equipment for the Consul integration tests: real shovel-worker and
// shovelctl processes. A Proc is spawned with posix_spawn (optionally under
// `ip netns exec NS`, which execs in place so the pid is the worker's), its
// stderr goes to a file the test can read, and it is always ended by pid
// and reaped (SIGKILL in the destructor). Every wait is bounded.
// Not thread-safe; owned by one test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shovel/status.h"

namespace shovel::consul_it {

struct WorkerArgs {
  std::string node_id;
  std::string consul;  // agent URL
  std::string listen = "tcp://127.0.0.1:0";
  std::string netns;               // run inside this network namespace
  std::vector<std::string> extra;  // e.g. {"--consul-ttl", "1s"}
};

class Proc {
 public:
  // Starts shovel-worker and waits (15 s at most) for its ready file.
  static Result<std::unique_ptr<Proc>> StartWorker(const WorkerArgs& args);
  ~Proc();
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  // Sends `sig` and reaps (SIGKILL after 10 s). Returns the exit status, or
  // -1 for a death by signal.
  int Signal(int sig);
  std::string Stderr() const;  // what the process wrote so far
  const std::string& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }

 private:
  Proc() = default;
  pid_t pid_ = -1;
  std::string dir_, endpoint_;
};

struct CtlResult {
  int code = -1;
  std::string out, err;
};
// Runs shovelctl with `args` (30 s at most; killed by pid after that).
CtlResult Ctl(const std::vector<std::string>& args);

// Counts the occurrences of `needle` in `text`.
size_t Count(const std::string& text, const std::string& needle);

}  // namespace shovel::consul_it
