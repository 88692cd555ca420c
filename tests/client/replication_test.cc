// Replica sets against real shovel-worker processes on loopback: every write
// is on R workers before it is acknowledged, a SIGKILLed or SIGSTOPped
// worker is routed around, and what was acknowledged is still read.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client_fixture.h"
#include "shovel/client.h"

namespace shovel {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;
using testing::HeldBy;
using testing::WorkerProcess;

std::unique_ptr<Client> ConnectWith(const std::vector<std::string>& endpoints,
                                    uint32_t replicas,
                                    std::chrono::milliseconds deadline = 5000ms) {
  return testing::ConnectTo(endpoints, deadline, 4ull << 20, replicas);
}

std::string Key(int i) { return "r/k" + std::to_string(i); }

TEST(Replication, EveryWriteIsOnTwoWorkersAndNodeIdsListsBoth) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2);
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(c->Set(Key(i), "v" + std::to_string(i)).ok());
    ASSERT_TRUE(c->Append(Key(i), "+a").ok());
  }
  ASSERT_TRUE(c->Delete(Key(0)).ok());
  for (int i = 1; i < 60; ++i) {
    auto holders = c->NodeIds(Key(i));
    ASSERT_TRUE(holders.ok()) << holders.status().ToString();
    ASSERT_EQ(holders->size(), 2u) << Key(i);
    EXPECT_NE((*holders)[0], (*holders)[1]);
    // Both named workers hold the same bytes; the third holds nothing.
    int copies = 0;
    for (const auto& w : cluster->workers) {
      auto held = HeldBy(*w, Key(i));
      bool named = w->node_id() == (*holders)[0] || w->node_id() == (*holders)[1];
      if (named) {
        ASSERT_TRUE(held.ok()) << w->node_id() << " " << held.status().ToString();
        EXPECT_EQ(*held, "v" + std::to_string(i) + "+a");
        ++copies;
      } else {
        EXPECT_EQ(held.status().code(), Code::kNotFound) << w->node_id();
      }
    }
    EXPECT_EQ(copies, 2);
  }
  for (const auto& w : cluster->workers) {
    EXPECT_EQ(HeldBy(*w, Key(0)).status().code(), Code::kNotFound)
        << "deleted everywhere";
  }
}

// Writes of many ids are in flight together (the primary's I/O thread
// forwards them side by side); writes of one id still apply one at a time,
// in the order the primary took them, on every copy.
TEST(Replication, ConcurrentWritersLeaveIdenticalCopiesInEachWritersOrder) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2);
  ASSERT_NE(c, nullptr);
  constexpr int kThreads = 8, kRecords = 60, kLogs = 3;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int n = 0; n < kRecords; ++n) {
        // A shared log per few writers, and a value of the writer's own.
        std::string record = "t" + std::to_string(t) + ":" + std::to_string(n) + ";";
        if (!c->Append("r/log" + std::to_string(t % kLogs), record).ok()) ++failures;
        if (!c->Set(Key(t), record).ok()) ++failures;
      }
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::string logs;  // what the workers said, for a failure
  for (const auto& w : cluster->workers) logs += w->node_id() + ":\n" + w->StderrText();
  // The copies on the two workers node_ids names. (A write refused while
  // the first leases are asked at start-up may have been routed around a
  // replica, leaving a copy on the third: not what is checked here.)
  auto copies = [&](const std::string& id) {
    std::vector<std::string> held;
    auto holders = c->NodeIds(id);
    if (!holders.ok()) return held;
    for (const auto& w : cluster->workers) {
      if (std::find(holders->begin(), holders->end(), w->node_id()) == holders->end()) {
        continue;
      }
      if (auto v = HeldBy(*w, id); v.ok()) held.push_back(*v);
    }
    return held;
  };
  for (int t = 0; t < kThreads; ++t) {
    auto held = copies(Key(t));
    ASSERT_EQ(held.size(), 2u) << Key(t) << "\n" << logs;
    const std::string last =
        "t" + std::to_string(t) + ":" + std::to_string(kRecords - 1) + ";";
    EXPECT_EQ(held[0], last);
    EXPECT_EQ(held[1], last);
  }
  for (int l = 0; l < kLogs; ++l) {
    const std::string id = "r/log" + std::to_string(l);
    auto held = copies(id);
    ASSERT_EQ(held.size(), 2u) << id << "\n" << logs;
    EXPECT_EQ(held[0], held[1]) << id;
    // Every record of each writer once, in its order.
    std::vector<int> next(kThreads, 0);
    size_t pos = 0;
    const std::string& log = held[0];
    while (pos < log.size()) {
      size_t colon = log.find(':', pos), semi = log.find(';', pos);
      ASSERT_NE(semi, std::string::npos) << log.substr(pos, 40);
      int t = std::stoi(log.substr(pos + 1, colon - pos - 1));
      int n = std::stoi(log.substr(colon + 1, semi - colon - 1));
      ASSERT_EQ(t % kLogs, l);
      EXPECT_EQ(n, next[t]) << "writer " << t << " in " << id;
      next[t] = n + 1;
      pos = semi + 1;
    }
    for (int t = l; t < kThreads; t += kLogs) EXPECT_EQ(next[t], kRecords) << t;
  }
}

