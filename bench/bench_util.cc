#include "bench_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

namespace shovel::bench {

Child::Child(const std::vector<std::string>& argv, bool quiet) {
  pid_ = fork();
  if (pid_ == 0) {
    if (quiet) {
      int fd = open("/dev/null", O_WRONLY);
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "bench: cannot start %s\n", args[0]);
    _exit(127);
  }
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    Stop();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

void Child::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

bool WaitForPort(int port, int timeout_ms) {
  double end = NowSeconds() + timeout_ms / 1000.0;
  while (NowSeconds() < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string WaitForFile(const std::string& path, int timeout_ms) {
  double end = NowSeconds() + timeout_ms / 1000.0;
  while (NowSeconds() < end) {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) return line;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

std::string RunCapture(const std::string& cmd, bool* ok) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    *ok = false;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *ok = pclose(p) == 0;
  return out;
}

bool HaveProgram(const std::string& name) {
  bool ok;
  RunCapture("command -v " + name + " >/dev/null 2>&1", &ok);
  return ok;
}

namespace {
uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

std::string RandomBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = SplitMix(seed);
    std::copy_n(reinterpret_cast<const char*>(&v), 8, s.data() + i);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(SplitMix(seed));
  return s;
}

std::string TextBytes(size_t n, uint64_t seed) {
  static const char* kWords[] = {"the", "cache", "worker", "shovel", "memory", "blob",
                                 "of",  "and",   "zstd",   "chunk",  "node",   "data",
                                 "a",   "to",    "in",     "is",     "fast",   "sort"};
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    uint64_t r = SplitMix(seed);
    s += kWords[r % 18];
    s += (r >> 32) % 13 == 0 ? '\n' : ' ';
  }
  s.resize(n);
  return s;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double NowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Progress(const std::string& line) {
  if (!isatty(2)) return;
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  if (line.empty()) std::fprintf(stderr, "\r");
  std::fflush(stderr);
}

namespace {
std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}
}  // namespace

void PrintTable(const std::vector<Row>& rows, const std::vector<std::string>& baselines,
                bool json) {
  // test -> (baseline system, value)
  std::map<std::string, std::pair<std::string, double>> base;
  for (const auto& name : baselines) {
    for (const auto& r : rows) {
      if (r.system == name && !base.count(r.test)) base[r.test] = {name, r.value};
    }
  }
  auto ratio = [&](const Row& r, std::string* against) {
    auto it = base.find(r.test);
    if (it == base.end() || it->second.second <= 0) return -1.0;
    *against = it->second.first;
    return r.value / it->second.second;
  };
  if (json) {
    std::printf("[\n");
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::string against;
      double q = ratio(r, &against);
      std::printf(
          "  {\"test\": \"%s\", \"system\": \"%s\", \"median\": %.6g, "
          "\"unit\": \"%s\", \"ratio\": %s, \"ratio_to\": \"%s\", "
          "\"note\": \"%s\"}%s\n",
          JsonEscape(r.test).c_str(), JsonEscape(r.system).c_str(), r.value,
          r.unit.c_str(), q >= 0 ? std::to_string(q).c_str() : "null", against.c_str(),
          JsonEscape(r.note).c_str(), i + 1 < rows.size() ? "," : "");
    }
    std::printf("]\n");
    return;
  }
  std::printf("%-26s %-19s %12s %-6s %-16s  %s\n", "test", "system", "median", "unit",
              "ratio", "note");
  std::string last;
  for (const auto& r : rows) {
    if (!last.empty() && r.test != last) std::printf("\n");
    last = r.test;
    std::string against;
    double q = ratio(r, &against);
    char rs[64] = "-";
    if (q >= 0) std::snprintf(rs, sizeof rs, "%.2fx %s", q, against.c_str());
    std::printf("%-26s %-19s %12.4g %-6s %-16s  %s\n", r.test.c_str(), r.system.c_str(),
                r.value, r.unit.c_str(), rs, r.note.c_str());
  }
}

}  // namespace shovel::bench
