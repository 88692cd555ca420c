// Test equipment: samples a process's resident memory (VmRSS in
// /proc/PID/status) every 100 ms on a thread of its own, keeping the peak,
// and the bound docs/cache.md promises: 1.25x --max-memory + 64 MiB.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

namespace shovel::test {

// VmRSS of `pid` in bytes; 0 when it cannot be read (the process ended).
inline uint64_t RssBytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// The resident memory a worker with `max_memory` may use.
inline uint64_t RssBound(uint64_t max_memory) {
  return max_memory * 5 / 4 + (64ull << 20);
}

class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { Loop(); }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  uint64_t peak() const { return peak_.load(); }
  uint64_t last() const { return last_.load(); }

 private:
  void Loop() {
    while (!stop_) {
      uint64_t rss = RssBytes(pid_);
      last_ = rss;
      if (rss > peak_) peak_ = rss;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_{0}, last_{0};
  std::thread thread_;
};

// How many of `pid`'s descriptors are sockets (its listening socket and
// each TCP connection: ZeroMQ's inproc pipes use none).
inline int SocketCount(pid_t pid) {
  int n = 0;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string().rfind("socket:", 0) == 0) ++n;
  }
  return n;
}

// CPU seconds (user + system) `pid` has used so far.
inline double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

inline double MiB(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace shovel::test
