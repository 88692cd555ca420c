#include "placement.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>

namespace shovel::client {
namespace {

std::vector<QuotaInput> Nodes(std::vector<uint64_t> weights) {
  std::vector<QuotaInput> out;
  for (size_t i = 0; i < weights.size(); ++i) {
    out.push_back({"w" + std::to_string(i + 1), weights[i]});
  }
  return out;
}

TEST(Placement, HomeIsDeterministicAndIndependentOfOrder) {
  std::vector<std::string> a = {"w1", "w2", "w3"};
  std::vector<std::string> b = {"w3", "w1", "w2"};
  for (int i = 0; i < 200; ++i) {
    std::string id = "ns/id-" + std::to_string(i);
    EXPECT_EQ(a[HomeNode(id, a)], b[HomeNode(id, b)]) << id;
    EXPECT_EQ(RankNodes(id, a).front(), HomeNode(id, a));
  }
  EXPECT_EQ(HrwWeight("w1", "x"), HrwWeight("w1", "x"));
  EXPECT_NE(HrwWeight("ab", "c"), HrwWeight("a", "bc"));
}

TEST(Placement, SpreadIsEven) {
  std::vector<std::string> nodes = {"w1", "w2", "w3", "w4"};
  std::map<size_t, int> count;
  for (int i = 0; i < 40000; ++i) ++count[HomeNode("id" + std::to_string(i), nodes)];
  for (auto& [n, c] : count) EXPECT_NEAR(c, 10000, 600) << nodes[n];
}

TEST(Placement, RemovingANodeMovesOnlyItsIds) {
  std::vector<std::string> four = {"w1", "w2", "w3", "w4"};
  std::vector<std::string> three = {"w1", "w2", "w4"};
  for (int i = 0; i < 5000; ++i) {
    std::string id = "k" + std::to_string(i);
    const std::string& before = four[HomeNode(id, four)];
    if (before != "w3") {
      EXPECT_EQ(three[HomeNode(id, three)], before) << id;
    }
  }
}

TEST(Placement, RanksArePermutation) {
  std::vector<std::string> nodes = {"a", "b", "c", "d", "e"};
  auto r = RankNodes("x/y", nodes);
  std::vector<size_t> sorted = r;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

TEST(Quotas, UniformNodesThousandOverThree) {
  auto q = ComputeQuotas(Nodes({1, 1, 1}), 1000);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, (std::vector<uint64_t>{334, 333, 333}));
}

TEST(Quotas, OneTwoOneIsExact) {
  auto q = ComputeQuotas(Nodes({4, 8, 4}), 1000);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, (std::vector<uint64_t>{250, 500, 250}));
  auto m = ComputeQuotas(Nodes({1ull << 30, 2ull << 30, 1ull << 30}), 1000);
  EXPECT_EQ(*m, (std::vector<uint64_t>{250, 500, 250}));
}

TEST(Quotas, EdgeCases) {
  EXPECT_EQ(*ComputeQuotas(Nodes({1, 1, 1}), 0), (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_EQ(*ComputeQuotas(Nodes({1, 1, 1, 1, 1}), 2),
            (std::vector<uint64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(*ComputeQuotas(Nodes({0, 3, 0}), 7), (std::vector<uint64_t>{0, 7, 0}));
  EXPECT_EQ(*ComputeQuotas(Nodes({0, 1, 1}), 3), (std::vector<uint64_t>{0, 2, 1}));
  auto none = ComputeQuotas(Nodes({0, 0}), 5);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(ComputeQuotas({}, 1).ok());
  EXPECT_TRUE(ComputeQuotas({}, 0).ok());
}

TEST(Quotas, TiesGoToSmallerNodeIdNotInputOrder) {
  std::vector<QuotaInput> n = {{"c", 1}, {"a", 1}, {"b", 1}};
  EXPECT_EQ(*ComputeQuotas(n, 2), (std::vector<uint64_t>{0, 1, 1}));
}

TEST(Quotas, AlwaysSumAndWithinOne) {
  for (uint64_t count : {1u, 7u, 99u, 1000u, 12345u}) {
    std::vector<uint64_t> w = {3, 5, 7, 11};
    auto q = ComputeQuotas(Nodes(w), count);
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(std::accumulate(q->begin(), q->end(), uint64_t{0}), count);
    for (size_t i = 0; i < w.size(); ++i) {
      double share = static_cast<double>(count) * w[i] / 26.0;
      EXPECT_LE(std::abs(static_cast<double>((*q)[i]) - share), 1.0);
    }
  }
}

TEST(AssignmentOrder, ExactCountsAndSmoothInterleave) {
  std::vector<uint64_t> quotas = {250, 500, 250};
  auto order = AssignmentOrder(quotas);
  ASSERT_EQ(order.size(), 1000u);
  std::vector<uint64_t> seen(3, 0);
  for (size_t i = 0; i < order.size(); ++i) {
    ++seen[order[i]];
    if (i % 4 == 3) {  // every prefix of 4k ids is exactly proportional
      EXPECT_EQ(seen[1], (i + 1) / 2);
    }
  }
  EXPECT_EQ(seen, quotas);
  EXPECT_EQ(AssignmentOrder({1, 0, 2}), (std::vector<size_t>{2, 0, 2}));
  EXPECT_TRUE(AssignmentOrder({0, 0}).empty());
}

}  // namespace
}  // namespace shovel::client