TEST(Replication, AKilledWorkerLosesNoAcknowledgedWrite) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2);
  ASSERT_NE(c, nullptr);
  constexpr int kIds = 200;
  for (int i = 0; i < kIds; ++i)
    ASSERT_TRUE(c->Set(Key(i), "before" + std::to_string(i)).ok());
  cluster->workers[1]->Kill(SIGKILL);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kIds; ++i) {
    auto v = c->Get(Key(i));
    ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status().ToString();
    EXPECT_EQ(*v, "before" + std::to_string(i));
  }
  // Writes go on with the dead worker out of every replica set; appends
  // stay in order.
  for (int i = 0; i < kIds; ++i) {
    auto r = c->Set(Key(i), "after" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << Key(i) << ": " << r.status().ToString();
    ASSERT_TRUE(c->Append(Key(i), "|1").ok());
    ASSERT_TRUE(c->Append(Key(i), "|2").ok());
  }
  for (int i = 0; i < kIds; ++i) {
    EXPECT_EQ(*c->Get(Key(i)), "after" + std::to_string(i) + "|1|2");
  }
  // Not one deadline per call: the dead worker is found once and avoided.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  // Each id now has two copies on the two live workers.
  for (int i = 0; i < kIds; i += 17) {
    for (int w : {0, 2}) {
      auto held = HeldBy(*cluster->workers[w], Key(i));
      ASSERT_TRUE(held.ok()) << Key(i) << " on " << cluster->workers[w]->node_id();
      EXPECT_EQ(*held, "after" + std::to_string(i) + "|1|2");
    }
  }
}

// Behind the primary's back, the replica of `id` (the second of its
// holders, in a cluster of two) loses its copy. Returns that replica.
const WorkerProcess& DropOnReplica(Client& c, const Cluster& cluster,
                                   const std::string& id) {
  auto holders = c.NodeIds(id);
  if (!holders.ok() || holders->size() != 2) {
    ADD_FAILURE() << id << " is not on two workers";
    return *cluster.workers[1];
  }
  const WorkerProcess& replica =
      *(cluster.workers[0]->node_id() == (*holders)[1] ? cluster.workers[0]
                                                       : cluster.workers[1]);
  ClientOptions o;
  o.workers = {replica.endpoint()};
  o.replicas = 1;
  auto direct = Client::Connect(o);
  EXPECT_TRUE(direct.ok());
  if (direct.ok()) {
    EXPECT_TRUE((*direct)->Delete(id).ok());
  }
  return replica;
}

TEST(Replication, AReplicaThatMissedWritesIsRepairedOnTheNextAppend) {
  auto cluster = Cluster::Start(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Set("log", "a").ok());
  const WorkerProcess& replica = DropOnReplica(*c, *cluster, "log");
  ASSERT_TRUE(c->Append("log", "b").ok());
  EXPECT_EQ(*c->Get("log"), "ab");
  auto held = HeldBy(replica, "log");
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(*held, "ab");
}

TEST(Replication, APausedReplicaFailsTheWriteQuicklyThenIsRoutedAround) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2);
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c->Set(Key(i), "x").ok());
  WorkerProcess& paused = *cluster->workers[2];
  ASSERT_EQ(kill(paused.pid(), SIGSTOP), 0);
  auto start = std::chrono::steady_clock::now();
  int failed = 0;
  for (int i = 0; i < 30; ++i) {
    auto r = c->Set(Key(i), "y" + std::to_string(i));
    if (!r.ok()) ++failed;
  }
  auto took = std::chrono::steady_clock::now() - start;
  // A write whose primary or replica is the paused worker waits for it
  // once (the replica's deadline, or the request's), is retried on the next
  // copy, and the worker is then avoided.
  EXPECT_EQ(failed, 0);
  EXPECT_LT(took, 15s);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(*c->Get(Key(i)), "y" + std::to_string(i));
  kill(paused.pid(), SIGCONT);
}

