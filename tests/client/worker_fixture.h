// Test equipment: real shovel-worker processes on loopback.
//
// WorkerProcess starts the binary (path from the SHOVEL_WORKER_BIN compile
// definition or env) with --listen tcp://127.0.0.1:0 and --ready-file, waits
// (bounded) for the endpoint, and always kills the process by pid and reaps
// it when destroyed. Not thread-safe; owned by one test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shovel/status.h"

namespace shovel::testing {

std::string WorkerBinary();

class WorkerProcess {
 public:
  // `listen` may name a fixed port (to restart a worker where it was);
  // `extra` flags follow the usual ones (e.g. --key-file F, --metrics-listen).
  static Result<std::unique_ptr<WorkerProcess>> Start(
      const std::string& node_id, const std::string& max_memory = "1GiB",
      const std::string& listen = "tcp://127.0.0.1:0",
      const std::vector<std::string>& extra = {});
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  void Kill(int sig);  // sends `sig` and reaps the process
  // Waits up to `timeout` for the process to end by itself and reaps it:
  // its exit code, or -1 when it is still running or a signal ended it.
  int WaitExit(std::chrono::milliseconds timeout);
  const std::string& endpoint() const { return endpoint_; }
  const std::string& node_id() const { return node_id_; }
  // With --metrics-listen: http://HOST:PORT/metrics (the ready file's second
  // line); else empty.
  const std::string& metrics_url() const { return metrics_url_; }
  pid_t pid() const { return pid_; }
  // What the worker wrote on stderr so far.
  std::string StderrText() const;

 private:
  WorkerProcess() = default;
  pid_t pid_ = -1;
  std::string endpoint_, node_id_, dir_, metrics_url_;
};

// Waits (up to 2 s) until process `pid` is stopped: kill(SIGSTOP) returns
// before a thread running on another core has stopped, and that thread may
// still answer a request sent right after.
bool WaitStopped(pid_t pid);

// N workers named w1..wN.
class Cluster {
 public:
  // `extra` flags go to every worker.
  static Result<Cluster> Start(int n, const std::string& max_memory = "1GiB",
                               const std::vector<std::string>& extra = {});
  std::vector<std::string> endpoints() const;
  std::string joined() const;  // "tcp://...,tcp://..."
  std::vector<std::unique_ptr<WorkerProcess>> workers;
};

}  // namespace shovel::testing
