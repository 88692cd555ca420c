// Store unit tests: borrowed frames and background compression. No sockets.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "shovel/worker/store.h"
#include "store_test_util.h"

namespace shovel::worker {
namespace {

using testing::Cfg;
using testing::RandomBytes;
using testing::ReadAll;
using testing::Text;

TEST(StoreCompressTest, RawChunkBorrowsTheKeptFrame) {
  Store s("w1", Cfg(64 << 20, 1 << 20));
  auto frame = std::make_shared<std::string>(RandomBytes(256 << 10, 1));
  ASSERT_TRUE(s.Set("a", *frame, {}, frame).ok());
  EXPECT_GT(frame.use_count(), 1);  // the store holds the frame, not a copy
  {
    auto r = s.Read("a", 0, wire::kToEnd, 1 << 20);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->bytes.data, frame->data());  // replies are zero-copy too
  }
  EXPECT_EQ(s.Stat("a")->stored_bytes, frame->size());
  std::string want = *frame;
  uint64_t used = s.Stats().mem_used;
  EXPECT_GE(used, want.size());
  ASSERT_TRUE(s.Delete("a").ok());
  EXPECT_EQ(frame.use_count(), 1);  // released with the blob
  EXPECT_EQ(s.Stats().mem_used, 0u);
  // A value of several chunks is copied (its frame is not charged whole).
  auto big = std::make_shared<std::string>(RandomBytes(3 << 20, 2));
  ASSERT_TRUE(s.Set("b", *big, {}, big).ok());
  EXPECT_EQ(big.use_count(), 1);
  EXPECT_TRUE(ReadAll(s, "b") == *big);
}

TEST(StoreCompressTest, SetIsRawThenCompressedInTheBackground) {
  Store s("w1", Cfg(64 << 20));
  s.CompressInBackground(true);
  std::string v = Text(300 << 10) + RandomBytes(100 << 10, 3);
  auto w = s.Set("t", v);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 500 && s.Stat("t")->stored_bytes == v.size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto st = s.Stat("t");
  EXPECT_LT(st->stored_bytes, v.size());    // the text part compressed
  EXPECT_GT(st->stored_bytes, 100u << 10);  // the random part did not
  EXPECT_EQ(st->version, w->version);       // same value, same version
  EXPECT_TRUE(ReadAll(s, "t") == v);
  s.CompressInBackground(false);
}

TEST(StoreCompressTest, DeferredAccountingEndsWhereACompressedSetStarts) {
  std::string v = Text(1 << 20);
  Store now("w1", Cfg(64 << 20));  // compresses before Set returns
  ASSERT_TRUE(now.Set("x", v).ok());
  Store later("w2", Cfg(64 << 20));
  later.CompressInBackground(true);
  ASSERT_TRUE(later.Set("x", v).ok());
  while (later.CompressPending() > 0) {
  }
  for (int i = 0; i < 500 && later.Stat("x")->stored_bytes == v.size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(later.Stat("x")->stored_bytes, now.Stat("x")->stored_bytes);
  EXPECT_EQ(later.Stats().mem_used, now.Stats().mem_used);
  EXPECT_TRUE(ReadAll(later, "x") == v);
}

TEST(StoreCompressTest, PressureCompressesBeforeEvicting) {
  // 8 MiB limit; 6 text values of 1 MiB raw fit only once compressed.
  Store s("w1", Cfg(8 << 20, 1 << 20));
  s.CompressInBackground(true);
  std::vector<std::string> vals;
  for (int i = 0; i < 12; ++i) {
    vals.push_back(Text(1 << 20) + std::to_string(i));
    vals.back().resize(1 << 20);
    ASSERT_TRUE(s.Set("v" + std::to_string(i), vals.back()).ok()) << i;
    EXPECT_LE(s.Stats().mem_used, 8u << 20);
  }
  EXPECT_EQ(s.Stats().evictions, 0u);  // compression made room, not eviction
  for (int i = 0; i < 12; ++i)
    EXPECT_TRUE(ReadAll(s, "v" + std::to_string(i)) == vals[i]);
  // Pinned data is compressed too, and its pinned accounting follows.
  ASSERT_TRUE(s.Create("p", true, false).ok());
  WriteOptions pin;
  pin.pinned = true;
  ASSERT_TRUE(s.Set("p", Text(1 << 20), pin).ok());
  while (s.CompressPending() > 0) {
  }
  for (int i = 0; i < 200 && s.Stat("p")->stored_bytes == (1u << 20); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_LT(s.Stats().pinned_bytes, 1u << 20);
  ASSERT_TRUE(s.Delete("p").ok());
  EXPECT_EQ(s.Stats().pinned_bytes, 0u);
}

TEST(StoreCompressTest, AnIdWrittenManyTimesIsQueuedOnce) {
  Store s("w1", Cfg(64 << 20));
  s.CompressInBackground(true);  // its thread waits kCompressAfterNs (1 s)
  std::string v = Text(8 << 10);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(s.Set("k", v + std::to_string(i)).ok());
  ASSERT_TRUE(s.Set("other", v).ok());
  // One queue entry per id, not one per write (each cost the queue's lock,
  // a string and a wake-up of the compressor).
  EXPECT_LE(s.CompressPending(), 2u);
  EXPECT_LT(s.Stat("k")->stored_bytes, v.size());
  EXPECT_LT(s.Stat("other")->stored_bytes, v.size());
  EXPECT_TRUE(ReadAll(s, "k") == v + "49");
  // Once compressed the id is queued again by its next write.
  ASSERT_TRUE(s.Set("k", v).ok());
  while (s.CompressPending() > 0) {
  }
  EXPECT_LT(s.Stat("k")->stored_bytes, v.size());
  // Rename moves the queued state with the id: written, renamed, compressed.
  ASSERT_TRUE(s.Set("a", v).ok());
  ASSERT_TRUE(s.Rename("a", "b", false).ok());
  while (s.CompressPending() > 0) {
  }
  EXPECT_LT(s.Stat("b")->stored_bytes, v.size());
  EXPECT_TRUE(ReadAll(s, "b") == v);
  s.CompressInBackground(false);
}

TEST(StoreCompressTest, SmallValuesAreSortedByHowTheyCompress) {
  Store s("w1", Cfg(64 << 20));
  s.CompressInBackground(true);  // its thread waits kCompressAfterNs (1 s)
  // Sizes that take each sampling path: every byte, spread samples, runs.
  for (size_t n : {200u, 1024u, 4096u, 64u << 10}) {
    std::string rnd = RandomBytes(n, static_cast<uint32_t>(n));
    std::string txt = Text(n);
    std::string same(n, 'x');
    ASSERT_TRUE(s.Set("r", rnd).ok());
    ASSERT_TRUE(s.Set("t", txt).ok());
    ASSERT_TRUE(s.Set("x", same).ok());
    // Random bytes are not even queued; text and one repeated byte are.
    EXPECT_LE(s.CompressPending(), 2u) << n;
    EXPECT_EQ(s.Stat("r")->stored_bytes, n) << n;
    EXPECT_LT(s.Stat("t")->stored_bytes, n) << n;
    EXPECT_LT(s.Stat("x")->stored_bytes, n) << n;
    EXPECT_TRUE(ReadAll(s, "r") == rnd);
    EXPECT_TRUE(ReadAll(s, "t") == txt);
    EXPECT_TRUE(ReadAll(s, "x") == same);
  }
  s.CompressInBackground(false);
}

// `count` sample bytes with exactly `pairs` equal (unordered) pairs, in a
// shuffled order: runs of one byte value c long add c(c-1)/2 each.
std::string SamplesWithPairs(size_t count, uint64_t pairs) {
  std::string out;
  unsigned char next = 0;
  while (pairs > 0) {
    uint64_t c = 2;
    while ((c + 1) * c / 2 <= pairs) ++c;
    out.append(c, static_cast<char>(next++));
    pairs -= c * (c - 1) / 2;
  }
  while (out.size() < count) out.push_back(static_cast<char>(next++));
  EXPECT_EQ(out.size(), count);
  std::shuffle(out.begin(), out.end(), std::mt19937(7));
  return out;
}

TEST(StoreCompressTest, TheProbeLineIsExact) {
  // A value is stored raw without a zstd pass when its sampled bytes have
  // fewer than s(s-1)/256 equal pairs (s samples: collision entropy above
  // 7 bits); at the line it is queued for compression.
  struct Case {
    size_t n;        // value size
    size_t samples;  // bytes the probe samples
    uint64_t line;   // fewest equal pairs that rule "compressible"
  };
  for (Case c : {Case{200, 200, 156}, Case{256, 256, 255}, Case{1000, 256, 255},
                 Case{1024, 256, 255}, Case{4096, 256, 255}}) {
    Store s("w1", Cfg(64 << 20));
    s.CompressInBackground(true);  // its thread waits kCompressAfterNs (1 s)
    for (uint64_t pairs : {c.line - 1, c.line}) {
      std::string samples = SamplesWithPairs(c.samples, pairs);
      std::string v(c.n, 'z');  // bytes between the samples are not read
      for (size_t i = 0; i < c.samples; ++i) v[i * c.n / c.samples] = samples[i];
      ASSERT_TRUE(s.Set("k", v).ok());
      EXPECT_EQ(s.CompressPending(), pairs < c.line ? 0u : 1u)
          << c.n << " bytes, " << pairs << " pairs";
      EXPECT_TRUE(ReadAll(s, "k") == v);
    }
    s.CompressInBackground(false);
  }
}

TEST(StoreCompressTest, ConcurrentWritesNeverSeeAMix) {
  Store s("w1", Cfg(64 << 20, 64 << 10));
  s.CompressInBackground(true);
  std::string a = Text(200 << 10), b = std::string(200 << 10, 'b');
  // The id exists before the reader starts: ReadAll asserts it is found.
  ASSERT_TRUE(s.Set("k", b).ok());
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) {
      auto got = ReadAll(s, "k");
      if (!got.empty()) {
        EXPECT_TRUE(got == a || got == b);
      }
    }
  });
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(s.Set("k", i % 2 ? a : b).ok());
  stop = true;
  reader.join();
  for (int i = 0; i < 1000 && s.CompressPending() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(s.CompressPending(), 0u);
  EXPECT_TRUE(ReadAll(s, "k") == a);
  ASSERT_TRUE(s.Delete("k").ok());
  for (int i = 0; i < 200 && s.Stats().mem_used != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(s.Stats().mem_used, 0u);
}

// Streams `total` bytes of `piece` repeated into `id`, 256 KiB per UploadData.
Status StreamInto(Store& s, const std::string& id, const std::string& piece,
                  uint64_t total, uint64_t hint) {
  auto h = s.UploadBegin(id, false, {}, hint);
  if (!h.ok()) return h.status();
  uint64_t off = 0;
  while (off < total) {
    std::string_view part(piece.data(), std::min<uint64_t>(piece.size(), total - off));
    Status st = s.UploadData(*h, off, {part});
    if (!st.ok()) return st;
    off += part.size();
  }
  auto c = s.UploadCommit(*h);
  return c.ok() ? Status::Ok() : c.status();
}

TEST(StoreCompressTest, AStreamLargerThanTheLimitFitsWhenItCompresses) {
  Store s("w1", Cfg(4 << 20, 64 << 10));
  s.CompressInBackground(true);  // chunks arrive raw, as in the worker
  std::string held = RandomBytes(256 << 10, 5);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.Set("k" + std::to_string(i), held).ok());
  const std::string text = Text(256 << 10);
  const uint64_t total = 16 << 20;  // 4x the limit, raw
  // Size unknown: its own raw chunks are compressed before anything else
  // is evicted for it.
  ASSERT_TRUE(StreamInto(s, "big", text, total, 0).ok());
  EXPECT_EQ(s.Stat("big")->size, total);
  EXPECT_LE(s.Stats().mem_used, 4u << 20);
  std::string want;
  while (want.size() < total) want += text;
  EXPECT_TRUE(ReadAll(s, "big") == want);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ReadAll(s, "k" + std::to_string(i)), held) << i;
  EXPECT_EQ(s.Stats().evictions, 0u);
  // Size known and more than could ever fit raw: it goes ahead without
  // evicting; compressible, it fits.
  ASSERT_TRUE(StreamInto(s, "big2", text, total, total).ok());
  EXPECT_EQ(s.Stat("big2")->size, total);
  // Incompressible, it fails with "no space" and every id stays.
  Status st = StreamInto(s, "rand", RandomBytes(256 << 10, 6), total, total);
  EXPECT_EQ(st.code(), Code::kNoSpace) << st.ToString();
  EXPECT_TRUE(s.Stat("rand").status().IsNotFound());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ReadAll(s, "k" + std::to_string(i)), held) << i;
  EXPECT_TRUE(ReadAll(s, "big2") == want);
  EXPECT_EQ(s.Stats().evictions, 0u);
  s.CompressInBackground(false);
}

}  // namespace
}  // namespace shovel::worker
