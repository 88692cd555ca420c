// Integration: a real shovel-worker keeps its resident memory within
// 1.25x --max-memory + 64 MiB whatever its clients do (issue 20): a client
// that never reads its replies, many idle connections, values of mixed
// sizes. RSS is sampled every 100 ms from /proc (rss.h). Labelled
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
}

}  // namespace
}  // namespace shovel::test
