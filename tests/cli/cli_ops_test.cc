// What an operator meets first: failures that are immediate and name their
// cause, --version on every binary, global flags after the command.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "ctl_run.h"
#include "worker_fixture.h"

namespace shovel {
namespace {

using Clock = std::chrono::steady_clock;

TEST(CliFailFast, RefusedConnectionIsReportedAtOnce) {
  auto start = Clock::now();
  CtlRun r = Ctl({"--workers", "tcp://127.0.0.1:1", "get", "x"});
  auto took = Clock::now() - start;
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "shovelctl: get 'x': unavailable: worker tcp://127.0.0.1:1: connection "
            "refused (is shovel-worker running and listening on port 1?)\n");
  // Not the 5.5 s of the default deadline.
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  r = Ctl({"--workers", "tcp://127.0.0.1:1,tcp://127.0.0.1:2", "members"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("shovelctl: members: unavailable: worker tcp://127.0.0.1:1: "
                        "connection refused",
                        0),
            0u)
      << r.err;
}

TEST(CliFailFast, UnresolvableHostIsReportedAtOnce) {
  auto start = Clock::now();
  CtlRun r = Ctl({"--workers", "tcp://no-such-host.invalid:7070", "members"});
  auto took = Clock::now() - start;
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("shovelctl: members: invalid argument: worker "
                        "tcp://no-such-host.invalid:7070: cannot resolve host "
                        "'no-such-host.invalid' (",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(took, std::chrono::milliseconds(3000));
}

TEST(CliFailFast, OneDeadWorkerOfSeveralIsRoutedAround) {
  auto w = testing::WorkerProcess::Start("alive");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  CtlRun r =
      Ctl({"--workers", (*w)->endpoint() + ",tcp://127.0.0.1:1", "--json", "members"});
  // members reports the dead one and exits 0 while one answers.
  EXPECT_NE(r.out.find("alive"), std::string::npos) << r.out << r.err;
}

// Runs `bin --version` and returns its stdout; the exit code must be 0.
std::string VersionOf(const std::string& bin) {
  std::string cmd = bin + " --version";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : "exit " + out;
}

TEST(CliVersion, EveryBinaryPrintsItsVersion) {
  EXPECT_EQ(VersionOf(SHOVELCTL_BIN), "shovelctl " SHOVEL_TEST_VERSION "\n");
  EXPECT_EQ(VersionOf(SHOVEL_WORKER_BIN), "shovel-worker " SHOVEL_TEST_VERSION "\n");
}

class CliFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::WorkerProcess::Start("flags");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    worker_ = std::move(*w);
  }
  std::unique_ptr<testing::WorkerProcess> worker_;
};

TEST_F(CliFlagsTest, GlobalFlagsAfterTheCommand) {
  const std::string ep = worker_->endpoint();
  CtlRun before = Ctl({"--workers", ep, "--json", "members"});
  CtlRun after = Ctl({"members", "--json", "--workers", ep});
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(before.code, 0) << before.err;
  auto j = nlohmann::json::parse(after.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << after.out;
  EXPECT_EQ(after.out, before.out);
  ASSERT_EQ(Ctl({"set", "k", "--value", "v", "--workers", ep}).code, 0);
  CtlRun get = Ctl({"get", "k", "--workers", ep, "--deadline", "2000"});
  EXPECT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out, "v");
  // An option no command and no global knows is still a usage error.
  CtlRun bad = Ctl({"members", "--frob"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--frob"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace shovel
