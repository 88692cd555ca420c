// shovel_consul Client against a running Consul agent: KV (CAS, flags, keys,
// blocking), sessions and locks, network coordinates.
#include <atomic>
#include <thread>

#include "consul/consul_agent_fixture.h"
#include "consul/integration_util.h"

namespace shovel::consul::testing {
namespace {

using KvTest = ConsulAgentTest;

TEST_F(KvTest, CasConflictKeepsTheWinner) {
  auto c = ClientFor(0);
  EXPECT_TRUE(*c->KvPut("cfg/max-memory", "1GiB", {.cas = 0}));   // create
  EXPECT_FALSE(*c->KvPut("cfg/max-memory", "2GiB", {.cas = 0}));  // exists
  auto got = c->KvGet("cfg/max-memory");
  ASSERT_TRUE(got.ok() && got->value.has_value());
  uint64_t seen = got->value->modify_index;
  EXPECT_EQ(got->value->value, "1GiB");
  EXPECT_TRUE(*c->KvPut("cfg/max-memory", "3GiB", {.cas = seen}));   // writer A wins
  EXPECT_FALSE(*c->KvPut("cfg/max-memory", "4GiB", {.cas = seen}));  // writer B is stale
  auto after = c->KvGet("cfg/max-memory");
  EXPECT_EQ(after->value->value, "3GiB");
  EXPECT_GT(after->value->modify_index, seen);
  EXPECT_EQ(after->value->create_index, got->value->create_index);
  EXPECT_FALSE(*c->KvDelete("cfg/max-memory", {.cas = seen}));
  EXPECT_TRUE(*c->KvDelete("cfg/max-memory", {.cas = after->value->modify_index}));
  EXPECT_FALSE(c->KvGet("cfg/max-memory")->value.has_value());
}

TEST_F(KvTest, FlagsKeysRecurseAndBinaryValues) {
  auto c = ClientFor(0);
  std::string binary("\0\x01\xff zstd", 9);
  ASSERT_TRUE(*c->KvPut("s/config/a", binary, {.flags = 42}));
  ASSERT_TRUE(*c->KvPut("s/config/b", "2"));
  ASSERT_TRUE(*c->KvPut("s/nodes/w1/config/a", "3"));
  auto a = c->KvGet("s/config/a");
  EXPECT_EQ(a->value->value, binary);
  EXPECT_EQ(a->value->flags, 42u);
  auto keys = c->KvKeys("s/", "/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->value, (std::vector<std::string>{"s/config/", "s/nodes/"}));
  auto all = c->KvKeys("s/");
  EXPECT_EQ(all->value.size(), 3u);
  auto list = c->KvList("s/config/");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->value.size(), 2u);
  EXPECT_EQ(list->value[1].value, "2");
  ASSERT_TRUE(*c->KvDelete("s/config/", {.recurse = true}));
  EXPECT_TRUE(c->KvList("s/config/")->value.empty());
  EXPECT_EQ(c->KvList("s/")->value.size(), 1u);

  auto too_big = c->KvPut("s/big", std::string(600 * 1024, 'x'));
  EXPECT_EQ(too_big.status().code(), Code::kInvalidArgument);
  EXPECT_NE(too_big.status().message().find("HTTP 413"), std::string::npos);
}

TEST_F(KvTest, BlockingGetWakesOnChangeAndTimesOutAtWait) {
  auto c = ClientFor(0);
  ASSERT_TRUE(*c->KvPut("w/key", "v1"));
  auto first = c->KvGet("w/key");
  ASSERT_TRUE(first.ok());

  // No change: answers after `wait` (plus at most wait/16) with the same index.
  auto start = Clock::now();
  auto idle = c->KvGet("w/key", {.index = first->index, .wait = milliseconds(1000)});
  double took = SecondsSince(start);
  ASSERT_TRUE(idle.ok()) << idle.status().ToString();
  EXPECT_EQ(idle->index, first->index);
  EXPECT_GE(took, 0.95);
  EXPECT_LT(took, 1.0 + 1.0 / 16 + 0.5);

  // A write to another key does not wake it either.
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(200));
    (void)c->KvPut("w/other", "x");
    std::this_thread::sleep_for(milliseconds(300));
    (void)c->KvPut("w/key", "v2");
  });
  start = Clock::now();
  auto woke = c->KvGet("w/key", {.index = first->index, .wait = milliseconds(5000)});
  took = SecondsSince(start);
  writer.join();
  ASSERT_TRUE(woke.ok()) << woke.status().ToString();
  EXPECT_EQ(woke->value->value, "v2");
  EXPECT_GT(woke->index, first->index);
  EXPECT_GE(took, 0.45);
  EXPECT_LT(took, 2.0);
}

