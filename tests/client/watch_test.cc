// Watches against real shovel-worker processes: a watched STAT answers
// without a round trip, a change is seen by the next one, and a change
// waits for a watcher that does not answer until its term ran out.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>
#include <zmq_addon.hpp>

#include "client_fixture.h"
#include "shovel/client.h"
#include "shovel/protocol.h"

namespace shovel {
namespace {

using namespace std::chrono_literals;
using testing::ConnectTo;
using testing::WaitStopped;
using testing::WorkerProcess;
using Clock = std::chrono::steady_clock;

std::unique_ptr<WorkerProcess> StartWorker(
    const std::vector<std::string>& extra = {},
    const std::string& listen = "tcp://127.0.0.1:0") {
  auto w = WorkerProcess::Start("w1", "256MiB", listen, extra);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(*w) : nullptr;
}

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

TEST(Watches, AWatchedStatAnswersWithoutTheWorkerAndSeesEveryAcknowledgedChange) {
  auto w = StartWorker();
  ASSERT_NE(w, nullptr);
  auto reader = ConnectTo({w->endpoint()});
  auto writer = ConnectTo({w->endpoint()});
  ASSERT_TRUE(reader && writer);
  auto v1 = writer->Set("f", "one");
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  auto st = reader->WatchedStat("f");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->version, *v1);
  EXPECT_EQ(st->size, 3u);

  // The worker is stopped: only an answer kept under the watch can come.
  ASSERT_EQ(kill(w->pid(), SIGSTOP), 0);
  ASSERT_TRUE(WaitStopped(w->pid()));
  auto t = Clock::now();
  auto kept = reader->WatchedStat("f");
  EXPECT_LT(MsSince(t), 200);
  ASSERT_EQ(kill(w->pid(), SIGCONT), 0);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->version, *v1);

  // Each acknowledged change is seen by the next watched Stat, however
  // soon it comes.
  for (int i = 0; i < 300; ++i) {
    auto v = writer->Set("f", std::string(static_cast<size_t>(i % 7 + 1), 'x'));
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    auto seen = reader->WatchedStat("f");
    ASSERT_TRUE(seen.ok()) << seen.status().ToString();
    ASSERT_EQ(seen->version, *v) << "round " << i;
    ASSERT_EQ(seen->size, static_cast<uint64_t>(i % 7 + 1));
  }
  // So is a delete, and a name created after a miss.
  ASSERT_TRUE(writer->Delete("f").ok());
  EXPECT_TRUE(reader->WatchedStat("f").status().IsNotFound());
  ASSERT_TRUE(writer->Set("f", "back").ok());
  auto back = reader->WatchedStat("f");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size, 4u);
}

// A raw connection that asks for a watch on `id` and then answers nothing.
struct SilentWatcher {
  zmq::context_t ctx;
  zmq::socket_t s{ctx, zmq::socket_type::dealer};
  uint64_t term_ms = 0;

  explicit SilentWatcher(const std::string& endpoint, const std::string& id) {
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvtimeo, 3000);
    s.connect(endpoint);
    wire::Header h;
    h.op = wire::Op::kStat;
    h.flags = wire::kFlagWatch;
    h.request_id = 1;
    std::vector<zmq::message_t> out;
    out.emplace_back(wire::EncodeHeader(h));
    out.emplace_back(id.data(), id.size());
    zmq::send_multipart(s, out);
    std::vector<zmq::message_t> reply;
    EXPECT_TRUE(zmq::recv_multipart(s, std::back_inserter(reply)));
    auto rh = wire::DecodeHeader(reply.at(0).to_string_view());
    EXPECT_TRUE(rh.ok());
    EXPECT_TRUE(rh->flags & wire::kFlagWatch);
    term_ms = rh->aux;
  }
  // The next message: the CHANGED notice's id, or "" after 3 s.
  std::string NextChanged() {
    std::vector<zmq::message_t> m;
    if (!zmq::recv_multipart(s, std::back_inserter(m)) || m.size() < 2) return "";
    auto h = wire::DecodeHeader(m[0].to_string_view());
    if (!h.ok() || h->op != wire::Op::kChanged || (h->flags & wire::kFlagReply))
      return "?";
    return m[1].to_string();
  }
};

