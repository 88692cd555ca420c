#include "worker_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

extern char** environ;

namespace shovel::testing {

std::string WorkerBinary() {
  if (const char* e = std::getenv("SHOVEL_WORKER_BIN"); e && *e) return e;
#ifdef SHOVEL_WORKER_BIN
  return SHOVEL_WORKER_BIN;
#else
  return "shovel-worker";
#endif
}

Result<std::unique_ptr<WorkerProcess>> WorkerProcess::Start(
    const std::string& node_id, const std::string& max_memory, const std::string& listen,
    const std::vector<std::string>& extra) {
  std::unique_ptr<WorkerProcess> w(new WorkerProcess());
  char tmpl[] = "/tmp/shovel-test-XXXXXX";
  if (!mkdtemp(tmpl)) return Status::Internal("mkdtemp failed");
  w->dir_ = tmpl;
  w->node_id_ = node_id;
  std::string ready = w->dir_ + "/ready";
  std::string bin = WorkerBinary();
  std::vector<std::string> args = {bin,        "--listen",  listen,  "--max-memory",
                                   max_memory, "--node-id", node_id, "--ready-file",
                                   ready};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, (w->dir_ + "/stderr").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // Not the test's stdout: a worker left behind by a test that crashed
  // must not keep ctest waiting on that pipe until its timeout.
  posix_spawn_file_actions_adddup2(&fa, 2, 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawn(&w->pid_, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    w->pid_ = -1;
    return Status::Unavailable("cannot start " + bin + ": " + strerror(rc));
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream in(ready);
    std::string endpoint;
    if (in && std::getline(in, endpoint) && !endpoint.empty()) {
      w->endpoint_ = endpoint;
      std::getline(in, w->metrics_url_);
      return w;
    }
    int status;
    if (waitpid(w->pid_, &status, WNOHANG) == w->pid_) {
      w->pid_ = -1;
      return Status::Unavailable(bin + " exited before it was ready: " + w->StderrText());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Timeout(bin + " did not write its ready file within 15 s");
}

std::string WorkerProcess::StderrText() const {
  std::ifstream in(dir_ + "/stderr");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WorkerProcess::Kill(int sig) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  int status;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

int WorkerProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  auto until = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

WorkerProcess::~WorkerProcess() {
  Kill(SIGKILL);
  if (!dir_.empty()) {
    unlink((dir_ + "/ready").c_str());
    unlink((dir_ + "/stderr").c_str());
    rmdir(dir_.c_str());
  }
}

Result<Cluster> Cluster::Start(int n, const std::string& max_memory,
                               const std::vector<std::string>& extra) {
  Cluster c;
  for (int i = 1; i <= n; ++i) {
    SHOVEL_ASSIGN_OR_RETURN(auto w,
                            WorkerProcess::Start("w" + std::to_string(i), max_memory,
                                                 "tcp://127.0.0.1:0", extra));
    c.workers.push_back(std::move(w));
  }
  return c;
}

std::vector<std::string> Cluster::endpoints() const {
  std::vector<std::string> out;
  for (const auto& w : workers) out.push_back(w->endpoint());
  return out;
}

std::string Cluster::joined() const {
  std::string out;
  for (const auto& w : workers) {
    if (!out.empty()) out += ",";
    out += w->endpoint();
  }
  return out;
}

bool WaitStopped(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'T') {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace shovel::testing
