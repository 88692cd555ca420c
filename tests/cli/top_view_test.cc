// The arithmetic of `shovelctl top` and the lines of `stats`, without a
// cluster.
#include "top_view.h"

#include <gtest/gtest.h>

namespace shovel::cli {
namespace {

NodeInfo Node(const std::string& id, std::map<std::string, uint64_t> counters,
              uint64_t evictions = 0) {
  NodeInfo n;
  n.node_id = id;
  n.endpoint = "tcp://h:" + id;
  n.healthy = true;
  n.mem_used = 1 << 20;
  n.mem_limit = 8 << 20;
  n.ids = 3;
  n.evictions = evictions;
  n.counters = std::move(counters);
  return n;
}

TEST(TopRates, RatesBetweenTwoSamples) {
  std::vector<NodeInfo> before = {Node("w1", {{"requests.get", 100},
                                              {"requests.set", 10},
                                              {"hits", 90},
                                              {"misses", 10},
                                              {"bytes_in", 0},
                                              {"bytes_out", 0}}),
                                  Node("w2", {{"requests.get", 0}})};
  std::vector<NodeInfo> after = {Node("w1",
                                      {{"requests.get", 300},
                                       {"requests.set", 30},
                                       {"requests.stat", 4},
                                       {"requests.upload_begin", 2},
                                       {"hits", 240},
                                       {"misses", 60},
                                       {"bytes_in", 4'000'000},
                                       {"bytes_out", 10'000'000}},
                                      6),
                                 Node("w2", {{"requests.get", 20}, {"hits", 20}})};
  auto r = TopRatesOf(before, after, 2.0);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].node_id, "w1");
  EXPECT_DOUBLE_EQ(r[0].get, 100);
  EXPECT_DOUBLE_EQ(r[0].set, 11);  // 20 SETs + 2 streamed writes in 2 s
  EXPECT_DOUBLE_EQ(r[0].other, 2);
  EXPECT_DOUBLE_EQ(r[0].hit_pct, 75);  // 150 of 200 lookups
  EXPECT_DOUBLE_EQ(r[0].in_mbps, 2);
  EXPECT_DOUBLE_EQ(r[0].out_mbps, 5);
  EXPECT_DOUBLE_EQ(r[0].evictions, 3);
  EXPECT_DOUBLE_EQ(r[1].hit_pct, 100);
  EXPECT_EQ(r[2].node_id, "TOTAL");
  EXPECT_DOUBLE_EQ(r[2].get, 110);
  EXPECT_DOUBLE_EQ(r[2].hit_pct, 100.0 * 170 / 220);
  EXPECT_EQ(r[2].mem_limit, 16u << 20);
}

TEST(TopRates, RestartedWorkerCountsFromZeroAndNoGetsIsNoHitRate) {
  std::vector<NodeInfo> before = {Node("w1", {{"requests.get", 1000}, {"hits", 1000}})};
  std::vector<NodeInfo> after = {Node("w1", {{"requests.get", 5}, {"hits", 5}})};
  auto r = TopRatesOf(before, after, 1.0);
  ASSERT_EQ(r.size(), 1u);  // one worker: no TOTAL row
  EXPECT_DOUBLE_EQ(r[0].get, 5);
  r = TopRatesOf(after, after, 1.0);
  EXPECT_DOUBLE_EQ(r[0].hit_pct, -1);
  auto table = TopTable(r);
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table[0][0], "NODE");
  EXPECT_EQ(table[1][6], "-");  // HIT%
  EXPECT_EQ(table[1][9], "1.0 MiB / 8.0 MiB");
  EXPECT_TRUE(TopJson(r)[0]["hit_pct"].is_null());
}

TEST(StatsLines, InfoLikeAndJson) {
  NodeInfo n = Node("w1", {{"hits", 7}, {"bytes_in", 9}}, 2);
  n.version = "shoveling 0.1.0";
  auto lines = StatsLines(n);
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], "node_id:w1");
  EXPECT_EQ(lines[2], "healthy:yes");
  EXPECT_NE(std::find(lines.begin(), lines.end(), "evictions:2"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "hits:7"), lines.end());
  auto j = StatsJson(n);
  EXPECT_EQ(j["counters"]["bytes_in"], 9u);
  EXPECT_EQ(j["evictions"], 2u);
  n.healthy = false;
  EXPECT_EQ(StatsLines(n).size(), 3u);  // nothing to show but who it is
  EXPECT_FALSE(StatsJson(n).contains("counters"));
}

}  // namespace
}  // namespace shovel::cli
