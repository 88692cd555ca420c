// shovel_consul Client against a running Consul agent (consul-test-agent, or
// `consul agent -dev` with SHOVEL_TEST_REAL_CONSUL=1): services, TTL checks,
// blocking health queries, watches, restarts and an agent that is away.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "consul/consul_agent_fixture.h"
#include "consul/integration_util.h"
#include "shovel/consul/watch.h"

namespace shovel::consul::testing {
namespace {

ServiceRegistration Worker(const std::string& id, int port, milliseconds ttl,
                           milliseconds deregister_after = milliseconds(0)) {
  ServiceRegistration s;
  s.id = id;
  s.name = "shoveling-test";
  s.port = port;
  s.meta = {{"cores", "4"}};
  s.check = TtlCheck{};
  s.check->ttl = ttl;
  s.check->deregister_critical_after = deregister_after;
  return s;
}

std::optional<HealthEntry> Find(Client& c, const std::string& id, bool passing = false) {
  auto h = c.HealthService("shoveling-test", passing);
  if (!h.ok()) return std::nullopt;
  for (const HealthEntry& e : h->value) {
    if (e.service.id == id) return e;
  }
  return std::nullopt;
}

using ServiceTest = ConsulAgentTest;

TEST_F(ServiceTest, RegisterShowsPassingThenDeregisterRemoves) {
  auto c = ClientFor(0);
  auto self = c->Self();
  ASSERT_TRUE(self.ok()) << self.status().ToString();
  EXPECT_EQ(self->node_name, "node1");

  ASSERT_TRUE(c->RegisterService(Worker("w1", 7001, milliseconds(10000))).ok());
  auto e = Find(*c, "w1", /*passing=*/true);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->node, "node1");
  EXPECT_EQ(e->service.port, 7001);
  EXPECT_EQ(e->service.meta.at("cores"), "4");
  EXPECT_EQ(e->aggregated, CheckStatus::kPassing);
  auto services = c->AgentServices();
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(services->count("w1"), 1u);

  ASSERT_TRUE(c->DeregisterService("w1").ok());
  EXPECT_FALSE(Find(*c, "w1").has_value());
  Status again = c->DeregisterService("w1");
  EXPECT_EQ(again.code(), Code::kNotFound) << again.ToString();
}

TEST_F(ServiceTest, TtlExpiresToCriticalAndRecoversOnPass) {
  auto c = ClientFor(0);
  ASSERT_TRUE(c->RegisterService(Worker("w1", 7001, milliseconds(1000))).ok());
  auto start = Clock::now();
  ASSERT_TRUE(Find(*c, "w1", true).has_value());
  // Heartbeats inside the TTL keep it passing past the first TTL.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(milliseconds(400));
    ASSERT_TRUE(c->PassTtl("service:w1").ok());
  }
  EXPECT_GT(SecondsSince(start), 1.1);
  EXPECT_TRUE(Find(*c, "w1", true).has_value());
  // No more heartbeats: critical after the TTL.
  auto silent = Clock::now();
  ASSERT_TRUE(Eventually(
      [&] {
        auto e = Find(*c, "w1");
        return e && e->aggregated == CheckStatus::kCritical;
      },
      milliseconds(3000)));
  EXPECT_GE(SecondsSince(silent), 0.9);
  EXPECT_FALSE(Find(*c, "w1", /*passing=*/true).has_value());
  EXPECT_TRUE(Find(*c, "w1").has_value());  // still registered

  ASSERT_TRUE(c->UpdateTtlCheck("service:w1", CheckStatus::kPassing, "back").ok());
  auto e = Find(*c, "w1", true);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->checks.back().output, "back");
}

