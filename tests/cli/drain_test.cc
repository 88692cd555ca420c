// A worker that leaves (shovelctl drain, SIGTERM) hands the ids only it
// would stop holding to the workers that take its place: real worker
// processes on loopback, shovelctl as a user runs it, a client writing
// all along.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client_fixture.h"
#include "ctl_run.h"
#include "shovel/client.h"

namespace shovel {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;
using testing::ConnectTo;
using testing::HeldBy;
using testing::WorkerProcess;

// shovelctl --workers WORKERS ARGS... (ctl_run.h): exit code, stdout, stderr.
CtlRun CtlAt(const std::string& workers, std::vector<std::string> args) {
  args.insert(args.begin(), {"--workers", workers});
  return Ctl(args);
}

std::string Id(int i) { return "drain/" + std::to_string(i); }

// Writes ids while a worker leaves; remembers what was acknowledged last,
// and the ids whose last write failed (either value may then be read).
class Writer {
 public:
  Writer(const std::vector<std::string>& endpoints, int ids) : ids_(ids) {
    client_ = ConnectTo(endpoints, 5000ms, 4ull << 20, 1);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::map<std::string, std::string>& acked() const { return acked_; }
  const std::set<std::string>& uncertain() const { return uncertain_; }
  int writes() const { return writes_; }

 private:
  void Loop() {
    for (int round = 0; !stop_; ++round) {
      for (int i = 0; i < ids_ && !stop_; ++i) {
        std::string id = "drain/w" + std::to_string(i);
        std::string v = "round " + std::to_string(round) + " of " + id;
        if (client_->Set(id, v).ok()) {
          acked_[id] = v;
          uncertain_.erase(id);
          ++writes_;
        } else {
          uncertain_.insert(id);
        }
      }
    }
  }
  const int ids_;
  std::unique_ptr<Client> client_;
  std::atomic<bool> stop_{false};
  std::map<std::string, std::string> acked_;
  std::set<std::string> uncertain_;
  int writes_ = 0;
  std::thread thread_;
};

TEST(Drain, OneCopyIdsMoveToTheirNextWorkerAndWritesGoOnMeanwhile) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectTo(cluster->endpoints(), 5000ms, 4ull << 20, 1);
  ASSERT_NE(c, nullptr);
  constexpr int kIds = 600;
  const std::string big(64 << 10, 'b');
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(c->Set(Id(i), (i % 10 == 0 ? big : "") + "v" + std::to_string(i)).ok());
  }
  Writer writer(cluster->endpoints(), 50);
  std::this_thread::sleep_for(200ms);
  CtlRun r = CtlAt(cluster->joined(), {"drain", "w2"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("w2 left: "), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
  // The drained worker ends by itself, exit 0.
  EXPECT_EQ(cluster->workers[1]->WaitExit(15s), 0);
  std::this_thread::sleep_for(300ms);  // writes go on without it
  writer.Stop();
  EXPECT_GT(writer.writes(), 50);
  // Every id reads back, through the same static list (w2 is gone).
  for (int i = 0; i < kIds; ++i) {
    auto v = c->Get(Id(i));
    ASSERT_TRUE(v.ok()) << Id(i) << ": " << v.status().ToString();
    EXPECT_EQ(*v, (i % 10 == 0 ? big : "") + "v" + std::to_string(i)) << Id(i);
  }
  // Writes acknowledged before, during and after the drain: the last one.
  for (const auto& [id, v] : writer.acked()) {
    if (writer.uncertain().count(id)) continue;
    auto got = c->Get(id);
    ASSERT_TRUE(got.ok()) << id << ": " << got.status().ToString();
    EXPECT_EQ(*got, v) << id;
  }
  // The members listing says it left (NODE_STATS is answered a second
  // longer, then it is unreachable); the others list no leave.
  CtlRun m = CtlAt(cluster->joined(), {"--json", "members"});
  EXPECT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.out.find("\"handover\""), std::string::npos) << m.out;
}

// Ids made by init are pinned where init put them (not by hashing). A
// drained worker hands each of its pinned ids to the id's home without it,
// pinned there; a pointer the home held for it is dropped.
TEST(Drain, PinnedIdsMoveToTheirHomeAndStayPinned) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectTo(cluster->endpoints(), 5000ms, 4ull << 20, 1);
  ASSERT_NE(c, nullptr);
  constexpr int kIds = 90;
  std::vector<std::string> ids;
  for (int i = 0; i < kIds; ++i) ids.push_back("pin/" + std::to_string(i));
  ASSERT_TRUE(c->Init(ids, InitStrategy::kUniformNodes).ok());
  int on_w2 = 0;
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(c->Append(ids[i], "part" + std::to_string(i)).ok()) << ids[i];
    auto holders = c->NodeIds(ids[i]);
    ASSERT_TRUE(holders.ok()) << holders.status().ToString();
    on_w2 += holders->front() == "w2";
  }
  EXPECT_EQ(on_w2, kIds / 3);  // init: exactly a third each
  CtlRun r = CtlAt(cluster->joined(), {"drain", "w2"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(cluster->workers[1]->WaitExit(15s), 0);
  for (int i = 0; i < kIds; ++i) {
    auto v = c->Get(ids[i]);
    ASSERT_TRUE(v.ok()) << ids[i] << ": " << v.status().ToString();
    EXPECT_EQ(*v, "part" + std::to_string(i));
    auto st = c->Stat(ids[i]);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_TRUE(st->pinned) << ids[i];
    ASSERT_FALSE(st->holders.empty());
    EXPECT_NE(st->holders.front(), "w2") << ids[i];
  }
}

TEST(Drain, TwoCopyIdsKeepTwoCopiesAfterASigterm) {
  auto cluster = Cluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto c = ConnectTo(cluster->endpoints(), 5000ms, 4ull << 20, 2);
  ASSERT_NE(c, nullptr);
  constexpr int kIds = 200;
  for (int i = 0; i < kIds; ++i) ASSERT_TRUE(c->Set(Id(i), "v" + std::to_string(i)).ok());
  // SIGTERM: the worker leaves as a drain does, with the peers it holds
  // leases with; exit 0.
  cluster->workers[1]->Kill(SIGTERM);
  for (int i = 0; i < kIds; ++i) {
    // Both live workers hold every id: no id is left with one copy.
    for (int w : {0, 2}) {
      auto held = HeldBy(*cluster->workers[w], Id(i));
      ASSERT_TRUE(held.ok()) << Id(i) << " on " << cluster->workers[w]->node_id() << ": "
                             << held.status().ToString();
      EXPECT_EQ(*held, "v" + std::to_string(i));
    }
  }
}

TEST(Drain, BadRequestsAreRefusedWithTheReasonAndNothingMoves) {
  auto cluster = Cluster::Start(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  CtlRun r = CtlAt(cluster->joined(), {"drain", "w9"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no worker 'w9' in the cluster"), std::string::npos) << r.err;
  // Only one worker listed: there is nowhere to go.
  CtlRun one = CtlAt(cluster->workers[0]->endpoint(), {"drain", "w1"});
  EXPECT_NE(one.code, 0);
  EXPECT_NE(one.err.find("w1 is the only worker: its ids have nowhere to go"),
            std::string::npos)
      << one.err;
  // Both still serve.
  auto c = ConnectTo(cluster->endpoints(), 5000ms, 4ull << 20, 1);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->Set("still", "here").ok());
  EXPECT_EQ(cluster->workers[0]->WaitExit(10ms), -1);
  EXPECT_EQ(cluster->workers[1]->WaitExit(10ms), -1);
}

}  // namespace
}  // namespace shovel
