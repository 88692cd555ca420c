// Consul membership as pure functions: members from health entries, and
// routing around critical members.
#include "consul_membership.h"

#include <gtest/gtest.h>

#include "placement.h"

namespace shovel::client {
namespace {

consul::HealthEntry Entry(const std::string& node_id, const std::string& node, int port,
                          consul::CheckStatus status) {
  consul::HealthEntry e;
  e.node = node;
  e.node_address = "127.0.0.1";
  e.service.id = "shoveling-" + node_id;
  e.service.port = port;
  e.service.meta["node_id"] = node_id;
  e.aggregated = status;
  return e;
}

TEST(ConsulMembership, MembersFromHealthEntries) {
  auto m = MembersFromHealth({Entry("w2", "n2", 2, consul::CheckStatus::kCritical),
                              Entry("w1", "n1", 1, consul::CheckStatus::kPassing),
                              Entry("w3", "n1", 3, consul::CheckStatus::kWarning)});
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].node_id, "w1");  // sorted by node id
  EXPECT_EQ(m[0].endpoint, "tcp://127.0.0.1:1");
  EXPECT_EQ(m[0].consul_node, "n1");
  EXPECT_EQ(m[0].consul_health, "passing");
  EXPECT_FALSE(m[0].critical);
  EXPECT_TRUE(m[1].critical);  // w2
  EXPECT_FALSE(m[1].healthy);
  EXPECT_EQ(m[1].consul_health, "critical");
  EXPECT_FALSE(m[2].critical);  // a warning still serves
}

TEST(ConsulMembership, ReplicasSettingIsACopyCount) {
  EXPECT_EQ(ParseReplicasSetting("2").value(), 2u);
  EXPECT_EQ(ParseReplicasSetting(" 3\n").value(), 3u);
  for (const char* bad : {"0", "9", "", "two", "2x", "-1", "100"}) {
    auto r = ParseReplicasSetting(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message(), "replicas = '" + std::string(bad) +
                                        "' is not a number of copies from 1 to 8");
  }
}

TEST(ConsulMembership, RoutingSkipsAvoidedNodesInRankOrder) {
  std::vector<std::string> nodes = {"w1", "w2", "w3"};
  for (int i = 0; i < 100; ++i) {
    std::string id = "id/" + std::to_string(i);
    std::vector<size_t> rank = RankNodes(id, nodes);
    EXPECT_EQ(RouteNode(id, nodes, [](size_t) { return false; }), rank[0]);
    EXPECT_EQ(RouteNode(id, nodes, [&](size_t k) { return k == rank[0]; }), rank[1]);
    EXPECT_EQ(RouteNode(id, nodes, [&](size_t k) { return k != rank[2]; }), rank[2]);
    // Everyone avoided: the home (requests then fail there, as without Consul).
    EXPECT_EQ(RouteNode(id, nodes, [](size_t) { return true; }), rank[0]);
  }
}

}  // namespace
}  // namespace shovel::client
