// Test equipment: a real shovel-worker process on loopback (port 0 +
// --ready-file) and a raw ZeroMQ DEALER client speaking the wire codec.
// Teardown kills the process by pid. Every wait is bounded.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "shovel/protocol.h"

namespace shovel::test {

class WorkerProcess {
 public:
  // `nofile_soft` > 0: the worker starts with that soft RLIMIT_NOFILE (and
  // that hard limit too when `nofile_hard` > 0), as under `ulimit -n`.
  explicit WorkerProcess(std::vector<std::string> extra = {}, rlim_t nofile_soft = 0,
                         rlim_t nofile_hard = 0) {
    char dir[] = "/tmp/shovel-wt-XXXXXX";
    dir_ = mkdtemp(dir);
    ready_ = dir_ + "/ready";
    std::vector<std::string> args = {
        SHOVEL_WORKER_BIN, "--listen", "tcp://127.0.0.1:0", "--ready-file", ready_,
        "--threads",       "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      if (nofile_soft > 0) {
        rlimit rl{};
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = nofile_soft;
        if (nofile_hard > 0) rl.rlim_max = nofile_hard;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(126);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream f(ready_);
      if (f && std::getline(f, endpoint_) && !endpoint_.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~WorkerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::remove(ready_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits up to `timeout` for the exit; returns the exit
  // status (or -1 on timeout / abnormal end).
  int SignalAndWait(int sig, std::chrono::milliseconds timeout) {
    kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  std::string dir_, ready_, endpoint_;
  pid_t pid_ = -1;
};

struct RawReply {
  wire::Header header;
  std::vector<std::string> payload;
  bool ok = false;  // a reply arrived and decoded
};

// One reply from `sock`, decoded; ok = false when none came within the
// socket's receive timeout or it did not decode.
inline RawReply RecvRawReply(zmq::socket_t& sock) {
  RawReply r;
  std::vector<zmq::message_t> msgs;
  if (!zmq::recv_multipart(sock, std::back_inserter(msgs))) return r;
  std::vector<std::string_view> views;
  for (auto& m : msgs) views.emplace_back(static_cast<const char*>(m.data()), m.size());
  auto d = wire::DecodeReply(views);
  if (!d.ok()) return r;
  r.header = d->header;
  for (auto v : d->payload) r.payload.emplace_back(v);
  r.ok = true;
  return r;
}

class RawClient {
 public:
  explicit RawClient(const std::string& endpoint)
      : sock_(ctx_, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.set(zmq::sockopt::rcvtimeo, 10000);
    sock_.connect(endpoint);
  }
  void SendFrames(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      sock_.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore
                                                               : zmq::send_flags::none);
    }
  }
  void Send(wire::Header h, const std::string& id,
            std::vector<std::string> payload = {}) {
    h.request_id = ++next_id_;
    std::vector<std::string> f = {wire::EncodeHeader(h), id};
    for (auto& p : payload) f.push_back(std::move(p));
    SendFrames(f);
  }
  RawReply Recv() { return RecvRawReply(sock_); }
  RawReply Call(wire::Op op, const std::string& id, std::vector<std::string> payload = {},
                uint16_t flags = 0) {
    wire::Header h;
    h.op = op;
    h.flags = flags;
    return Call(h, id, std::move(payload));
  }
  RawReply Call(wire::Header h, const std::string& id,
                std::vector<std::string> payload = {}) {
    Send(h, id, std::move(payload));
    return Recv();
  }
  uint64_t last_request_id() const { return next_id_; }

 private:
  zmq::context_t ctx_;
  zmq::socket_t sock_;
  uint64_t next_id_ = 0;
};

}  // namespace shovel::test
