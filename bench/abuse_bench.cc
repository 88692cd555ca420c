// shovel-bench-abuse: "RSS under abuse". Starts one shovel-worker per
// scenario at --max-memory LIMIT and samples its resident memory (VmRSS)
// every 100 ms while a raw ZeroMQ client misbehaves:
//   - slow reader: GETs of a compressed 4 MiB value, never reading a reply;
//   - idle connections: DEALERs that connect and never send;
//   - mixed sizes: 1 MiB values past the limit, then 1 KiB values;
//   - uploads: streamed uploads that send data and never commit.
// Prints peak RSS / limit against the promised bound (1.25x + 64 MiB), and
// the RSS 5 s after the scenario ended against what the worker then stores.
// --smoke runs small counts (the test suite does). Exit status 1 when a
// scenario passed the bound.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "rss.h"
#include "shovel/version.h"
#include "worker_process.h"

namespace shovel::test {
namespace {

using Clock = std::chrono::steady_clock;
using wire::Op;

struct Row {
  std::string scenario;
  uint64_t limit = 0, peak = 0, after = 0, stored = 0;
};

std::string Text(size_t n, uint32_t seed) {
  static const char* kWords[] = {"shovel ", "cache ", "worker ", "memory ", "blob ",
                                 "chunk ",  "reply ", "zstd ",   "peer ",   "bytes "};
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    s += kWords[rng() % 10];
    if (rng() % 11 == 0) s += std::to_string(rng() % 100000) + "\n";
  }
  s.resize(n);
  return s;
}

uint64_t MemUsed(RawClient& c) {
  auto r = c.Call(Op::kNodeStats, "");
  if (!r.ok || r.payload.empty()) return 0;
  auto s = wire::DecodeNodeStats(r.payload[0]);
  return s.ok() ? s->mem_used : 0;
}

void Sets(RawClient& c, const std::string& prefix, int count, int window,
          const std::function<std::string(int)>& value) {
  int sent = 0, got = 0;
  while (got < count) {
    while (sent < count && sent - got < window) {
      wire::Header h;
      h.op = Op::kSet;
      c.Send(h, prefix + std::to_string(sent++), {value(sent)});
    }
    if (!c.Recv().ok) return;
    ++got;
  }
}

// Runs `abuse` against a fresh worker; the row's `after` is the RSS 5 s
// after it returned.
Row Run(const std::string& name, uint64_t limit,
        const std::function<void(WorkerProcess&, RawClient&)>& abuse) {
  Row row{name, limit};
  WorkerProcess w(
      {"--max-memory", std::to_string(limit >> 20) + "MiB", "--stuck-timeout", "3s"},
      1024);
  if (w.endpoint().empty()) {
    std::fprintf(stderr, "%s: the worker did not start\n", name.c_str());
    return row;
  }
  RawClient c(w.endpoint());
  {
    RssSampler rss(w.pid());
    abuse(w, c);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    row.peak = rss.peak();
  }
  std::this_thread::sleep_for(std::chrono::seconds(5));
  row.after = RssBytes(w.pid());
  row.stored = MemUsed(c);
  return row;
}

int Main(int argc, char** argv) {
  bool smoke = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("shovel-bench-abuse %s\n", Version().c_str());
      return 0;
    }
    if (std::strcmp(argv[i], "--smoke") != 0) {
      std::fprintf(stderr, "usage: %s [--smoke] [--version]\n", argv[0]);
      return 2;
    }
    smoke = true;
  }
  const uint64_t limit = (smoke ? 64ull : 256ull) << 20;
  const int gets = smoke ? 100 : 1000, conns = smoke ? 200 : 1000;
  std::vector<Row> rows;

  rows.push_back(Run("slow reader", limit, [&](WorkerProcess& w, RawClient& c) {
    c.Call(Op::kSet, "big", {Text(4 << 20, 1)});
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // compressed
    zmq::context_t ctx;
    zmq::socket_t slow(ctx, zmq::socket_type::dealer);
    slow.set(zmq::sockopt::linger, 0);
    slow.set(zmq::sockopt::rcvhwm, 1);
    slow.set(zmq::sockopt::rcvbuf, 64 << 10);
    slow.connect(w.endpoint());
    for (int i = 0; i < gets; ++i) {
      wire::Header h;
      h.op = Op::kGet;
      h.length = wire::kToEnd;
      h.request_id = static_cast<uint64_t>(i + 1);
      std::string hdr = wire::EncodeHeader(h);
      slow.send(zmq::buffer(hdr), zmq::send_flags::sndmore);
      slow.send(zmq::buffer(std::string("big")), zmq::send_flags::none);
    }
    std::this_thread::sleep_for(std::chrono::seconds(4));  // past --stuck-timeout
  }));

  rows.push_back(Run(std::to_string(conns) + " idle connections", limit,
                     [&](WorkerProcess& w, RawClient& c) {
                       zmq::context_t ctx;
                       ctx.set(zmq::ctxopt::max_sockets, conns + 16);
                       std::vector<zmq::socket_t> socks;
                       for (int i = 0; i < conns; ++i) {
                         socks.emplace_back(ctx, zmq::socket_type::dealer);
                         socks.back().set(zmq::sockopt::linger, 0);
                         socks.back().connect(w.endpoint());
                       }
                       std::this_thread::sleep_for(std::chrono::seconds(3));
                       c.Call(Op::kSet, "fresh", {"value"});
                     }));

  rows.push_back(Run("1 MiB then 1 KiB values", limit, [&](WorkerProcess&, RawClient& c) {
    const std::string mib = Text(1 << 20, 7);
    Sets(c, "big/", static_cast<int>(limit * 3 / 2 >> 20), 8, [&](int i) {
      std::string v = mib;
      std::memcpy(v.data(), &i, sizeof i);
      return v;
    });
    Sets(c, "small/", static_cast<int>(limit * 6 / 5 >> 10), 256,
         [](int i) { return Text(1024, i); });
  }));

  rows.push_back(Run("uploads never committed", limit, [&](WorkerProcess&, RawClient& c) {
    const std::string chunk = Text(4 << 20, 3);
    for (int u = 0; u < 16; ++u) {
      auto r = c.Call(Op::kUploadBegin, "up/" + std::to_string(u));
      if (!r.ok || r.header.status != Code::kOk) continue;
      for (uint64_t off = 0; off < (32ull << 20); off += chunk.size()) {
        wire::Header h;
        h.op = Op::kUploadData;
        h.aux = r.header.aux;
        h.offset = off;
        auto d = c.Call(h, "", {chunk});
        if (!d.ok || d.header.status != Code::kOk) break;
      }
    }
  }));

  bool over = false;
  std::printf(
      "RSS under abuse: shovel-worker at --max-memory %.0f MiB, bound 1.25x + 64 MiB\n",
      MiB(limit));
  std::printf("%-26s %10s %12s %8s %14s %12s %10s\n", "scenario", "limit MiB",
              "peak RSS MiB", "peak/lim", "bound/lim", "RSS 5s after", "stored MiB");
  for (const Row& r : rows) {
    double bound = static_cast<double>(RssBound(r.limit)) / static_cast<double>(r.limit);
    std::printf("%-26s %10.0f %12.1f %7.2fx %13.2fx %12.1f %10.1f\n", r.scenario.c_str(),
                MiB(r.limit), MiB(r.peak),
                static_cast<double>(r.peak) / static_cast<double>(r.limit), bound,
                MiB(r.after), MiB(r.stored));
    if (r.peak == 0 || r.peak > RssBound(r.limit)) over = true;
  }
  return over ? 1 : 0;
}

}  // namespace
}  // namespace shovel::test

int main(int argc, char** argv) { return shovel::test::Main(argc, argv); }
