// Small helpers shared by the benchmark programs: child processes started and
// ended by pid, free loopback ports, data generators, medians and a table
// printer. Not thread-safe unless noted; benchmarks call them from main.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace shovel::bench {

// A child process started with execvp; Stop() sends SIGTERM, waits up to 5 s,
// then SIGKILL. The destructor calls Stop().
class Child {
 public:
  Child() = default;
  explicit Child(const std::vector<std::string>& argv, bool quiet = true);
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  ~Child() { Stop(); }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void Stop();

 private:
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();
// Waits until 127.0.0.1:port accepts connections (false after timeout_ms).
bool WaitForPort(int port, int timeout_ms);
// Waits until `path` exists and is non-empty; returns its first line.
std::string WaitForFile(const std::string& path, int timeout_ms);
// Runs a shell command and returns its stdout ("" and ok=false on failure).
std::string RunCapture(const std::string& cmd, bool* ok);
bool HaveProgram(const std::string& name);

// Incompressible bytes (a fast PRNG) or text-like bytes (words with spaces).
std::string RandomBytes(size_t n, uint64_t seed);
std::string TextBytes(size_t n, uint64_t seed);

double Median(std::vector<double> v);
double NowSeconds();
// A progress line on stderr when it is a terminal ("\r" updated).
void Progress(const std::string& line);

struct Row {
  std::string test;
  std::string system;
  double value = 0;  // median
  std::string unit;  // "ops/s", "GB/s"
  std::string note;  // e.g. "50 in flight"
};
// Prints rows as an aligned table, or as JSON. Each row gets a ratio to the
// first system of `baselines` that has a row in the same test.
void PrintTable(const std::vector<Row>& rows, const std::vector<std::string>& baselines,
                bool json);

}  // namespace shovel::bench