// One of three workers paused until clients routed around
// it, every id overwritten meanwhile, then it resumes. It rejoins under a
// new epoch (dropping what it held), so no read returns an old value, and
// appends made while it was away are kept in order.
TEST(Replication, AWorkerThatResumesServesNoOverwrittenValue) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2, 2000ms);
  ASSERT_NE(c, nullptr);
  constexpr int kIds = 150;
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(c->Set(Key(i), "old" + std::to_string(i)).ok());
    ASSERT_TRUE(c->Set("log/" + std::to_string(i), "a").ok());
  }
  WorkerProcess& paused = *cluster->workers[1];
  ASSERT_EQ(kill(paused.pid(), SIGSTOP), 0);
  for (int i = 0; i < kIds; ++i) {
    auto r = c->Set(Key(i), "new" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << Key(i) << ": " << r.status().ToString();
    ASSERT_TRUE(c->Append("log/" + std::to_string(i), "b").ok());
  }
  ASSERT_EQ(kill(paused.pid(), SIGCONT), 0);
  // Until it answers again and is readmitted, and after: only new values.
  int stale = 0, missing = 0;
  auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < kIds; ++i) {
      auto v = c->Get(Key(i));
      if (!v.ok()) {
        ++missing;
      } else if (*v != "new" + std::to_string(i)) {
        ++stale;
      }
    }
  }
  EXPECT_EQ(stale, 0);
  EXPECT_EQ(missing, 0);
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(c->Append("log/" + std::to_string(i), "c").ok());
    EXPECT_EQ(*c->Get("log/" + std::to_string(i)), "abc") << i;
  }
  // The resumed worker is routed to again (its probe may wait for a
  // moment on a loaded machine).
  std::string unhealthy;
  for (auto give_up = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < give_up; std::this_thread::sleep_for(100ms)) {
    auto members = c->Members();
    ASSERT_TRUE(members.ok());
    unhealthy.clear();
    for (const auto& m : *members) {
      if (!m.healthy) unhealthy += m.node_id + " ";
    }
    if (unhealthy.empty()) break;
  }
  EXPECT_EQ(unhealthy, "");
}

// A second client, which never saw the pause, reads with MultiGet right
// after the paused worker resumes: its BATCHes are served under leases, so
// the resumed worker answers no value overwritten while it was away.
TEST(Replication, AMultiGetRightAfterAPausedWorkerResumesReadsNoOldValue) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto writer = ConnectWith(cluster->endpoints(), 2, 2000ms);
  auto reader = ConnectWith(cluster->endpoints(), 2, 2000ms);
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  constexpr int kIds = 150;
  std::vector<std::string> keys;
  for (int i = 0; i < kIds; ++i) {
    keys.push_back(Key(i));
    ASSERT_TRUE(writer->Set(Key(i), "old" + std::to_string(i)).ok());
  }
  for (const auto& v : reader->MultiGet(keys))
    ASSERT_TRUE(v.ok()) << v.status().ToString();
  WorkerProcess& paused = *cluster->workers[1];
  ASSERT_EQ(kill(paused.pid(), SIGSTOP), 0);
  for (int i = 0; i < kIds; ++i) {
    auto r = writer->Set(Key(i), "new" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << Key(i) << ": " << r.status().ToString();
  }
  ASSERT_EQ(kill(paused.pid(), SIGCONT), 0);
  auto got = reader->MultiGet(keys);
  ASSERT_EQ(got.size(), keys.size());
  int stale = 0, missing = 0;
  for (int i = 0; i < kIds; ++i) {
    if (!got[i].ok()) {
      ++missing;
      ADD_FAILURE() << Key(i) << ": " << got[i].status().ToString();
    } else if (*got[i] != "new" + std::to_string(i)) {
      ++stale;
    }
  }
  EXPECT_EQ(stale, 0);
  EXPECT_EQ(missing, 0);
}

