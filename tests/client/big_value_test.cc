// A 1 GiB value round trip, streamed both ways and compared byte for byte,
// with client memory bounded (the value is generated and checked piecewise).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "shovel/client.h"
#include "worker_fixture.h"

namespace shovel {
namespace {

using namespace std::chrono_literals;

// Deterministic, moderately compressible bytes: piece k of the stream.
void Fill(std::string& buf, uint64_t piece) {
  std::mt19937_64 rng(piece * 7919 + 1);
  for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
    uint64_t v = rng() & 0x0f0f0f0f0f0f0f0fULL;  // 16 symbols per byte
    v |= 0x4040404040404040ULL;
    memcpy(&buf[i], &v, 8);
  }
}

TEST(BigValue, OneGiBRoundTripByteForByte) {
  auto w = testing::WorkerProcess::Start("w1", "3GiB");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ClientOptions o;
  o.workers = {(*w)->endpoint()};
  o.deadline = 30000ms;
  auto c = Client::Connect(o);
  ASSERT_TRUE(c.ok());
  constexpr uint64_t kTotal = 1ull << 30, kPiece = 4 << 20;
  std::string buf(kPiece, '\0');
  auto t0 = std::chrono::steady_clock::now();
  {
    auto writer = (*c)->OpenWriter("big/gib", WriteMode::kSet);
    ASSERT_TRUE(writer.ok());
    for (uint64_t k = 0; k < kTotal / kPiece; ++k) {
      Fill(buf, k);
      ASSERT_TRUE((*writer)->Write(buf).ok()) << k;
    }
    auto v = (*writer)->Commit();
    ASSERT_TRUE(v.ok()) << v.status().ToString();
  }
  auto t1 = std::chrono::steady_clock::now();
  auto st = (*c)->Stat("big/gib");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, kTotal);
  uint64_t pos = 0, mismatches = 0;
  std::string expect(kPiece, '\0');
  Status s = (*c)->GetTo("big/gib", 0, kWholeBlob, [&](std::string_view piece) {
    while (!piece.empty()) {
      uint64_t k = pos / kPiece, in = pos % kPiece;
      if (in == 0) Fill(expect, k);
      size_t n = std::min<size_t>(piece.size(), kPiece - in);
      if (memcmp(piece.data(), expect.data() + in, n) != 0) ++mismatches;
      piece.remove_prefix(n);
      pos += n;
    }
    return Status::Ok();
  });
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pos, kTotal);
  EXPECT_EQ(mismatches, 0u);
  auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("1 GiB set %.2f s (%.2f GB/s), get %.2f s (%.2f GB/s), stored %.0f MiB\n",
              secs(t1 - t0), kTotal / secs(t1 - t0) / 1e9, secs(t2 - t1),
              kTotal / secs(t2 - t1) / 1e9, st->stored_bytes / 1048576.0);
}

// A client with two ZeroMQ I/O threads: 1 MiB values from four threads at
// once come back whole.
TEST(BigValue, TwoIoThreadsMoveValuesWhole) {
  auto w = testing::WorkerProcess::Start("w1");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ClientOptions o;
  o.workers = {(*w)->endpoint()};
  o.io_threads = 2;
  auto c = Client::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string v(1 << 20, '\0');
      for (int i = 0; i < 8; ++i) {
        Fill(v, t * 100 + i);
        std::string id = "io/" + std::to_string(t) + "/" + std::to_string(i);
        if (!(*c)->Set(id, v).ok()) ++wrong;
        auto got = (*c)->Get(id);
        if (!got.ok() || *got != v) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace shovel
