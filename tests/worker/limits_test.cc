// Integration: a real shovel-worker keeps its resident memory within
// 1.25x --max-memory + 64 MiB whatever its clients do (docs/cache.md,
// "Limits"): a client that never reads its replies, many idle connections,
// values of mixed sizes. RSS is sampled every 100 ms from /proc (rss.h). Labelled
// `nosanitize`: resident memory under ASan measures the sanitizer.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "rss.h"
#include "worker_process.h"

namespace shovel::test {
namespace {

using Clock = std::chrono::steady_clock;
using wire::Op;
constexpr uint64_t kLimit = 256ull << 20;

// Text that zstd compresses about 3x: random words of a small vocabulary.
std::string Text(size_t n, uint32_t seed) {
  static const char* kWords[] = {"shovel ", "cache ",  "worker ", "memory ", "blob ",
                                 "chunk ",  "reply ",  "zstd ",   "peer ",   "bytes ",
                                 "limit ",  "router ", "dealer ", "quick ",  "brown "};
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    s += kWords[rng() % 15];
    if (rng() % 11 == 0) s += std::to_string(rng() % 100000) + "\n";
  }
  s.resize(n);
  return s;
}

std::string Mem(uint64_t bytes) { return std::to_string(MiB(bytes)) + " MiB"; }

wire::Header GetAll() {
  wire::Header g;
  g.op = Op::kGet;
  g.length = wire::kToEnd;
  return g;
}

// Waits until the background compressor has compressed `id` (stored bytes
// below its size), at most 10 s.
bool WaitCompressed(RawClient& c, const std::string& id) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    auto r = c.Call(Op::kStat, id);
    if (r.ok && r.header.status == Code::kOk) {
      auto st = wire::DecodeStat(r.payload.at(0));
      if (st.ok() && st->stored_bytes < st->size) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Sets `count` values named PREFIX/i, `value(i)` each, keeping up to 256
// requests in flight on one connection; false when one failed.
template <typename ValueFn>
bool PipelinedSets(RawClient& c, const std::string& prefix, int count, int window,
                   ValueFn value) {
  int sent = 0, got = 0;
  while (got < count) {
    while (sent < count && sent - got < window) {
      wire::Header h;
      h.op = Op::kSet;
      c.Send(h, prefix + std::to_string(sent), {value(sent)});
      ++sent;
    }
    auto r = c.Recv();
    if (!r.ok || r.header.status != Code::kOk) return false;
    ++got;
  }
  return true;
}

uint64_t MemUsed(RawClient& c) {
  auto r = c.Call(Op::kNodeStats, "");
  auto s = wire::DecodeNodeStats(r.payload.at(0));
  return s.ok() ? s->mem_used : 0;
}

// Waits up to `timeout` for the worker's RSS to come down to what it
// stores: 1.25x its mem_used + 64 MiB. Returns the last RSS seen.
uint64_t WaitRssBack(pid_t pid, RawClient& c, std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  uint64_t rss = RssBytes(pid);
  while (rss > RssBound(MemUsed(c)) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    rss = RssBytes(pid);
  }
  return rss;
}

// A raw DEALER that reads nothing: ZeroMQ on its side takes one message and
// a small kernel buffer, so the worker's replies stay queued at the worker.
class SlowReader {
 public:
  explicit SlowReader(const std::string& endpoint)
      : sock_(ctx_, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.set(zmq::sockopt::rcvhwm, 1);
    sock_.set(zmq::sockopt::rcvbuf, 64 << 10);
    sock_.set(zmq::sockopt::reconnect_ivl, 60000);  // stays away once closed
    sock_.connect(endpoint);
  }
  // One reply, waiting at most 10 s.
  RawReply Recv() {
    sock_.set(zmq::sockopt::rcvtimeo, 10000);
    return RecvRawReply(sock_);
  }
  void SendGets(const std::string& id, int n) {
    for (int i = 0; i < n; ++i) {
      wire::Header h = GetAll();
      h.request_id = static_cast<uint64_t>(i + 1);
      std::string hdr = wire::EncodeHeader(h);
      sock_.send(zmq::buffer(hdr), zmq::send_flags::sndmore);
      sock_.send(zmq::buffer(id), zmq::send_flags::none);
    }
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t sock_;
};

TEST(WorkerLimits, SlowReaderCannotGrowRss) {
  WorkerProcess w({"--max-memory", "256MiB", "--stuck-timeout", "3s"});
  ASSERT_FALSE(w.endpoint().empty()) << "worker did not start";
  RawClient c(w.endpoint());
  ASSERT_EQ(c.Call(Op::kSet, "big", {Text(4 << 20, 1)}).header.status, Code::kOk);
  ASSERT_TRUE(WaitCompressed(c, "big")) << "the value was never compressed";

  RssSampler rss(w.pid());
  const int sockets = SocketCount(w.pid());
  SlowReader slow(w.endpoint());
  slow.SendGets("big", 1000);
  // Another client is served promptly meanwhile.
  auto until = Clock::now() + std::chrono::milliseconds(2500);
  int served = 0;
  while (Clock::now() < until) {
    auto t0 = Clock::now();
    auto r = c.Call(Op::kSet, "other/" + std::to_string(served), {Text(1024, served)});
    ASSERT_TRUE(r.ok) << "a SET got no reply while a slow reader was connected";
    EXPECT_EQ(r.header.status, Code::kOk);
    r = c.Call(GetAll(), "big");
    ASSERT_TRUE(r.ok);
    ASSERT_EQ(r.header.status, Code::kOk);
    EXPECT_EQ(r.payload.at(0).size(), 4u << 20);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1)) << "a SET+GET took over 1 s";
    ++served;
  }
  EXPECT_GT(served, 5);
  // Stuck past --stuck-timeout: the worker closes the slow connection (the
  // slow side, reading nothing, does not notice).
  auto deadline = Clock::now() + std::chrono::seconds(8);
  while (SocketCount(w.pid()) > sockets && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(SocketCount(w.pid()), sockets)
      << "the worker did not close a connection whose replies were not taken";
  std::cout << "slow reader: peak RSS " << Mem(rss.peak()) << " (limit " << Mem(kLimit)
            << ", bound " << Mem(RssBound(kLimit)) << ")\n";
  EXPECT_LE(rss.peak(), RssBound(kLimit)) << "peak RSS " << Mem(rss.peak());
  EXPECT_EQ(c.Call(Op::kPing, "").header.status, Code::kOk);
  // The replies' memory comes back once they are dropped.
  uint64_t back = WaitRssBack(w.pid(), c, std::chrono::seconds(5));
  std::cout << "slow reader: RSS " << Mem(back) << " after it was closed, "
            << Mem(MemUsed(c)) << " stored\n";
  EXPECT_LE(back, RssBound(MemUsed(c)));
}

TEST(WorkerLimits, MixedSizesStayWithinTheBoundAndMemoryComesBack) {
  WorkerProcess w({"--max-memory", "256MiB"});
  ASSERT_FALSE(w.endpoint().empty()) << "worker did not start";
  RawClient c(w.endpoint());
  RssSampler rss(w.pid());
  // 1 MiB values, half again as many as fit, then 1 KiB writers.
  const std::string mib = Text(1 << 20, 7);
  ASSERT_TRUE(PipelinedSets(c, "big/", 384, 8, [&](int i) {
    std::string v = mib;
    std::memcpy(v.data(), &i, sizeof i);
    return v;
  }));
  uint64_t peak_big = rss.peak();
  ASSERT_TRUE(
      PipelinedSets(c, "small/", 300000, 256, [](int i) { return Text(1024, i); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::cout << "mixed sizes: peak RSS " << Mem(peak_big) << " after 1 MiB values, "
            << Mem(rss.peak()) << " after 1 KiB values (limit " << Mem(kLimit)
            << ", bound " << Mem(RssBound(kLimit)) << "), stored " << Mem(MemUsed(c))
            << "\n";
  EXPECT_LE(rss.peak(), RssBound(kLimit)) << "peak RSS " << Mem(rss.peak());
  uint64_t back = WaitRssBack(w.pid(), c, std::chrono::seconds(5));
  EXPECT_LE(back, RssBound(MemUsed(c)))
      << "RSS " << Mem(back) << " for " << Mem(MemUsed(c))
      << " stored, 5 s after the burst";
}

TEST(WorkerLimits, ParkedRequestsAreServedInOrderThenBusyPastTheParkBound) {
  WorkerProcess w({"--reply-bytes-per-connection", "1MiB"});
  ASSERT_FALSE(w.endpoint().empty()) << "worker did not start";
  RawClient c(w.endpoint());
  const std::string value = Text(1 << 20, 5);
  ASSERT_EQ(c.Call(Op::kSet, "v", {value}).header.status, Code::kOk);
  ASSERT_TRUE(WaitCompressed(c, "v"));  // GETs decompress on handler threads
  // A client that takes its replies late: its requests past the bound are
  // parked, not failed, and come back whole and in order.
  {
    SlowReader late(w.endpoint());
    late.SendGets("v", 40);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (int i = 0; i < 40; ++i) {
      auto r = late.Recv();
      ASSERT_TRUE(r.ok) << "reply " << i << " missing";
      EXPECT_EQ(r.header.status, Code::kOk) << (r.payload.empty() ? "" : r.payload[0]);
      EXPECT_EQ(r.payload.at(0) == value, true) << "reply " << i;
    }
  }
  // Past 64 parked requests (and 16 on handlers) the rest are "busy".
  SlowReader slow(w.endpoint());
  slow.SendGets("v", 300);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int ok = 0, busy = 0;
  std::string message;
  for (int i = 0; i < 300; ++i) {
    auto r = slow.Recv();
    ASSERT_TRUE(r.ok) << "reply " << i << " missing (" << ok << " ok, " << busy
                      << " busy)";
    if (r.header.status == Code::kOk) {
      ++ok;
    } else {
      ASSERT_EQ(r.header.status, Code::kUnavailable);
      message = r.payload.at(0);
      ++busy;
    }
  }
  EXPECT_GE(ok, 64);
  EXPECT_GT(busy, 0);
  EXPECT_NE(message.find("is busy: "), std::string::npos) << message;
  EXPECT_NE(message.find("replies to this connection are not yet taken"),
            std::string::npos);
}

TEST(WorkerLimits, IdleConnectionsAreClosedAfterTheTimeout) {
  WorkerProcess w({"--idle-timeout", "1s"});
  ASSERT_FALSE(w.endpoint().empty()) << "worker did not start";
  const int base = SocketCount(w.pid());
  RawClient c(w.endpoint());
  ASSERT_EQ(c.Call(Op::kPing, "").header.status, Code::kOk);
  EXPECT_EQ(SocketCount(w.pid()), base + 1);
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (SocketCount(w.pid()) > base && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(SocketCount(w.pid()), base)
      << "an idle connection was kept past --idle-timeout";
  // The client reconnects when it next sends.
  EXPECT_EQ(c.Call(Op::kPing, "").header.status, Code::kOk);
}

TEST(WorkerLimits, BadLimitFlagsAreNamed) {
  struct Case {
    std::string flags, expect;
  } cases[] = {
      {"--stuck-timeout 10ms", "stuck-timeout must be at least 100ms"},
      {"--stuck-timeout soon", "--stuck-timeout: "},
      {"--reply-bytes-per-connection 1KiB",
       "reply-bytes-per-connection must be at least 1 MiB"},
      {"--idle-timeout x", "--idle-timeout: "},
      {"--max-connections -1",
       "--max-connections must be 0 (from the open-files limit) or more"},
      {"--max-connections 99999999",
       "--max-connections must be 0 (from the open-files limit) to"},
      {"--handover-rate 64KiB", "handover-rate must be at least 1 MiB (per second)"},
      {"--handover-rate fast", "--handover-rate = 'fast': "},
      {"--watch-term 2m", "watch-term must be 0 (no watches) to 60s"},
      {"--watch-term soon", "--watch-term: "},
  };
  for (const auto& k : cases) {
    // `timeout`: a flag wrongly accepted must not hang the test.
    std::string cmd = "timeout 5 " + std::string(SHOVEL_WORKER_BIN) +
                      " --listen tcp://127.0.0.1:0 " + k.flags + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    int status = pclose(p);
    EXPECT_EQ(WEXITSTATUS(status), 2) << k.flags << ": " << out;
    EXPECT_NE(out.find(k.expect), std::string::npos) << k.flags << ": " << out;
  }
}

// `n` DEALER connections that never send (one context, ZeroMQ's default
// reconnect: a connection the worker closes comes back 100 ms later).
class IdleConnections {
 public:
  IdleConnections(const std::string& endpoint, int n) {
    ctx_.set(zmq::ctxopt::max_sockets, n + 16);
    for (int i = 0; i < n; ++i) {
      socks_.emplace_back(ctx_, zmq::socket_type::dealer);
      socks_.back().set(zmq::sockopt::linger, 0);
      socks_.back().connect(endpoint);
    }
  }

 private:
  zmq::context_t ctx_;
  std::vector<zmq::socket_t> socks_;
};

// Waits until the worker holds at least `n` sockets, at most 20 s.
int WaitSockets(pid_t pid, int n) {
  auto deadline = Clock::now() + std::chrono::seconds(20);
  int have = SocketCount(pid);
  while (have < n && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    have = SocketCount(pid);
  }
  return have;
}

// A SET and a GET on a client made now, answered within 1 s each.
void ExpectPromptSetGet(const std::string& endpoint, const std::string& what) {
  RawClient c(endpoint);
  auto t0 = Clock::now();
  auto r = c.Call(Op::kSet, "fresh", {"value"});
  ASSERT_TRUE(r.ok) << what << ": a new client's SET got no reply";
  EXPECT_EQ(r.header.status, Code::kOk);
  r = c.Call(GetAll(), "fresh");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.payload.at(0), "value");
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2)) << what;
}

TEST(WorkerLimits, ThousandIdleConnectionsUnderASoftLimitOf1024) {
  // `ulimit -Sn 1024` with a higher hard limit (the common default): the
  // worker raises its soft limit and takes them all.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 4096)
    GTEST_SKIP() << "hard limit too low";
  WorkerProcess w({"--max-memory", "256MiB"}, 1024);
  ASSERT_FALSE(w.endpoint().empty()) << "worker did not start";
  RssSampler rss(w.pid());
  const int base = SocketCount(w.pid());
  IdleConnections idle(w.endpoint(), 1000);
  EXPECT_GE(WaitSockets(w.pid(), base + 1000), base + 1000);
  double cpu0 = CpuSeconds(w.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  double cpu = CpuSeconds(w.pid()) - cpu0;
  EXPECT_LT(cpu, 0.5) << "the worker used " << cpu
                      << " CPU s in 2 s with idle connections";
  ExpectPromptSetGet(w.endpoint(), "1000 idle connections");
  std::cout << "1000 idle connections: peak RSS " << Mem(rss.peak()) << ", CPU " << cpu
            << " s in 2 s\n";
  EXPECT_LE(rss.peak(), RssBound(kLimit));
}

TEST(WorkerLimits, PastMaxConnectionsUnderAHardLimitOf1024) {
  // `ulimit -n 1024` (soft and hard): --max-connections defaults to 928;
  // the connections past it are closed at once, again on each reconnect,
  // without a busy loop, and a client connected before keeps working.
  WorkerProcess w({"--max-memory", "256MiB"}, 1024, 1024);
  ASSERT_FALSE(w.endpoint().empty()) << "worker did not start";
  RawClient before(w.endpoint());
  ASSERT_EQ(before.Call(Op::kSet, "k", {"v1"}).header.status, Code::kOk);
  RssSampler rss(w.pid());
  const int base = SocketCount(w.pid());
  IdleConnections idle(w.endpoint(), 1000);
  int have = WaitSockets(w.pid(), 928 + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  have = SocketCount(w.pid());
  EXPECT_LE(have, 928 + 1 + 8) << "more connections kept than --max-connections";
  EXPECT_GE(have, 928) << "base " << base;
  double cpu0 = CpuSeconds(w.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  double cpu = CpuSeconds(w.pid()) - cpu0;
  EXPECT_LT(cpu, 1.0) << "the worker used " << cpu
                      << " CPU s in 2 s refusing connections";
  auto t0 = Clock::now();
  auto r = before.Call(Op::kSet, "k", {"v2"});
  ASSERT_TRUE(r.ok) << "a connected client was locked out";
  EXPECT_EQ(r.header.status, Code::kOk);
  r = before.Call(GetAll(), "k");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.payload.at(0), "v2");
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
  std::cout << "1000 connections, hard limit 1024: " << have << " sockets kept, peak RSS "
            << Mem(rss.peak()) << ", CPU " << cpu << " s in 2 s\n";
  EXPECT_LE(rss.peak(), RssBound(kLimit));
}

}  // namespace
}  // namespace shovel::test