TEST_F(ServiceTest, DeregisterCriticalServiceAfterRemovesTheService) {
  if (agent_->real_consul()) GTEST_SKIP() << "Consul's reaper minimum is one minute";
  auto c = ClientFor(0);
  ASSERT_TRUE(
      c->RegisterService(Worker("w1", 7001, milliseconds(500), milliseconds(1000))).ok());
  ASSERT_TRUE(Eventually(
      [&] {
        auto e = Find(*c, "w1");
        return e && e->aggregated == CheckStatus::kCritical;
      },
      milliseconds(3000)));
  auto critical = Clock::now();
  ASSERT_TRUE(
      Eventually([&] { return !Find(*c, "w1").has_value(); }, milliseconds(4000)));
  EXPECT_GE(SecondsSince(critical), 0.8);
  auto services = c->AgentServices();
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(services->count("w1"), 0u);
}

TEST_F(ServiceTest, BlockingHealthQueryWakesOnChange) {
  auto c = ClientFor(0);
  ASSERT_TRUE(c->RegisterService(Worker("w1", 7001, milliseconds(30000))).ok());
  auto first = c->HealthService("shoveling-test", false);
  ASSERT_TRUE(first.ok());
  std::thread failer([&] {
    std::this_thread::sleep_for(milliseconds(300));
    (void)c->FailTtl("service:w1", "disk on fire");
  });
  auto start = Clock::now();
  auto next = c->HealthService("shoveling-test", false,
                               {.index = first->index, .wait = milliseconds(5000)});
  double took = SecondsSince(start);
  failer.join();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(next->index, first->index);
  EXPECT_GE(took, 0.25);
  EXPECT_LT(took, 2.0);
  ASSERT_EQ(next->value.size(), 1u);
  EXPECT_EQ(next->value[0].aggregated, CheckStatus::kCritical);
}

class TwoNodeTest : public ConsulAgentTest {
 protected:
  TestAgentOptions AgentOptions() const override {
    TestAgentOptions o;
    o.nodes = {"n1", "n2"};
    return o;
  }
};

TEST_F(TwoNodeTest, ServicesBelongToTheAgentNodeTheyRegisteredOn) {
  auto c1 = ClientFor(0);
  auto c2 = ClientFor(1);
  ASSERT_TRUE(c1->RegisterService(Worker("w1", 7001, milliseconds(10000))).ok());
  ASSERT_TRUE(c2->RegisterService(Worker("w2", 7002, milliseconds(10000))).ok());
  EXPECT_EQ(c2->Self()->node_name, "n2");
  auto h = c1->HealthService("shoveling-test", true);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->value.size(), 2u);
  EXPECT_EQ(h->value[0].node, "n1");
  EXPECT_EQ(h->value[1].node, "n2");
  auto on2 = c2->AgentServices();
  ASSERT_TRUE(on2.ok());
  EXPECT_EQ(on2->count("w1"), 0u);
  EXPECT_EQ(on2->count("w2"), 1u);
  // A check id is per agent: n1 does not know w2's check.
  EXPECT_EQ(c1->PassTtl("service:w2").code(), Code::kNotFound);
}

TEST_F(TwoNodeTest, WatchFollowsHealthAndStopsPromptly) {
  auto c = ClientFor(0);
  std::mutex mu;
  std::vector<std::vector<HealthEntry>> seen;
  std::function<Result<Indexed<std::vector<HealthEntry>>>(const QueryOptions&)> read =
      [&](const QueryOptions& q) { return c->HealthService("shoveling-test", false, q); };
  auto watch = MakeWatch<std::vector<HealthEntry>>(
      read,
      [&](const std::vector<HealthEntry>& v, uint64_t) {
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(v);
      },
      nullptr,
      WatchOptions{.wait = milliseconds(30000), .min_interval = milliseconds(10)});
  watch->Start();
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  };
  ASSERT_TRUE(Eventually([&] { return count() >= 1; }, milliseconds(3000)));
  ASSERT_TRUE(c->RegisterService(Worker("w1", 7001, milliseconds(10000))).ok());
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return !seen.back().empty() && seen.back()[0].aggregated == CheckStatus::kPassing;
      },
      milliseconds(3000)));
  ASSERT_TRUE(c->FailTtl("service:w1").ok());
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return !seen.back().empty() &&
               seen.back()[0].aggregated == CheckStatus::kCritical;
      },
      milliseconds(3000)));
  std::this_thread::sleep_for(milliseconds(200));  // now blocked in a 30 s query
  auto before = Clock::now();
  watch->Stop();
  EXPECT_LT(SecondsSince(before), 0.5);
}

