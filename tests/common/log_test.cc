// shovel/log.h: levels, a file destination, and the once-per-interval
// limiter that keeps a dead worker or a failing id to one line a minute.
#include "shovel/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace shovel::log {
namespace {

using Clock = Limiter::Clock;
using std::chrono::seconds;

TEST(LogLevel, ParsesTheWordsAndNamesThemInErrors) {
  EXPECT_EQ(ParseLevel("debug").value(), Level::kDebug);
  EXPECT_EQ(ParseLevel("warning").value(), Level::kWarn);
  EXPECT_EQ(ParseLevel("off").value(), Level::kOff);
  auto bad = ParseLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "log level 'loud' is not one of debug, info, warn, error, off");
  EXPECT_EQ(LevelName(Level::kError), "error");
}

TEST(Limiter, OnceAnIntervalPerKeyWithTheCountHeldBack) {
  Limiter l(seconds(60));
  const auto t = Clock::now();
  EXPECT_EQ(l.Allow("w1", t), 0u);
  EXPECT_FALSE(l.Allow("w1", t + seconds(1)));
  EXPECT_FALSE(l.Allow("w1", t + seconds(59)));
  EXPECT_EQ(l.Allow("w2", t + seconds(2)), 0u);   // another key is its own
  EXPECT_EQ(l.Allow("w1", t + seconds(60)), 2u);  // two held back since
  EXPECT_FALSE(l.Allow("w1", t + seconds(61)));
}

TEST(LogSetup, FileGetsTimestampedLinesAtItsLevelOnly) {
  char dir[] = "/tmp/shovel-log-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/t.log";
  Options o;
  o.program = "log_test";
  o.level = Level::kWarn;
  o.sink = Sink::kFile;
  o.file = path;
  ASSERT_TRUE(log::Setup(o).ok());
  EXPECT_FALSE(WritesToStderr());
  EXPECT_FALSE(Enabled(Level::kInfo));
  Info("not written");
  Warn("written at warn");
  Error("written at error");
  Flush();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  EXPECT_EQ(s.find("not written"), std::string::npos) << s;
  EXPECT_NE(
      s.find(" warning log_test[" + std::to_string(getpid()) + "]: written at warn\n"),
      std::string::npos)
      << s;
  EXPECT_NE(s.find(" error log_test["), std::string::npos) << s;
  EXPECT_EQ(s.substr(4, 1), "-");  // 2026-12-06T...: an ISO-8601 timestamp first
  EXPECT_EQ(s.substr(10, 1), "T");
  // A file that cannot be opened keeps the old destination and says why.
  o.file = path + "/under-a-file.log";
  Status bad = log::Setup(o);
  EXPECT_EQ(bad.code(), Code::kUnavailable);
  EXPECT_NE(bad.message().find("cannot open log file '" + o.file + "'"),
            std::string::npos)
      << bad.ToString();
  o.sink = Sink::kStderr;
  ASSERT_TRUE(log::Setup(o).ok());
  std::remove(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace shovel::log
