#include "processes.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace shovel::consul_it {
namespace {

using Clock = std::chrono::steady_clock;

std::string MakeDir() {
  char tmpl[] = "/tmp/shovel-cit-XXXXXX";
  return mkdtemp(tmpl) ? tmpl : "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<pid_t> Spawn(const std::vector<std::string>& args, const std::string& out,
                    const std::string& err) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return Status::Unavailable("cannot start " + args[0] + ": " + strerror(rc));
  return pid;
}

// Waits for `pid` up to `limit`; SIGKILL after it. Returns the wait status.
int Reap(pid_t pid, std::chrono::milliseconds limit) {
  int status = 0;
  auto until = Clock::now() + limit;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

}  // namespace

Result<std::unique_ptr<Proc>> Proc::StartWorker(const WorkerArgs& a) {
  std::unique_ptr<Proc> p(new Proc());
  p->dir_ = MakeDir();
  if (p->dir_.empty()) return Status::Internal("mkdtemp failed");
  std::string ready = p->dir_ + "/ready";
  std::vector<std::string> args;
  if (!a.netns.empty()) args = {"ip", "netns", "exec", a.netns};
  args.insert(args.end(), {SHOVEL_WORKER_BIN, "--listen", a.listen, "--node-id",
                           a.node_id, "--ready-file", ready, "--threads", "2"});
  if (!a.consul.empty()) args.insert(args.end(), {"--consul", a.consul});
  args.insert(args.end(), a.extra.begin(), a.extra.end());
  SHOVEL_ASSIGN_OR_RETURN(p->pid_, Spawn(args, "/dev/null", p->dir_ + "/stderr"));
  auto until = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < until) {
    std::ifstream in(ready);
    std::string endpoint;
    if (in && std::getline(in, endpoint) && !endpoint.empty()) {
      p->endpoint_ = endpoint;
      return p;
    }
    int status;
    if (waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
      p->pid_ = -1;
      return Status::Unavailable("shovel-worker exited before it was ready: " +
                                 p->Stderr());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Timeout("shovel-worker was not ready within 15 s: " + p->Stderr());
}

Proc::~Proc() {
  if (pid_ > 0) Signal(SIGKILL);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

int Proc::Signal(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = Reap(pid_, std::chrono::seconds(10));
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Proc::Stderr() const { return ReadFile(dir_ + "/stderr"); }

CtlResult Ctl(const std::vector<std::string>& args) {
  CtlResult r;
  std::string dir = MakeDir();
  std::vector<std::string> argv = {SHOVELCTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto pid = Spawn(argv, dir + "/out", dir + "/err");
  if (pid.ok()) {
    int status = Reap(*pid, std::chrono::seconds(30));
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadFile(dir + "/out");
    r.err = ReadFile(dir + "/err");
  } else {
    r.err = pid.status().ToString();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos;
       p = text.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

}  // namespace shovel::consul_it
