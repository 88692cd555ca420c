#include "shovel/consul/watch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

namespace shovel::consul {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

TEST(NextIndexTest, ConsulRules) {
  EXPECT_EQ(NextIndex(0, 10).next_index, 10u);
  EXPECT_TRUE(NextIndex(0, 10).changed);
  EXPECT_EQ(NextIndex(10, 10).next_index, 10u);  // timed out, nothing new
  EXPECT_FALSE(NextIndex(10, 10).changed);
  EXPECT_EQ(NextIndex(10, 12).next_index, 12u);
  EXPECT_TRUE(NextIndex(10, 12).changed);
  // Went backwards: reset (0, raised to the safe minimum 1), a change.
  EXPECT_EQ(NextIndex(12, 5).next_index, 1u);
  EXPECT_TRUE(NextIndex(12, 5).changed);
  // A zero index from Consul must never be sent back (busy loop).
  EXPECT_EQ(NextIndex(0, 0).next_index, 1u);
  EXPECT_EQ(NextIndex(7, 0).next_index, 1u);
}

// A query fed from a script of results; records the indexes it was sent.
struct ScriptedQuery {
  std::mutex mu;
  std::deque<Result<uint64_t>> script;
  std::vector<uint64_t> sent;
  Result<uint64_t> operator()(const QueryOptions& q) {
    std::lock_guard<std::mutex> lock(mu);
    sent.push_back(q.index);
    if (script.empty()) return Status::Unavailable("script done");
    Result<uint64_t> r = script.front();
    script.pop_front();
    return r;
  }
};

template <typename Pred>
bool WaitFor(Pred pred, milliseconds limit = milliseconds(3000)) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return pred();
}

TEST(WatchTest, CallsBackOnlyWhenTheIndexChanges) {
  auto q = std::make_shared<ScriptedQuery>();
  q->script = {Result<uint64_t>(5), Result<uint64_t>(5), Result<uint64_t>(7),
               Result<uint64_t>(3), Result<uint64_t>(0), Result<uint64_t>(9)};
  std::mutex mu;
  std::vector<uint64_t> seen;
  WatchOptions o;
  o.min_interval = milliseconds(1);
  o.backoff_initial = milliseconds(1000);
  Watch w([q](const QueryOptions& opt) { return (*q)(opt); },
          [&](uint64_t index) {
            std::lock_guard<std::mutex> lock(mu);
            seen.push_back(index);
          },
          nullptr, o);
  w.Start();
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(q->mu);
    return q->sent.size() >= 7;
  }));
  w.Stop();
  std::lock_guard<std::mutex> lock(mu);
  // 5 (first), 7, 3 (backwards: reset), 0 (backwards again), 9; never the
  // repeated 5.
  EXPECT_EQ(seen, (std::vector<uint64_t>{5, 7, 3, 0, 9}));
  std::vector<uint64_t> sent(q->sent.begin(), q->sent.begin() + 7);
  EXPECT_EQ(sent, (std::vector<uint64_t>{0, 5, 5, 7, 1, 1, 9}));
}

TEST(WatchTest, RateLimitsTheLoop) {
  std::atomic<int> calls{0};
  WatchOptions o;
  o.min_interval = milliseconds(100);
  Watch w([&](const QueryOptions&) -> Result<uint64_t> { return ++calls, uint64_t{5}; },
          [](uint64_t) {}, nullptr, o);
  auto start = Clock::now();
  w.Start();
  std::this_thread::sleep_for(milliseconds(550));
  w.Stop();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_GE(calls.load(), 4);
  EXPECT_LE(calls.load(), static_cast<int>(secs / 0.1) + 1);
}

TEST(WatchTest, BacksOffOnErrorsAndReportsThem) {
  std::atomic<int> calls{0}, errors{0};
  WatchOptions o;
  o.min_interval = milliseconds(1);
  o.backoff_initial = milliseconds(100);
  o.backoff_max = milliseconds(400);
  Watch w(
      [&](const QueryOptions&) -> Result<uint64_t> {
        ++calls;
        return Status::Unavailable("agent away");
      },
      [](uint64_t) {}, [&](const Status& s) { ++errors; }, o);
  w.Start();
  std::this_thread::sleep_for(milliseconds(800));
  w.Stop();
  // Waits 100, 200, 400, 400 ms after failures: about 4 calls, never a spin.
  EXPECT_GE(calls.load(), 3);
  EXPECT_LE(calls.load(), 5);
  EXPECT_EQ(errors.load(), calls.load());
}

TEST(WatchTest, StopCancelsABlockedQueryPromptly) {
  std::atomic<bool> started{false};
  WatchOptions o;
  o.wait = std::chrono::minutes(5);
  Watch w(
      [&](const QueryOptions& q) -> Result<uint64_t> {
        started = true;
        auto deadline = Clock::now() + std::chrono::seconds(10);
        while (!q.cancel->cancelled() && Clock::now() < deadline) {
          std::this_thread::sleep_for(milliseconds(2));
        }
        return Status::Unavailable("cancelled");
      },
      [](uint64_t) { ADD_FAILURE() << "no result was produced"; }, nullptr, o);
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return started.load(); }));
  auto before = Clock::now();
  w.Stop();
  EXPECT_LT(Clock::now() - before, milliseconds(200));
}

TEST(WatchTest, MakeWatchDeliversTypedValues) {
  std::atomic<int> n{0};
  std::mutex mu;
  std::vector<std::string> values;
  std::function<Result<Indexed<std::string>>(const QueryOptions&)> read =
      [&](const QueryOptions& q) -> Result<Indexed<std::string>> {
    int i = ++n;
    if (i > 2) {
      std::this_thread::sleep_for(milliseconds(20));
      return Indexed<std::string>{"v2", 2};
    }
    return Indexed<std::string>{"v" + std::to_string(i), static_cast<uint64_t>(i)};
  };
  auto w = MakeWatch<std::string>(
      read,
      [&](const std::string& v, uint64_t) {
        std::lock_guard<std::mutex> lock(mu);
        values.push_back(v);
      },
      nullptr, WatchOptions{.min_interval = milliseconds(1)});
  w->Start();
  ASSERT_TRUE(WaitFor([&] { return n.load() >= 4; }));
  w->Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(values, (std::vector<std::string>{"v1", "v2"}));
}

}  // namespace
}  // namespace shovel::consul