TEST(Watches, AChangeWaitsForAWatcherThatDoesNotAnswerUntilItsTermRunsOut) {
  auto w = StartWorker({"--watch-term", "700ms"});
  ASSERT_NE(w, nullptr);
  auto writer = ConnectTo({w->endpoint()});
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->Set("g", "one").ok());
  // The worker counts the term from when the STAT arrived, after this.
  const auto asked = Clock::now();
  SilentWatcher silent(w->endpoint(), "g");
  EXPECT_EQ(silent.term_ms, 700u);
  auto t = Clock::now();
  auto v = writer->Set("g", "two");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_GE(MsSince(asked), 695)
      << "the change was acknowledged before the watch ran out";
  EXPECT_LT(MsSince(t), 2500);
  EXPECT_EQ(silent.NextChanged(), "g");
  // Its watch ended with the change: the next one goes at once.
  t = Clock::now();
  ASSERT_TRUE(writer->Set("g", "three").ok());
  EXPECT_LT(MsSince(t), 400);
  // And a watcher that answers (a client) costs a round trip, not a term.
  auto reader = ConnectTo({w->endpoint()});
  ASSERT_TRUE(reader->WatchedStat("g").ok());
  t = Clock::now();
  ASSERT_TRUE(writer->Set("g", "four").ok());
  EXPECT_LT(MsSince(t), 400);
  auto seen = reader->WatchedStat("g");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->size, 4u);
}

TEST(Watches, WatchesHoldPastTheirTermWhileTheClientRenewsThem) {
  auto w = StartWorker({"--watch-term", "600ms"});
  ASSERT_NE(w, nullptr);
  auto reader = ConnectTo({w->endpoint()});
  auto writer = ConnectTo({w->endpoint()});
  ASSERT_TRUE(writer->Set("h", "one").ok());
  ASSERT_TRUE(reader->WatchedStat("h").ok());
  std::this_thread::sleep_for(1500ms);  // two and a half terms: renewed meanwhile
  ASSERT_EQ(kill(w->pid(), SIGSTOP), 0);
  ASSERT_TRUE(WaitStopped(w->pid()));
  auto t = Clock::now();
  auto kept = reader->WatchedStat("h");
  EXPECT_LT(MsSince(t), 200);
  ASSERT_EQ(kill(w->pid(), SIGCONT), 0);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->size, 3u);
  ASSERT_TRUE(writer->Set("h", "three").ok());
  auto seen = reader->WatchedStat("h");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->size, 5u);
}

TEST(Watches, WatchesAClientNoLongerUsesLapse) {
  auto w = StartWorker({"--watch-term", "300ms"});
  ASSERT_NE(w, nullptr);
  auto reader = ConnectTo({w->endpoint()}, 500ms);
  ASSERT_TRUE(reader->Set("i", "one").ok());
  ASSERT_TRUE(reader->WatchedStat("i").ok());
  // Unused for 4 terms, not renewed after: gone here and at the worker.
  std::this_thread::sleep_for(2200ms);
  ASSERT_EQ(kill(w->pid(), SIGSTOP), 0);
  ASSERT_TRUE(WaitStopped(w->pid()));
  auto asked = reader->WatchedStat("i");
  ASSERT_EQ(kill(w->pid(), SIGCONT), 0);
  EXPECT_FALSE(asked.ok()) << "a watch unused for 4 terms was still used";
}

TEST(Watches, AWorkerThatDiedEndsItsWatchesAndOneOnAFixedPortHoldsWritesForATerm) {
  auto w = StartWorker({"--watch-term", "2s"});
  ASSERT_NE(w, nullptr);
  const std::string endpoint = w->endpoint();
  auto reader = ConnectTo({endpoint});
  ASSERT_TRUE(reader->Set("k", "before").ok());
  ASSERT_TRUE(reader->WatchedStat("k").ok());
  w->Kill(SIGKILL);
  w.reset();
  // Its term after start is counted from after this.
  const auto spawned = Clock::now();
  w = StartWorker({"--watch-term", "2s"}, endpoint);
  ASSERT_NE(w, nullptr);
  auto writer = ConnectTo({endpoint});
  auto v = writer->Set("k", "after!");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_GE(MsSince(spawned), 1995) << "a write in the first term after a restart at "
                                       "the same address was not held";
  auto seen = reader->WatchedStat("k");
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->version, *v);
  // Past the term, writes go at once.
  auto t = Clock::now();
  ASSERT_TRUE(writer->Set("k", "later").ok());
  EXPECT_LT(MsSince(t), 400);
}

}  // namespace
}  // namespace shovel
