// shovel/log.h: levels, a file destination, and the once-per-interval
// limiter that keeps a dead worker or a failing id to one line a minute.
#include "shovel/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

// The log sent to a file in a private folder; the log goes back to stderr
// and the folder is removed after each test, whatever it asserted.
class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(mkdtemp(dir_), nullptr);
    path_ = std::string(dir_) + "/t.log";
    options_.program = "log_test";
    options_.sink = Sink::kFile;
    options_.file = path_;
  }
  void TearDown() override {
    Options back;
    back.program = "log_test";
    EXPECT_TRUE(log::Setup(back).ok());
    std::remove(path_.c_str());
    rmdir(dir_);
  }
  // The file's text after a Flush.
  std::string Text() {
    Flush();
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // What a line at `level` ends with: "<level> log_test[<pid>]: <message>\n".
  static std::string Line(const std::string& level, const std::string& message) {
    return " " + level + " log_test[" + std::to_string(getpid()) + "]: " + message + "\n";
  }

  char dir_[32] = "/tmp/shovel-log-test-XXXXXX";
  std::string path_;
  Options options_;
};

TEST_F(LogFileTest, FileGetsTimestampedLinesAtItsLevelOnly) {
  options_.level = Level::kWarn;
  ASSERT_TRUE(log::Setup(options_).ok());
  EXPECT_FALSE(WritesToStderr());
  EXPECT_FALSE(Enabled(Level::kInfo));
  Info("not written");
  Warn("written at warn");
  Error("written at error");
  const std::string s = Text();
  EXPECT_EQ(s.find("not written"), std::string::npos) << s;
  EXPECT_NE(s.find(Line("warning", "written at warn")), std::string::npos) << s;
  EXPECT_NE(s.find(Line("error", "written at error")), std::string::npos) << s;
  EXPECT_EQ(s.substr(4, 1), "-");  // 2026-12-06T...: an ISO-8601 timestamp first
  EXPECT_EQ(s.substr(10, 1), "T");
  // A file that cannot be opened keeps the old destination and says why.
  options_.file = path_ + "/under-a-file.log";
  Status bad = log::Setup(options_);
  EXPECT_EQ(bad.code(), Code::kUnavailable);
  EXPECT_NE(bad.message().find("cannot open log file '" + options_.file + "'"),
            std::string::npos)
      << bad.ToString();
}

TEST(JournalEntry, MessagePriorityIdentifierThenTheFields) {
  const Fields fixed = {{"SHOVEL_MOUNTPOINT", "/mnt/x"}};
  EXPECT_EQ(JournalEntry(Level::kWarn, "worker w1 is down\n", "shovelfs", fixed, {}),
            (std::vector<std::string>{"MESSAGE=worker w1 is down", "PRIORITY=4",
                                      "SYSLOG_IDENTIFIER=shovelfs",
                                      "SHOVEL_MOUNTPOINT=/mnt/x"}));
  EXPECT_EQ(JournalPriority(Level::kDebug), 7);
  EXPECT_EQ(JournalPriority(Level::kInfo), 6);
  EXPECT_EQ(JournalPriority(Level::kWarn), 4);
  EXPECT_EQ(JournalPriority(Level::kError), 3);
  // A value may hold '=' and newlines: the native protocol carries them.
  EXPECT_EQ(JournalEntry(Level::kError, "a=b\nc", "x", {}, {})[0], "MESSAGE=a=b\nc");
}

TEST(JournalEntry, LineFieldsComeAfterAndReplaceTheFixedOnes) {
  const Fields fixed = {{"SHOVEL_MOUNTPOINT", "/mnt/x"}, {"SHOVEL_NODE", "mount"}};
  const Fields line = {{"SHOVEL_NODE", "host-local"}};
  EXPECT_EQ(
      JournalEntry(Level::kInfo, "m", "shovelfs", fixed, line),
      (std::vector<std::string>{"MESSAGE=m", "PRIORITY=6", "SYSLOG_IDENTIFIER=shovelfs",
                                "SHOVEL_MOUNTPOINT=/mnt/x", "SHOVEL_NODE=host-local"}));
}

TEST(JournalEntry, LeavesOutNamesTheJournalWouldRefuse) {
  // sd_journal_sendv refuses the whole entry for one bad name: drop it.
  const Fields bad = {{"shovel_node", "a"},
                      {"_PID", "1"},
                      {"1X", "b"},
                      {"", "c"},
                      {"A-B", "d"},
                      {"MESSAGE", "e"},
                      {"PRIORITY", "0"},
                      {"GOOD_1", "kept"},
                      {std::string(65, 'A'), "f"}};
  EXPECT_EQ(JournalEntry(Level::kInfo, "m", "id", bad, {}),
            (std::vector<std::string>{"MESSAGE=m", "PRIORITY=6", "SYSLOG_IDENTIFIER=id",
                                      "GOOD_1=kept"}));
}

TEST_F(LogFileTest, LineFieldsLeaveAFileWithTheMessageAlone) {
  ASSERT_TRUE(log::Setup(options_).ok());
  Write(Level::kWarn, "embedded worker: pressure", {{"SHOVEL_NODE", "n1"}});
  const std::string s = Text();
  EXPECT_NE(s.find(Line("warning", "embedded worker: pressure")), std::string::npos) << s;
  EXPECT_EQ(s.find("n1"), std::string::npos) << s;
}

}  // namespace
}  // namespace shovel::log
