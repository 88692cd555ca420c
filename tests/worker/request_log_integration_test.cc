// Integration: a real shovel-worker's log of failed requests, as an
// operator reads it with --log-level warn --log-file F: malformed requests
// show as warnings, no info line is written, and a flood of them stays a few
// lines a second.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "worker_process.h"

namespace shovel::test {
namespace {

// The log file's lines.
std::vector<std::string> Lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

size_t Count(const std::vector<std::string>& lines, const std::string& needle) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(needle) != std::string::npos;
  return n;
}

std::string Join(const std::vector<std::string>& lines) {
  std::ostringstream s;
  for (const auto& l : lines) s << l << "\n";
  return s.str();
}

class RequestLogIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/shovel-reqlog-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    log_ = dir_ + "/worker.log";
    w_ = std::make_unique<WorkerProcess>(
        std::vector<std::string>{"--log-level", "warn", "--log-file", log_});
    ASSERT_FALSE(w_->endpoint().empty()) << "worker did not start";
  }
  void TearDown() override {
    w_.reset();
    std::remove(log_.c_str());
    rmdir(dir_.c_str());
  }
  // Sends `n` requests with a bad magic, then a PING, and waits for the
  // PING's reply (replies come back in order on one connection).
  void SendGarbage(int n) {
    RawClient raw(w_->endpoint());
    for (int i = 0; i < n; ++i) raw.SendFrames({std::string(48, '\0'), "id"});
    raw.Send(wire::Header{}, "");
    for (int i = 0; i < n + 1; ++i) {
      auto r = raw.Recv();
      if (!r.ok || (r.header.status == Code::kOk &&
                    r.header.request_id == raw.last_request_id())) {
        break;
      }
    }
  }
  std::string dir_, log_;
  std::unique_ptr<WorkerProcess> w_;
};

TEST_F(RequestLogIntegration, MalformedIsAWarningAndNoInfoLineIsWritten) {
  SendGarbage(1);
  auto lines = Lines(log_);
  EXPECT_EQ(Count(lines, " warning shovel-worker["), 1u) << Join(lines);
  EXPECT_EQ(Count(lines, "malformed request failed: "), 1u) << Join(lines);
  EXPECT_EQ(Count(lines, " info "), 0u) << Join(lines);
}

TEST_F(RequestLogIntegration, AFloodStaysAFewLinesASecondAndSaysWhatItSuppressed) {
  const auto start = std::chrono::steady_clock::now();
  SendGarbage(5000);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto lines = Lines(log_);
  // 5 lines a second per kind: the flood's seconds, and the one it began in.
  const size_t bound = 5 * (static_cast<size_t>(secs) + 2);
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), bound) << secs << " s\n" << Join(lines);
  // Once its second has passed, the worker says how many were held back,
  // with no further request (checked every second), once.
  size_t reported = 0;
  for (int i = 0; i < 30 && reported == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reported = Count(Lines(log_), " similar malformed requests suppressed");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  lines = Lines(log_);
  EXPECT_EQ(Count(lines, " similar malformed requests suppressed"), 1u) << Join(lines);
  // The next malformed request is written with nothing left to report.
  const size_t carried = Count(lines, " similar suppressed");
  SendGarbage(1);
  lines = Lines(log_);
  EXPECT_EQ(Count(lines, " similar suppressed"), carried) << Join(lines);
}

}  // namespace
}  // namespace shovel::test
