// A worker joining a static list of workers (`shovel-worker --join`), with
// one copy per id: the ids that now belong to it are handed over, and no id
// reads as missing to a client that lists it, during or after the move.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "client_fixture.h"
#include "shovel/client.h"

namespace shovel {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;
using testing::ConnectTo;
using testing::HeldBy;
using testing::WorkerProcess;

std::string Key(int i) { return "join/k" + std::to_string(i); }

TEST(StaticJoin, AJoinerGetsItsIdsAndNoIdReadsAsMissing) {
  auto cluster = Cluster::Start(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto before = ConnectTo(cluster->endpoints(), 5000ms, 4ull << 20, 1);
  ASSERT_NE(before, nullptr);
  constexpr int kIds = 300;
  for (int i = 0; i < kIds; ++i)
    ASSERT_TRUE(before->Set(Key(i), "v" + std::to_string(i)).ok());
  auto joiner = WorkerProcess::Start("joiner", "1GiB", "tcp://127.0.0.1:0",
                                     {"--join", cluster->joined()});
  ASSERT_TRUE(joiner.ok()) << joiner.status().ToString();
  std::vector<std::string> all = cluster->endpoints();
  all.push_back((*joiner)->endpoint());
  auto after = ConnectTo(all, 5000ms, 4ull << 20, 1);
  ASSERT_NE(after, nullptr);
  // At once, during the hand-over: every id reads back, through the new
  // list and the old one (its old holder redirects a moved id).
  for (int i = 0; i < kIds; ++i) {
    auto v = after->Get(Key(i));
    ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status().ToString();
    EXPECT_EQ(*v, "v" + std::to_string(i));
    auto old = before->Get(Key(i));
    ASSERT_TRUE(old.ok()) << Key(i) << " (old list): " << old.status().ToString();
  }
  // Afterwards the joiner holds its share: the ids clients route to it.
  int owned = 0, held = 0;
  for (int round = 0; round < 50; ++round) {
    owned = held = 0;
    for (int i = 0; i < kIds; ++i) {
      auto nodes = after->NodeIds(Key(i));
      ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
      if (nodes->empty() || (*nodes)[0] != "joiner") continue;
      ++owned;
      held += HeldBy(**joiner, Key(i)).ok();
    }
    if (owned > 0 && held == owned) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(owned, kIds / 6) << "the joiner should own about a third";
  EXPECT_EQ(held, owned) << "ids the joiner owns but does not hold";
}

TEST(StaticJoin, AJoinWithAPeerThatDoesNotAnswerFailsAndNamesIt) {
  auto w = WorkerProcess::Start("lonely", "256MiB", "tcp://127.0.0.1:0",
                                {"--join", "tcp://127.0.0.1:1"});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("tcp://127.0.0.1:1"), std::string::npos)
      << w.status().ToString();
}

}  // namespace
}  // namespace shovel