TEST_F(ServiceTest, AgentRestartGivesUnavailableThenRecovers) {
  auto c = ClientFor(0, milliseconds(2000));
  ASSERT_TRUE(c->RegisterService(Worker("w1", 7001, milliseconds(10000))).ok());
  ASSERT_TRUE(agent_->Stop().ok());
  auto away = c->Self();
  ASSERT_FALSE(away.ok());
  EXPECT_EQ(away.status().code(), Code::kUnavailable) << away.status().ToString();
  EXPECT_NE(away.status().message().find(agent_->node(0).address), std::string::npos);

  ASSERT_TRUE(agent_->Restart().ok());
  auto back = c->Self();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  // A restarted dev agent has forgotten the service: it must be re-registered.
  EXPECT_FALSE(Find(*c, "w1").has_value());
  ASSERT_TRUE(c->RegisterService(Worker("w1", 7001, milliseconds(10000))).ok());
  EXPECT_TRUE(Find(*c, "w1", true).has_value());
}

TEST(AgentAwayTest, ClosedPortIsUnavailableQuickly) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);  // nothing listens on this port now
  Config config;
  config.address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  config.timeout = milliseconds(2000);
  auto c = Client::Create(config);
  ASSERT_TRUE(c.ok());
  auto start = Clock::now();
  auto r = (*c)->KvGet("x");
  EXPECT_LT(SecondsSince(start), 1.0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("GET http://" + config.address + "/v1/kv/x"),
            std::string::npos)
      << r.status().ToString();
}

TEST(AgentAwayTest, SilentAgentTimesOutAtTheDeadline) {
  // Listens but never answers: connect succeeds, the response never comes.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Config config;
  config.address = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  config.timeout = milliseconds(700);
  auto c = Client::Create(config);
  ASSERT_TRUE(c.ok());
  auto start = Clock::now();
  auto r = (*c)->Self();
  double took = SecondsSince(start);
  close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTimeout) << r.status().ToString();
  EXPECT_NE(r.status().message().find("/v1/agent/self"), std::string::npos);
  EXPECT_GE(took, 0.6);
  EXPECT_LT(took, 2.0);
}

class UnixSocketTest : public ConsulAgentTest {
 protected:
  TestAgentOptions AgentOptions() const override {
    TestAgentOptions o;
    o.unix_sockets = true;
    return o;
  }
};

TEST_F(UnixSocketTest, ClientTalksOverUnixSocket) {
  ASSERT_TRUE(agent_->node(0).address.starts_with("unix:///"));
  auto c = ClientFor(0);
  ASSERT_TRUE(c->RegisterService(Worker("w1", 7001, milliseconds(10000))).ok());
  EXPECT_TRUE(Find(*c, "w1", true).has_value());
  EXPECT_EQ(c->Self()->node_name, "node1");
}

class TokenTest : public ConsulAgentTest {
 protected:
  TestAgentOptions AgentOptions() const override {
    TestAgentOptions o;
    o.acl_token = "t0k3n";
    o.allow_real_consul = false;  // a dev agent has ACLs off
    return o;
  }
};

TEST_F(TokenTest, TokenHeaderIsSentAndRequired) {
  auto with = ClientFor(0);
  ASSERT_TRUE(with->KvPut("k", "v").ok());
  Config config = agent_->ConfigFor(0);
  config.token.clear();
  auto without = Client::Create(config);
  ASSERT_TRUE(without.ok());
  auto refused = (*without)->KvGet("k");
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("HTTP 403"), std::string::npos);
}

}  // namespace
}  // namespace shovel::consul::testing