TEST_F(KvTest, BlockingGetOnAMissingKeyWakesWhenItAppears) {
  auto c = ClientFor(0);
  auto missing = c->KvGet("later");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->value.has_value());
  EXPECT_GE(missing->index, 1u);
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(200));
    (void)c->KvPut("later", "here");
  });
  auto woke = c->KvGet("later", {.index = missing->index, .wait = milliseconds(5000)});
  writer.join();
  ASSERT_TRUE(woke.ok());
  ASSERT_TRUE(woke->value.has_value());
  EXPECT_EQ(woke->value->value, "here");
}

TEST_F(KvTest, SessionLocksAcquireAndRelease) {
  auto c = ClientFor(0);
  auto s1 = c->SessionCreate({.name = "a", .ttl = milliseconds(15000)});
  auto s2 = c->SessionCreate({.name = "b", .ttl = milliseconds(15000)});
  ASSERT_TRUE(s1.ok() && s2.ok()) << s1.status().ToString();
  EXPECT_TRUE(*c->KvPut("lock/leader", "w1", {.acquire = *s1}));
  EXPECT_FALSE(*c->KvPut("lock/leader", "w2", {.acquire = *s2}));  // held by s1
  auto held = c->KvGet("lock/leader");
  EXPECT_EQ(held->value->session, *s1);
  EXPECT_EQ(held->value->lock_index, 1u);
  EXPECT_EQ(held->value->value, "w1");
  EXPECT_FALSE(*c->KvPut("lock/leader", "", {.release = *s2}));  // not the holder
  EXPECT_TRUE(*c->KvPut("lock/leader", "w1", {.release = *s1}));
  EXPECT_TRUE(*c->KvPut("lock/leader", "w2", {.acquire = *s2}));
  EXPECT_EQ(c->KvGet("lock/leader")->value->lock_index, 2u);

  auto renewed = c->SessionRenew(*s2);
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_EQ(renewed->id, *s2);
  // Destroying the holder releases the lock (behavior "release").
  ASSERT_TRUE(c->SessionDestroy(*s2).ok());
  auto released = c->KvGet("lock/leader");
  ASSERT_TRUE(released->value.has_value());
  EXPECT_EQ(released->value->session, "");
  EXPECT_EQ(c->SessionRenew(*s2).status().code(), Code::kNotFound);
  auto info = c->SessionInfoOf(*s2);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->has_value());
}

class ShortSessionTest : public ConsulAgentTest {
 protected:
  TestAgentOptions AgentOptions() const override {
    TestAgentOptions o;
    o.session_ttl_min = milliseconds(200);
    o.allow_real_consul = false;  // Consul refuses TTLs under 10 s
    return o;
  }
};

TEST_F(ShortSessionTest, ExpiredSessionDeletesItsKeysWithBehaviorDelete) {
  auto c = ClientFor(0);
  auto s = c->SessionCreate({.ttl = milliseconds(300), .behavior = "delete"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(*c->KvPut("eph/w1", "alive", {.acquire = *s}));
  // Consul keeps a session for up to twice its TTL.
  ASSERT_TRUE(Eventually([&] { return !c->KvGet("eph/w1")->value.has_value(); },
                         milliseconds(3000)));
  EXPECT_EQ(c->SessionRenew(*s).status().code(), Code::kNotFound);
}

TEST_F(ShortSessionTest, RejectsTtlBelowTheMinimum) {
  auto c = ClientFor(0);
  auto s = c->SessionCreate({.ttl = milliseconds(100)});
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("Invalid Session TTL"), std::string::npos);
}

class CoordinateAgentTest : public ConsulAgentTest {
 protected:
  TestAgentOptions AgentOptions() const override {
    TestAgentOptions o;
    o.nodes = {"n1", "n2", "n3"};
    return o;
  }
};

TEST_F(CoordinateAgentTest, SetCoordinatesThenEstimateRtt) {
  auto c = ClientFor(1);
  std::vector<double> v1(8, 0.0), v2(8, 0.0);
  v2[0] = 0.003;
  v2[1] = 0.004;  // 5 ms apart
  ASSERT_TRUE(c->CoordinateUpdate({"n1", "", {v1, 0.2, 0.0001, 0.0001}}).ok());
  ASSERT_TRUE(c->CoordinateUpdate({"n2", "", {v2, 0.2, -0.0002, 0.0004}}).ok());
  auto nodes = c->CoordinateNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->value.size(), 3u);
  auto n1 = c->CoordinateNode("n1");
  auto n2 = c->CoordinateNode("n2");
  ASSERT_TRUE(n1.ok() && n2.ok());
  auto rtt = RttSeconds(n1->coord, n2->coord);
  ASSERT_TRUE(rtt.ok());
  // 0.005 + heights 0.0005 + adjustments -0.0001
  EXPECT_NEAR(*rtt, 0.0054, 1e-12);

  auto bad = c->CoordinateUpdate({"n1", "", {{1.0, 2.0}, 0.2, 0, 0}});
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace shovel::consul::testing
