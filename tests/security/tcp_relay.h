// Test equipment: a TCP relay on loopback that forwards every connection it
// accepts to one target and keeps a copy of every byte it moved, both ways,
// so a test can check what travelled on the wire (the encryption test).
//
// Thread-safety: Start/Stop from the owner; Captured() from any thread.
// The relay's one thread owns the sockets; the capture is under a mutex.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace shovel::testing {

class TcpRelay {
 public:
  // Listens on 127.0.0.1 (a free port) and forwards to `target_port`.
  explicit TcpRelay(int target_port);
  ~TcpRelay();  // Stop()
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string Captured();  // every byte relayed so far, both directions
  int connections() const { return connections_.load(); }
  void Stop();

 private:
  void Run();
  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::string captured_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace shovel::testing
