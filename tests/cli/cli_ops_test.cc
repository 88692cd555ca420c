// What an operator meets first: failures that are immediate and name their
// cause, --version on every binary, global flags after the command.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

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

// stats and top against three workers.
class CliStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = testing::Cluster::Start(3, "64MiB");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::make_unique<testing::Cluster>(std::move(*c));
    workers_ = cluster_->joined();
  }
  CtlRun Run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--workers", workers_});
    return Ctl(args, input);
  }
  std::unique_ptr<testing::Cluster> cluster_;
  std::string workers_;
};

TEST_F(CliStatsTest, StatsJsonHasEveryWorkersCounters) {
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(Run({"set", "k" + std::to_string(i), "--value", "0123456789"}).code, 0);
  }
  ASSERT_EQ(Run({"get", "k3"}).out, "0123456789");
  EXPECT_EQ(Run({"get", "absent"}).code, 1);
  CtlRun r = Run({"stats", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_EQ(j["workers"].size(), 3u) << r.out;
  uint64_t sets = 0, hits = 0, misses = 0, ids = 0, bytes_in = 0;
  for (auto& w : j["workers"]) {
    EXPECT_TRUE(w["healthy"].get<bool>());
    EXPECT_EQ(w["mem_limit"], 64u << 20);
    for (const char* key :
         {"node_id", "endpoint", "version", "cores", "mem_used", "pinned_bytes", "ids",
          "evictions", "malformed", "counters"}) {
      EXPECT_TRUE(w.contains(key)) << key << " in " << w.dump();
    }
    auto& c = w["counters"];
    sets += c.value("requests.set", 0u);
    hits += c.value("hits", 0u);
    misses += c.value("misses", 0u);
    bytes_in += c.value("bytes_in", 0u);
    ids += w["ids"].get<uint64_t>();
    EXPECT_TRUE(c.contains("evicted_bytes")) << c.dump();
  }
  EXPECT_EQ(sets, 30u);
  EXPECT_EQ(hits, 1u);
  EXPECT_EQ(misses, 1u);
  EXPECT_EQ(ids, 30u);
  EXPECT_EQ(bytes_in, 300u);
}

TEST_F(CliStatsTest, StatsOfOneNodeAsLines) {
  CtlRun r = Run({"stats", "w2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("# w2\nnode_id:w2\nendpoint:" + cluster_->workers[1]->endpoint() +
                            "\nhealthy:yes\nversion:shoveling ",
                        0),
            0u)
      << r.out;
  for (const char* line :
       {"\nmem_limit:67108864\n", "\nevictions:0\n", "\nhits:", "\nbytes_out:"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " in " << r.out;
  }
  r = Run({"stats", "w9"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "shovelctl: stats: not found: no worker 'w9' (workers: w1, w2, w3)\n");
}

TEST_F(CliStatsTest, TopOnceShowsRatesOfEveryWorker) {
  // Load while top samples: 10 SETs and 10 GETs inside its 2 s window.
  CtlRun top;
  std::thread sampler([&] { top = Run({"top", "--once", "--interval", "2"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Run({"set", "t" + std::to_string(i), "--value", "v"}).code, 0);
    EXPECT_EQ(Run({"get", "t" + std::to_string(i)}).out, "v");
  }
  sampler.join();
  ASSERT_EQ(top.code, 0) << top.err;
  std::vector<std::string> lines;
  for (size_t p = 0, n; p < top.out.size(); p = n + 1) {
    n = top.out.find('\n', p);
    lines.push_back(top.out.substr(p, n - p));
  }
  ASSERT_EQ(lines.size(), 5u) << top.out;  // header, w1..w3, TOTAL
  EXPECT_EQ(lines[0].rfind("NODE ", 0), 0u) << top.out;
  for (const char* col : {"HEALTH", "GET/s", "SET/s", "HIT%", "IN MB/s", "OUT MB/s",
                          "MEMORY", "EVICT/s", "IDS"}) {
    EXPECT_NE(lines[0].find(col), std::string::npos) << col;
  }
  EXPECT_EQ(lines[1].rfind("w1 ", 0), 0u) << top.out;
  EXPECT_EQ(lines[4].rfind("TOTAL ", 0), 0u) << top.out;
  EXPECT_NE(lines[1].find(" ok "), std::string::npos) << top.out;
  EXPECT_NE(lines[1].find("/ 64.0 MiB"), std::string::npos) << top.out;
  // TOTAL: NODE HEALTH GET/s SET/s ...: the SETs and GETs were seen.
  std::istringstream total(lines[4]);
  std::string name, health, get_rate, set_rate;
  total >> name >> health >> get_rate >> set_rate;
  EXPECT_NE(get_rate, "0") << top.out;
  EXPECT_NE(set_rate, "0") << top.out;
  EXPECT_EQ(health, "ok");
  // As JSON: numbers a script can read.
  CtlRun j = Run({"top", "--once", "--json", "--interval", "0.2"});
  ASSERT_EQ(j.code, 0) << j.err;
  auto parsed = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << j.out;
  ASSERT_EQ(parsed["workers"].size(), 4u);
  EXPECT_GT(parsed["interval_s"].get<double>(), 0.15);
  EXPECT_TRUE(parsed["workers"][0]["get_per_s"].is_number());
}

}  // namespace
}  // namespace shovel
