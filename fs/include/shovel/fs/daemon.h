// Daemonizer: shovelfs goes to the background only once the mount is up, so
// every startup error is printed on the terminal and the exit code tells
// mount(8) whether the mount worked.
//
// Start forks BEFORE any thread exists (the worker, the client and FUSE all
// start threads, which a fork would lose). The parent waits on a pipe and
// exits with the child's verdict; the child carries on in a new session and
// calls Ready (parent exits 0; the child's stdin and stdout go to /dev/null,
// its stderr to the log file when there is one, so what libfuse prints is
// kept: the log itself never goes to /dev/null, see shovel/log.h) or Fail
// (parent prints the message and exits 1). Not thread-safe; use from main.
#pragma once

#include <string>

#include "shovel/status.h"

namespace shovel::fs {

class Daemonizer {
 public:
  Daemonizer() = default;
  ~Daemonizer();
  Daemonizer(const Daemonizer&) = delete;
  Daemonizer& operator=(const Daemonizer&) = delete;

  // Returns in the child only (the parent exits inside).
  Status Start();
  // `stderr_file`: where the child's stderr goes ("" : /dev/null).
  void Ready(const std::string& stderr_file = "");
  // The parent prints "shovelfs: MESSAGE" on its stderr and exits 1;
  // nothing is printed for "" (the message is already where stderr goes).
  void Fail(const std::string& message);
  bool daemonized() const { return fd_ >= 0 || ready_; }

 private:
  int fd_ = -1;  // the child's end of the pipe
  bool ready_ = false;
};

}  // namespace shovel::fs