// A value streamed in chunks (cp of a large file) is on both copies when
// its commit is acknowledged: its primary's death loses nothing.
TEST(Replication, AStreamedValueIsOnEveryCopyAtItsCommit) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  // A long deadline: a slow machine (sanitizers) must not make a worker
  // look down, which is a second fault.
  auto c = ConnectWith(cluster->endpoints(), 2, 10000ms);
  ASSERT_NE(c, nullptr);
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7919 % 251);
  for (const auto& [id, mode] : std::vector<std::pair<std::string, WriteMode>>{
           {"stream/set", WriteMode::kSet}, {"stream/append", WriteMode::kAppend}}) {
    if (mode == WriteMode::kAppend) {
      ASSERT_TRUE(c->Set(id, "head:").ok());
    }
    auto w = c->OpenWriter(id, mode);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (size_t at = 0; at < big.size(); at += 1 << 20) {
      ASSERT_TRUE((*w)->Write(std::string_view(big).substr(at, 1 << 20)).ok());
    }
    auto committed = (*w)->Commit();
    ASSERT_TRUE(committed.ok()) << id << ": " << committed.status().ToString();
    const std::string want = (mode == WriteMode::kAppend ? "head:" : "") + big;
    auto holders = c->NodeIds(id);
    ASSERT_TRUE(holders.ok());
    ASSERT_EQ(holders->size(), 2u);
    for (const auto& wp : cluster->workers) {
      if (wp->node_id() != (*holders)[0] && wp->node_id() != (*holders)[1]) continue;
      auto held = HeldBy(*wp, id);
      ASSERT_TRUE(held.ok()) << id << " on " << wp->node_id() << ": "
                             << held.status().ToString();
      EXPECT_TRUE(*held == want) << id << " on " << wp->node_id();
    }
  }
  // The first one's primary dies: both values still read whole.
  auto primary = c->NodeIds("stream/set").value()[0];
  for (auto& wp : cluster->workers) {
    if (wp->node_id() == primary) wp->Kill(SIGKILL);
  }
  auto v = c->Get("stream/set");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(*v == big);
  auto a = c->Get("stream/append");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(*a == "head:" + big);
}

TEST(Replication, OneCopyWithAStaticListRoutesAroundADeadWorker) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 1, 2000ms);
  ASSERT_NE(c, nullptr);
  cluster->workers[0]->Kill(SIGKILL);
  auto start = std::chrono::steady_clock::now();
  // Ids whose home is dead go to the next worker in their order.
  for (int i = 0; i < 100; ++i) {
    auto r = c->Set(Key(i), "z");
    ASSERT_TRUE(r.ok()) << Key(i) << ": " << r.status().ToString();
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(*c->Get(Key(i)), "z");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(Replication, AWorkerThatComesBackIsReadmitted) {
  auto cluster = Cluster::Start(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  std::string where = cluster->workers[1]->endpoint();
  std::string node = cluster->workers[1]->node_id();
  auto c = ConnectWith(cluster->endpoints(), 1, 2000ms);
  ASSERT_NE(c, nullptr);
  cluster->workers[1]->Kill(SIGKILL);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c->Set(Key(i), "one").ok());
  auto back = WorkerProcess::Start(node, "1GiB", where);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  cluster->workers[1] = std::move(*back);
  // Probed and readmitted: new ids reach it again.
  bool reached = false;
  for (int round = 0; round < 50 && !reached; ++round) {
    std::this_thread::sleep_for(100ms);
    for (int i = 100; i < 140; ++i) ASSERT_TRUE(c->Set(Key(i), "two").ok());
    auto members = c->Members();
    ASSERT_TRUE(members.ok());
    for (const auto& m : *members) reached = reached || (m.node_id == node && m.ids > 0);
  }
  EXPECT_TRUE(reached) << "the restarted worker was never routed to again";
}

// A worker killed and started again comes back empty; once it rejoined,
// the others hand it every id it is a replica of, so each id is on two
// workers again and a second failure loses nothing.
TEST(Replication, ARestartedWorkerIsHandedItsIdsAndASecondFailureLosesNothing) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  // The default deadline: after the second kill, a read waits until the
  // killed worker's lease has surely run out (up to 1.5 s) before the other
  // copy serves in its place.
  auto c = ConnectWith(cluster->endpoints(), 2, 5000ms);
  ASSERT_NE(c, nullptr);
  constexpr int kIds = 120;
  for (int i = 0; i < kIds; ++i)
    ASSERT_TRUE(c->Set(Key(i), "v" + std::to_string(i)).ok());
  std::string where = cluster->workers[1]->endpoint();
  std::string node = cluster->workers[1]->node_id();
  cluster->workers[1]->Kill(SIGKILL);
  for (int i = 0; i < kIds; ++i) ASSERT_TRUE(c->Get(Key(i)).ok());  // found down
  auto back = WorkerProcess::Start(node, "1GiB", where);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  cluster->workers[1] = std::move(*back);
  // Requests probe it, readmit it under a new epoch and start the hand-over.
  size_t expected = 0, held = 0;
  for (int round = 0; round < 60; ++round) {
    std::this_thread::sleep_for(100ms);
    for (int i = 0; i < kIds; i += 10) ASSERT_TRUE(c->Get(Key(i)).ok());
    expected = held = 0;
    for (int i = 0; i < kIds; ++i) {
      auto holders = c->NodeIds(Key(i));
      ASSERT_TRUE(holders.ok());
      if (std::find(holders->begin(), holders->end(), node) == holders->end()) continue;
      ++expected;
      if (HeldBy(*cluster->workers[1], Key(i)).ok()) ++held;
    }
    if (expected > 0 && held == expected) break;
  }
  EXPECT_GT(expected, 0u);
  EXPECT_EQ(held, expected) << "ids the restarted worker should hold again";
  // Now the other holder of each of those ids may fail.
  cluster->workers[0]->Kill(SIGKILL);
  for (int i = 0; i < kIds; ++i) {
    auto v = c->Get(Key(i));
    ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status().ToString();
    EXPECT_EQ(*v, "v" + std::to_string(i));
  }
}

