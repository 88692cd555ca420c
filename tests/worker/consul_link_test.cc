// ConsulAgentLink against the Consul test agent: registration, heartbeat,
// live config (layers, bad values), peers, agent restart, agent away.
#include <gtest/gtest.h>

#include <mutex>

#include "consul/consul_agent_fixture.h"
#include "consul/integration_util.h"
#include "shovel/worker/consul_agent_link.h"

namespace shovel::worker {
namespace {

using consul::testing::Eventually;
using std::chrono::milliseconds;

class ConsulLinkTest : public consul::testing::ConsulAgentTest {
 protected:
  void SetUp() override {
    ConsulAgentTest::SetUp();
    client_ = std::shared_ptr<consul::Client>(ClientFor(0, milliseconds(1000)));
  }
  void TearDown() override {
    link_.reset();
    ConsulAgentTest::TearDown();
  }
  ConsulLinkOptions Options(const std::string& node_id) {
    ConsulLinkOptions o;
    o.node_id = node_id;
    o.advertise_host = "127.0.0.1";
    o.port = 7070;
    o.endpoint = "tcp://127.0.0.1:7070";
    o.cores = 4;
    o.version = "test";
    o.ttl = milliseconds(1000);
    o.retry_max = milliseconds(300);
    o.watch_wait = milliseconds(2000);
    return o;
  }
  void StartLink(ConsulLinkOptions o) {
    auto l = ConsulAgentLink::Start(
        client_, std::move(o),
        [this](const WorkerConfig& c) {
          std::lock_guard<std::mutex> g(mu_);
          applied_.push_back(c);
        },
        [this](log::Level, const std::string& line) {
          std::lock_guard<std::mutex> g(mu_);
          log_ += line + "\n";
        });
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    link_ = std::move(*l);
  }
  std::vector<consul::HealthEntry> Health(bool passing) {
    auto h = client_->HealthService("shoveling", passing);
    return h.ok() ? h->value : std::vector<consul::HealthEntry>{};
  }
  std::optional<WorkerConfig> LastApplied() {
    std::lock_guard<std::mutex> g(mu_);
    if (applied_.empty()) return std::nullopt;
    return applied_.back();
  }
  std::string Log() {
    std::lock_guard<std::mutex> g(mu_);
    return log_;
  }
  size_t Count(const std::string& needle) {
    std::string log = Log();
    size_t n = 0;
    for (size_t p = log.find(needle); p != std::string::npos;
         p = log.find(needle, p + 1)) {
      ++n;
    }
    return n;
  }

  std::shared_ptr<consul::Client> client_;
  std::unique_ptr<ConsulAgentLink> link_;
  std::mutex mu_;
  std::vector<WorkerConfig> applied_;
  std::string log_;
};

// Prometheus's consul_sd finds a worker's metrics by this Meta key.
TEST_F(ConsulLinkTest, AdvertisesTheMetricsPortOnlyWhenThereIsOne) {
  ConsulLinkOptions o = Options("w1");
  o.metrics_port = 9464;
  StartLink(o);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 1; }, milliseconds(3000)));
  EXPECT_EQ(Health(true)[0].service.meta["metrics_port"], "9464");
  link_->Stop(/*deregister=*/true);
  link_.reset();
  ASSERT_TRUE(Eventually([&] { return Health(false).empty(); }, milliseconds(3000)));
  StartLink(Options("w2"));
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 1; }, milliseconds(3000)));
  EXPECT_EQ(Health(true)[0].service.meta.count("metrics_port"), 0u);
}

TEST_F(ConsulLinkTest, RegistersWithMetaAndStaysPassing) {
  StartLink(Options("w1"));
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 1; }, milliseconds(3000)));
  auto e = Health(true)[0];
  EXPECT_EQ(e.service.id, "shoveling-w1");
  EXPECT_EQ(e.service.address, "127.0.0.1");
  EXPECT_EQ(e.service.port, 7070);
  EXPECT_EQ(e.service.meta["node_id"], "w1");
  EXPECT_EQ(e.service.meta["cores"], "4");
  EXPECT_EQ(e.service.meta["max_memory"], std::to_string(1ull << 30));
  EXPECT_EQ(e.service.meta["version"], "test");
  EXPECT_EQ(e.service.meta["endpoint"], "tcp://127.0.0.1:7070");
  // Three TTLs later it is still passing: the heartbeat works.
  std::this_thread::sleep_for(milliseconds(3000));
  EXPECT_EQ(Health(true).size(), 1u);
  ASSERT_TRUE(Eventually([&] { return link_->Peers().size() == 1; }, milliseconds(2000)));
  EXPECT_EQ(link_->Peers()[0].node_id, "w1");
  EXPECT_EQ(link_->Peers()[0].consul_node, "node1");
  link_->Stop(/*deregister=*/true);
  EXPECT_TRUE(Health(false).empty());
  EXPECT_NE(Log().find("deregistered shoveling-w1"), std::string::npos) << Log();
}

