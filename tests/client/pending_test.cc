// StartMultiSet / StartMultiGet: many requests in flight from one thread,
// against three real shovel-worker processes on loopback.
#include <gtest/gtest.h>
#include <signal.h>

#include <deque>
#include <string>
#include <vector>

#include "client_fixture.h"
#include "shovel/client.h"

namespace shovel {
namespace {

using namespace std::chrono_literals;
using testing::ConnectTo;

std::string Value(int i) {
  // Mostly small values; every 25th is larger than a BATCH item (64 KiB),
  // so its request goes alone.
  size_t n = i % 25 == 0 ? (100 << 10) + i : 50 + i % 900;
  return std::string(n, static_cast<char>('a' + i % 26));
}

using PendingTest = testing::ThreeWorkers;

// One thread keeps 50 calls in flight, waiting for the oldest before it
// starts the next, as a load generator on one event loop does: every value
// arrives whole under its own id, and results come in request order.
TEST_F(PendingTest, OneThreadKeepsManyInFlightAndEveryResultIsItsOwn) {
  Client& c = *client_;
  constexpr int kIds = 1000, kWindow = 50;
  std::deque<std::unique_ptr<Pending<uint64_t>>> sets;
  std::vector<Result<uint64_t>> versions;
  auto wait_set = [&] {
    for (auto& r : sets.front()->Wait()) versions.push_back(std::move(r));
    sets.pop_front();
  };
  for (int i = 0; i < kIds; i += 4) {
    std::vector<std::pair<std::string, std::string>> items;
    for (int j = i; j < i + 4; ++j)
      items.emplace_back("p/" + std::to_string(j), Value(j));
    if (sets.size() == kWindow) wait_set();
    sets.push_back(c.StartMultiSet(std::move(items)));
  }
  while (!sets.empty()) wait_set();
  ASSERT_EQ(versions.size(), size_t{kIds});
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(versions[i].ok()) << i << ": " << versions[i].status().ToString();
    EXPECT_GT(*versions[i], 0u);
  }
  std::deque<std::unique_ptr<Pending<std::string>>> gets;
  int next = 0;
  auto wait_get = [&] {
    auto got = gets.front()->Wait();
    gets.pop_front();
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(got[0].ok()) << next << ": " << got[0].status().ToString();
    EXPECT_TRUE(*got[0] == Value(next)) << next << ": " << got[0]->size() << " bytes";
    ++next;
  };
  for (int i = 0; i < kIds; ++i) {
    if (gets.size() == kWindow) wait_get();
    gets.push_back(c.StartMultiGet({"p/" + std::to_string(i)}));
  }
  while (!gets.empty()) wait_get();
  EXPECT_EQ(next, kIds);
  // What was set with many in flight reads back through the blocking API.
  EXPECT_EQ(*c.Get("p/999"), Value(999));
  EXPECT_EQ(c.Stat("p/500")->version, *versions[500]);
}

// Each item's own error, in its place, next to the items that succeed.
TEST_F(PendingTest, AnItemsErrorStaysWithThatItem) {
  Client& c = *client_;
  auto set = c.StartMultiSet({{"e/a", "1"}, {"e//bad", "2"}, {"e/b", "3"}})->Wait();
  ASSERT_EQ(set.size(), 3u);
  EXPECT_TRUE(set[0].ok());
  EXPECT_EQ(set[1].status().code(), Code::kInvalidArgument);
  EXPECT_NE(set[1].status().message().find("e//bad"), std::string::npos)
      << set[1].status().ToString();
  EXPECT_TRUE(set[2].ok());
  auto got = c.StartMultiGet({"e/b", "e/missing", "", "e/a"})->Wait();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(*got[0], "3");
  EXPECT_EQ(got[1].status().code(), Code::kNotFound);
  EXPECT_NE(got[1].status().message().find("e/missing"), std::string::npos)
      << got[1].status().ToString();
  EXPECT_EQ(got[2].status().code(), Code::kInvalidArgument);
  EXPECT_EQ(*got[3], "1");
  EXPECT_TRUE(c.StartMultiGet({})->Wait().empty());
}

// Pinned ids that init put away from their home: a client with no redirect
// cache sends there first, is redirected, and Wait follows the redirect.
TEST_F(PendingTest, WaitFollowsRedirectsToPinnedIds) {
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) ids.push_back("pin/" + std::to_string(i));
  ASSERT_TRUE(client_->Init(ids, InitStrategy::kUniformNodes).ok());
  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& id : ids) items.emplace_back(id, "v-" + id);
  auto fresh = ConnectTo(cluster_.endpoints());
  for (auto& r : fresh->StartMultiSet(items)->Wait())
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto again = ConnectTo(cluster_.endpoints());
  auto got = again->StartMultiGet(ids)->Wait();
  ASSERT_EQ(got.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << ids[i] << ": " << got[i].status().ToString();
    EXPECT_EQ(*got[i], "v-" + ids[i]);
  }
  // The data stayed where init put it.
  EXPECT_TRUE(client_->Stat("pin/7")->pinned);
}

TEST_F(PendingTest, ASecondWaitIsAnErrorAndDroppingUnwaitedIsSafe) {
  Client& c = *client_;
  auto p = c.StartMultiSet({{"w/a", "1"}});
  ASSERT_TRUE(p->Wait()[0].ok());
  auto twice = p->Wait();
  ASSERT_EQ(twice.size(), 1u);
  EXPECT_EQ(twice[0].status().code(), Code::kInvalidArgument);
  EXPECT_EQ(twice[0].status().message(), "the results were already taken");
  // Dropped before its replies came: they are discarded, the writes land.
  for (int i = 0; i < 100; ++i) c.StartMultiSet({{"w/d" + std::to_string(i), "x"}});
  c.StartMultiGet({"w/a"}).reset();
  auto got = c.MultiGet({"w/d0", "w/d99", "w/a"});
  EXPECT_EQ(*got[0], "x");
  EXPECT_EQ(*got[1], "x");
  EXPECT_EQ(*got[2], "1");
}

// A worker that dies: Start still returns at once, and Wait gives each item
// the error after about the deadline, not a hang.
TEST_F(PendingTest, StartDoesNotWaitForADeadWorker) {
  auto c = ConnectTo({cluster_.endpoints()[0]}, 400ms);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Set("d/x", "1").ok());
  cluster_.workers[0]->Kill(SIGKILL);
  auto t0 = std::chrono::steady_clock::now();
  auto p = c->StartMultiGet({"d/x", "d/y"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
  auto got = p->Wait();
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(got.size(), 2u);
  for (auto& r : got) {
    EXPECT_TRUE(r.status().code() == Code::kTimeout ||
                r.status().code() == Code::kUnavailable)
        << r.status().ToString();
    EXPECT_NE(r.status().message().find(cluster_.endpoints()[0]), std::string::npos)
        << r.status().ToString();
  }
  EXPECT_LT(took, 3s);
}

}  // namespace
}  // namespace shovel