// Incompressible bytes (a value that stays over one message when stored).
std::string RandomBytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  std::mt19937_64 gen(seed);
  for (size_t i = 0; i + 8 <= out.size(); i += 8) {
    uint64_t x = gen();
    std::memcpy(&out[i], &x, 8);
  }
  return out;
}

TEST(Replication, ARestartedWorkerTakesAnIdItLacksFromItsReplicaOnTheFirstRead) {
  // Hand-overs paced to 1 MiB/s (the senders' setting).
  auto cluster = Cluster::Start(3, "1GiB", {"--handover-rate", "1MiB"});
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2, 5000ms);
  ASSERT_NE(c, nullptr);
  const std::string node = cluster->workers[1]->node_id();
  const std::string where = cluster->workers[1]->endpoint();
  // An 8 MiB value first in name order on each worker that will hand ids
  // over to worker 1: at 1 MiB/s its hand-over then waits 8 s before the
  // small ids.
  std::set<std::string> paired;
  for (int i = 0; paired.size() < 2 && i < 64; ++i) {
    const std::string id = "a/fill" + std::to_string(i);
    ASSERT_TRUE(c->Set(id, "").ok());  // node_ids names the holders of what exists
    auto holders = c->NodeIds(id);
    ASSERT_TRUE(holders.ok());
    auto other = std::find_if(holders->begin(), holders->end(),
                              [&](const std::string& n) { return n != node; });
    if (holders->size() != 2 || other == holders->end() || paired.count(*other) ||
        std::find(holders->begin(), holders->end(), node) == holders->end()) {
      ASSERT_TRUE(c->Delete(id).ok());
      continue;
    }
    ASSERT_TRUE(c->Set(id, RandomBytes(8 << 20, i)).ok());
    paired.insert(*other);
  }
  ASSERT_EQ(paired.size(), 2u);
  constexpr int kIds = 60;
  std::vector<std::string> first_here;  // ids worker 1 is the primary of
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(c->Set(Key(i), "v" + std::to_string(i)).ok());
    auto holders = c->NodeIds(Key(i));
    ASSERT_TRUE(holders.ok());
    if (holders->front() == node) first_here.push_back(Key(i));
  }
  ASSERT_FALSE(first_here.empty());
  // Back empty where it was, under a new epoch.
  cluster->workers[1]->Kill(SIGKILL);
  auto back = WorkerProcess::Start(node, "1GiB", where, {"--handover-rate", "1MiB"});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  cluster->workers[1] = std::move(*back);
  const auto t0 = std::chrono::steady_clock::now();
  // Each read is served by worker 1 once it is readmitted and holds its
  // replicas' leases; from the first such read on, worker 1 holds the id.
  size_t held = 0;
  while (std::chrono::steady_clock::now() - t0 < 5s && held < first_here.size()) {
    held = 0;
    for (const auto& id : first_here) {
      auto v = c->Get(id);
      ASSERT_TRUE(v.ok()) << id << ": " << v.status().ToString();
      EXPECT_EQ(*v, "v" + id.substr(3));
      if (HeldBy(*cluster->workers[1], id).ok()) ++held;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(held, first_here.size())
      << "ids read through their restarted primary within 5 s (the hand-over "
         "reaches them only after 8 s)";
  // Not stopped gracefully: a leave would hand over at 1 MiB/s.
  for (auto& w : cluster->workers) w->Kill(SIGKILL);
}

// The same repair for a value over one message: copied part by part.
TEST(Replication, AReplicaThatMissedWritesOfAValueOverOneMessageIsRepaired) {
  auto cluster = Cluster::Start(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2, 20000ms);
  ASSERT_NE(c, nullptr);
  const std::string big = RandomBytes(70ull << 20, 11);
  ASSERT_TRUE(c->Set("biglog", big).ok());
  const WorkerProcess& replica = DropOnReplica(*c, *cluster, "biglog");
  auto appended = c->Append("biglog", "+tail");
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  auto held = HeldBy(replica, "biglog");
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_TRUE(*held == big + "+tail") << "the repaired copy differs";
}

// A value over one message (64 MiB) is copied part by part: on both copies
// at its commit, to a restarted worker by the hand-over, and to the worker
// that takes a leaving one's place.
TEST(Replication, AValueOverOneMessageIsCopiedOnCommitHandOverAndLeave) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectWith(cluster->endpoints(), 2, 20000ms);
  ASSERT_NE(c, nullptr);
  // Small ids first, so that every worker has exchanged leases with every
  // other (a worker leaving without Consul knows its peers by them).
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(c->Set(Key(i), "v").ok());
  const std::string big = RandomBytes(70ull << 20, 7);
  auto set = c->Set("r/big", big);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto holders = c->NodeIds("r/big");
  ASSERT_TRUE(holders.ok()) << holders.status().ToString();
  ASSERT_EQ(holders->size(), 2u);
  auto index_of = [&](const std::string& node) {
    for (size_t k = 0; k < cluster->workers.size(); ++k)
      if (cluster->workers[k]->node_id() == node) return k;
    return cluster->workers.size();
  };
  const size_t a = index_of((*holders)[0]), b = index_of((*holders)[1]);
  const size_t third = 3 - a - b;
  ASSERT_LT(a, 3u);
  ASSERT_LT(b, 3u);
  for (size_t k : {a, b}) {
    auto held = HeldBy(*cluster->workers[k], "r/big");
    ASSERT_TRUE(held.ok()) << cluster->workers[k]->node_id() << ": "
                           << held.status().ToString();
    EXPECT_TRUE(*held == big) << "the copy on " << cluster->workers[k]->node_id();
  }
  // The first holder dies and comes back empty: the hand-over brings the
  // value back to it.
  std::string where = cluster->workers[a]->endpoint();
  std::string node = cluster->workers[a]->node_id();
  cluster->workers[a]->Kill(SIGKILL);
  ASSERT_TRUE(c->Get(Key(0)).ok());
  auto back = WorkerProcess::Start(node, "1GiB", where);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  cluster->workers[a] = std::move(*back);
  Result<std::string> again = Status::NotFound("");
  for (int round = 0; round < 150 && !again.ok(); ++round) {
    std::this_thread::sleep_for(100ms);
    for (int i = 0; i < 60; i += 6) (void)c->Get(Key(i));  // readmits it
    again = HeldBy(*cluster->workers[a], "r/big");
  }
  ASSERT_TRUE(again.ok()) << "not handed to the restarted worker: "
                          << again.status().ToString();
  EXPECT_TRUE(*again == big) << "the handed-over copy differs";
  // The other holder leaves (SIGTERM): the third worker takes its place
  // in the value's replica set and gets the whole value.
  cluster->workers[b]->Kill(SIGTERM);
  auto taken = HeldBy(*cluster->workers[third], "r/big");
  ASSERT_TRUE(taken.ok()) << "not copied on leave: " << taken.status().ToString();
  EXPECT_TRUE(*taken == big) << "the copy made on leave differs";
  auto read = c->Get("r/big");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(*read == big);
}

}  // namespace
}  // namespace shovel
