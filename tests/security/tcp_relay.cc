#include "tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace shovel::testing {

TcpRelay::TcpRelay(int target_port) : target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    return;
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { Run(); });
}

TcpRelay::~TcpRelay() { Stop(); }

void TcpRelay::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

std::string TcpRelay::Captured() {
  std::lock_guard<std::mutex> l(mu_);
  return captured_;
}

void TcpRelay::Run() {
  // A connection pair: descriptors (-1 once closed) and, per direction,
  // bytes read and not yet written on (the destination was full). Every
  // descriptor is non-blocking: a destination that does not read never
  // blocks the relay (which then stops reading that direction's source
  // until it drains), so the relay always sees stop_.
  struct Pair {
    int fd[2];
    std::string pending[2];  // pending[s]: read from fd[s], for fd[1 - s]
  };
  constexpr size_t kMaxPending = 8 << 20;
  std::vector<Pair> pairs;
  std::vector<char> buf(1 << 16);
  auto nonblocking = [](int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); };
  while (!stop_) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    for (auto& p : pairs) {
      for (int s = 0; s < 2; ++s) {
        short ev = 0;
        if (p.pending[s].size() < kMaxPending) ev |= POLLIN;  // read fd[s]
        if (!p.pending[1 - s].empty()) ev |= POLLOUT;         // write fd[s]
        fds.push_back({p.fd[s], ev, 0});
      }
    }
    if (poll(fds.data(), fds.size(), 50) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int in = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      int out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in t{};
      t.sin_family = AF_INET;
      t.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      t.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (in >= 0 && connect(out, reinterpret_cast<sockaddr*>(&t), sizeof t) == 0) {
        nonblocking(in);
        nonblocking(out);
        pairs.push_back(Pair{{in, out}, {}});
        connections_.fetch_add(1);
      } else {
        if (in >= 0) close(in);
        close(out);
      }
    }
    for (size_t i = 0; i < pairs.size() && 1 + 2 * i + 1 < fds.size(); ++i) {
      Pair& p = pairs[i];
      bool closed = false;
      for (int s = 0; s < 2 && !closed; ++s) {
        const pollfd& pf = fds[1 + 2 * i + s];
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
          ssize_t n = read(p.fd[s], buf.data(), buf.size());
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            closed = true;
            break;
          }
          if (n > 0) {
            std::lock_guard<std::mutex> l(mu_);
            captured_.append(buf.data(), n);
            p.pending[s].append(buf.data(), n);
          }
        }
      }
      for (int s = 0; s < 2 && !closed; ++s) {
        std::string& out = p.pending[s];
        while (!out.empty()) {
          ssize_t w = write(p.fd[1 - s], out.data(), out.size());
          if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
          if (w <= 0) {
            closed = true;
            break;
          }
          out.erase(0, static_cast<size_t>(w));
        }
      }
      if (closed) {
        close(p.fd[0]);
        close(p.fd[1]);
        p.fd[0] = p.fd[1] = -1;
      }
    }
    std::erase_if(pairs, [](const Pair& p) { return p.fd[0] < 0; });
  }
  for (auto& p : pairs) {
    close(p.fd[0]);
    close(p.fd[1]);
  }
}

}  // namespace shovel::testing
