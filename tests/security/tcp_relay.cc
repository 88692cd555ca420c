#include "tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
  // Pairs of (accepted, outgoing) descriptors; -1 once closed.
  std::vector<std::pair<int, int>> pairs;
  std::vector<char> buf(1 << 16);
  while (!stop_) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    for (auto& [a, b] : pairs) {
      fds.push_back({a, POLLIN, 0});
      fds.push_back({b, POLLIN, 0});
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
        pairs.emplace_back(in, out);
        connections_.fetch_add(1);
      } else {
        if (in >= 0) close(in);
        close(out);
      }
    }
    for (size_t i = 0; i < pairs.size(); ++i) {
      for (int side = 0; side < 2; ++side) {
        const pollfd& p = fds[1 + 2 * i + side];
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        int from = side == 0 ? pairs[i].first : pairs[i].second;
        int to = side == 0 ? pairs[i].second : pairs[i].first;
        ssize_t n = read(from, buf.data(), buf.size());
        if (n <= 0) {
          close(pairs[i].first);
          close(pairs[i].second);
          pairs[i] = {-1, -1};
          break;
        }
        {
          std::lock_guard<std::mutex> l(mu_);
          captured_.append(buf.data(), n);
        }
        for (ssize_t done = 0; done < n;) {
          ssize_t w = write(to, buf.data() + done, n - done);
          if (w <= 0) break;
          done += w;
        }
      }
    }
    std::erase_if(pairs, [](const std::pair<int, int>& p) { return p.first < 0; });
  }
  for (auto& [a, b] : pairs) {
    close(a);
    close(b);
  }
}

}  // namespace shovel::testing