TEST_F(ConsulLinkTest, LiveConfigLayersAndBadValues) {
  StartLink(Options("w1"));
  ASSERT_TRUE(client_->KvPut("shoveling/config/max-memory", "64MiB").ok());
  ASSERT_TRUE(client_->KvPut("shoveling/config/compression-level", "5").ok());
  ASSERT_TRUE(Eventually(
      [&] {
        auto c = LastApplied();
        return c && c->max_memory == (64ull << 20) && c->compression_level == 5;
      },
      milliseconds(3000)));
  // The per-node key wins over the cluster-wide one; other nodes' keys do not count.
  ASSERT_TRUE(client_->KvPut("shoveling/nodes/w1/config/compression-level", "0").ok());
  ASSERT_TRUE(client_->KvPut("shoveling/nodes/w2/config/max-memory", "2MiB").ok());
  ASSERT_TRUE(Eventually([&] { return LastApplied()->compression_level == 0; },
                         milliseconds(3000)));
  EXPECT_EQ(LastApplied()->max_memory, 64ull << 20);
  // Meta follows the live limit.
  ASSERT_TRUE(Eventually(
      [&] {
        auto h = Health(false);
        return h.size() == 1 && h[0].service.meta["max_memory"] == "67108864";
      },
      milliseconds(3000)));
  // A bad value is logged with its key and ignored; the last good one stays.
  ASSERT_TRUE(client_->KvPut("shoveling/config/max-memory", "lots").ok());
  ASSERT_TRUE(Eventually(
      [&] {
        return Log().find("ignoring shoveling/config/max-memory = 'lots'") !=
               std::string::npos;
      },
      milliseconds(3000)))
      << Log();
  EXPECT_EQ(link_->config().max_memory, 64ull << 20);
  // Removing the node key falls back to the cluster value.
  ASSERT_TRUE(client_->KvDelete("shoveling/nodes/w1/config/compression-level").ok());
  ASSERT_TRUE(Eventually([&] { return LastApplied()->compression_level == 5; },
                         milliseconds(3000)));
}

TEST_F(ConsulLinkTest, RegistersAgainAfterAgentRestart) {
  StartLink(Options("w1"));
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 1; }, milliseconds(3000)));
  ASSERT_TRUE(agent_->Restart().ok());
  // The restarted agent knows nothing; the next heartbeat finds out.
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 1; }, milliseconds(5000)))
      << Log();
  EXPECT_EQ(Health(true)[0].service.id, "shoveling-w1");
}

TEST_F(ConsulLinkTest, AgentAwayAtStartIsLoggedOnceThenRegisters) {
  ASSERT_TRUE(agent_->Stop().ok());
  StartLink(Options("w1"));
  std::this_thread::sleep_for(milliseconds(1500));  // several retries
  EXPECT_FALSE(link_->registered());
  EXPECT_EQ(Count("the worker keeps serving and retries with backoff"), 1u) << Log();
  ASSERT_TRUE(agent_->Restart().ok());
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 1; }, milliseconds(5000)))
      << Log();
  EXPECT_TRUE(link_->registered());
  EXPECT_EQ(Count("consul: agent "), 1u) << Log();  // "... answers again"
}

TEST(ConsulLinkOptionsTest, RejectsUnworkableOptions) {
  auto client = std::make_shared<consul::Client>(consul::Config{}, nullptr);
  ConsulLinkOptions o;
  o.node_id = "w1";
  o.port = 0;
  EXPECT_EQ(ConsulAgentLink::Start(client, o, {}, {}).status().code(),
            Code::kInvalidArgument);
  o.port = 1;
  o.ttl = milliseconds(1000);
  o.heartbeat = milliseconds(1000);
  EXPECT_EQ(ConsulAgentLink::Start(client, o, {}, {}).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace shovel::worker
