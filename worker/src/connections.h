// ConnectionTable: the TCP connections a worker's ROUTER has accepted, by
// socket descriptor, as ZeroMQ's socket monitor reports them, and which to
// close: those past --max-connections (at once: ZeroMQ has already accepted
// them, it offers no limit of its own) and those idle past --idle-timeout.
//
// A refused connection is closed by the server (shutdown(2); ZeroMQ then
// ends it), counted, and not counted as open; a client that reconnects is
// refused again each time, so nothing loops and the connected clients keep
// their slots.
//
// Thread-compatible: owned by the server's I/O thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace shovel::worker {

class ConnectionTable {
 public:
  // `max_open` connections at most; `idle_ns` <= 0: never idle.
  ConnectionTable(uint64_t max_open, int64_t idle_ns)
      : max_open_(max_open), idle_ns_(idle_ns) {}

  // A connection was accepted on `fd`; false when it is one too many (the
  // caller closes it; it is counted in refused()).
  // `addr` identifies the connection (its peer address) for Idle().
  bool Accepted(int fd, int64_t now_ns, std::string addr = {});
  // The connection on `fd` ended (refused or not).
  void Closed(int fd);
  // A request arrived on `fd`.
  void Active(int fd, int64_t now_ns);
  // Open connections idle for more than idle_ns: each is returned once (it
  // is then counted as closing, not open).
  std::vector<std::pair<int, std::string>> Idle(int64_t now_ns);

  uint64_t open() const { return open_; }
  uint64_t refused() const { return refused_; }
  uint64_t idle_closed() const { return idle_closed_; }
  uint64_t max_open() const { return max_open_; }

 private:
  struct Conn {
    int64_t last_active_ns = 0;
    bool counted = false;  // in open_ (neither refused nor closing)
    std::string addr;
  };
  const uint64_t max_open_;
  const int64_t idle_ns_;
  std::unordered_map<int, Conn> conns_;
  uint64_t open_ = 0, refused_ = 0, idle_closed_ = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (as redis-server does) and
// returns the soft limit in force afterwards.
uint64_t RaiseNoFileLimit();
// The soft RLIMIT_NOFILE in force.
uint64_t NoFileLimit();
// --max-connections when not given: what `nofile` descriptors leave after
// the worker's own (listening socket, ZeroMQ's pipes and pollers, Consul,
// connections to peers): nofile - 64 - nofile/32, at least 16.
uint64_t DefaultMaxConnections(uint64_t nofile);

}  // namespace shovel::worker
