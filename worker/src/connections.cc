#include "connections.h"

#include <sys/resource.h>

#include <algorithm>

namespace shovel::worker {

bool ConnectionTable::Accepted(int fd, int64_t now_ns, std::string addr) {
  Conn& c = conns_[fd];
  if (c.counted) --open_;  // a descriptor we missed the close of
  c.last_active_ns = now_ns;
  c.addr = std::move(addr);
  c.counted = open_ < max_open_;
  if (!c.counted) {
    ++refused_;
    return false;
  }
  ++open_;
  return true;
}

void ConnectionTable::Closed(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  if (it->second.counted) --open_;
  conns_.erase(it);
}

void ConnectionTable::Active(int fd, int64_t now_ns) {
  auto it = conns_.find(fd);
  if (it != conns_.end()) it->second.last_active_ns = now_ns;
}

std::vector<std::pair<int, std::string>> ConnectionTable::Idle(int64_t now_ns) {
  std::vector<std::pair<int, std::string>> out;
  if (idle_ns_ <= 0) return out;
  for (auto& [fd, c] : conns_) {
    if (c.counted && now_ns - c.last_active_ns > idle_ns_) {
      c.counted = false;
      --open_;
      ++idle_closed_;
      out.emplace_back(fd, c.addr);
    }
  }
  return out;
}

uint64_t RaiseNoFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return rl.rlim_cur == RLIM_INFINITY ? (1ull << 20) : rl.rlim_cur;
}

uint64_t NoFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  return rl.rlim_cur == RLIM_INFINITY ? (1ull << 20) : rl.rlim_cur;
}

uint64_t DefaultMaxConnections(uint64_t nofile) {
  uint64_t reserve = 64 + nofile / 32;
  return nofile > reserve + 16 ? nofile - reserve : 16;
}

}  // namespace shovel::worker
