#include "shovel/fs/daemon.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shovel::fs {

Daemonizer::~Daemonizer() {
  if (fd_ >= 0) close(fd_);
}

Status Daemonizer::Start() {
  int p[2];
  if (pipe(p) != 0) return Status::Internal(std::string("pipe: ") + strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + strerror(errno));
  if (pid > 0) {  // parent: wait for the verdict
    close(p[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) msg.append(buf, static_cast<size_t>(n));
    }
    if (!msg.empty() && msg[0] == '0') _exit(0);
    if (msg.size() > 1) std::fprintf(stderr, "shovelfs: %s\n", msg.c_str() + 1);
    if (msg.empty()) {
      int status = 0;
      waitpid(pid, &status, 0);
      std::fprintf(stderr, "shovelfs: exited during startup\n");
    }
    _exit(1);
  }
  close(p[0]);
  fd_ = p[1];
  setsid();
  return Status::Ok();
}

void Daemonizer::Ready(const std::string& stderr_file) {
  if (fd_ < 0) return;
  (void)!write(fd_, "0", 1);
  close(fd_);
  fd_ = -1;
  ready_ = true;
  if (chdir("/") != 0) return;
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
  }
  if (!stderr_file.empty()) {
    int log = open(stderr_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log >= 0) {
      dup2(log, 2);  // dup2 clears O_CLOEXEC on fd 2
      if (log != 2) close(log);
    }
  }
}

void Daemonizer::Fail(const std::string& message) {
  if (fd_ < 0) return;
  std::string m = "1" + message;
  (void)!write(fd_, m.data(), m.size());
  close(fd_);
  fd_ = -1;
}

}  // namespace shovel::fs
