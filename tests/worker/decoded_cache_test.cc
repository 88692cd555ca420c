// The decoded-chunk cache: its own accounting and eviction order
// (DecodedCache), and the store's use of it: reads through it return the
// bytes of the value held now after every kind of write, and its bytes are
// charged to max_memory and given up before stored data. No sockets.
#include "decoded_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "shovel/worker/store.h"
#include "store_test_util.h"

namespace shovel::worker {
namespace {

using testing::Cfg;
using testing::ReadAll;
using testing::Text;

constexpr uint64_t kOver = DecodedCache::kEntryOverhead;

std::shared_ptr<Chunk> CompressedChunk() {
  auto c = std::make_shared<Chunk>();
  c->compressed = true;
  return c;
}

Slice Bytes(const std::string& s) {
  auto owner = std::make_shared<std::string>(s);
  return Slice{owner, owner->data(), owner->size()};
}

TEST(DecodedCacheTest, ChargesBytesPlusOverheadAndFreesThemOnRemove) {
  DecodedCache c(1 << 20);
  auto a = CompressedChunk();
  auto in = c.Insert(a, Bytes(std::string(1000, 'a')), false);
  EXPECT_TRUE(in.inserted);
  EXPECT_EQ(in.freed, 0u);
  EXPECT_EQ(c.bytes(), 1000 + kOver);
  Slice hit = c.Find(a);
  ASSERT_NE(hit.owner, nullptr);
  EXPECT_EQ(std::string(hit.data, hit.size), std::string(1000, 'a'));
  // The same chunk again is not a second entry.
  EXPECT_FALSE(c.Insert(a, Bytes("x"), false).inserted);
  std::vector<ChunkRef> refs{{a, 1000, 0}};
  EXPECT_EQ(c.Remove(refs), 1000 + kOver);
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_EQ(c.Find(a).owner, nullptr);
  auto st = c.Stats();
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.invalidations, 1u);
  EXPECT_EQ(st.entries, 0u);
}

TEST(DecodedCacheTest, MatchesOnlyTheChunkObjectItWasMadeFrom) {
  DecodedCache c(1 << 20);
  auto a = CompressedChunk();
  ASSERT_TRUE(c.Insert(a, Bytes("old"), false).inserted);
  auto b = CompressedChunk();  // a newer chunk: never served a's bytes
  EXPECT_EQ(c.Find(b).owner, nullptr);
  EXPECT_FALSE(c.Contains(b.get()));
  EXPECT_TRUE(c.Contains(a.get()));
}

TEST(DecodedCacheTest, StaysUnderCapacityEvictingLeastRecentlyUsed) {
  DecodedCache c(3 * (1000 + kOver));
  std::vector<std::shared_ptr<Chunk>> ch;
  for (int i = 0; i < 3; ++i) {
    ch.push_back(CompressedChunk());
    ASSERT_TRUE(c.Insert(ch[i], Bytes(std::string(1000, 'a' + i)), false).inserted);
  }
  ASSERT_NE(c.Find(ch[0]).owner, nullptr);  // 0 is now the most recent
  ch.push_back(CompressedChunk());
  auto in = c.Insert(ch[3], Bytes(std::string(1000, 'd')), false);
  EXPECT_TRUE(in.inserted);
  EXPECT_EQ(in.freed, 1000 + kOver);
  EXPECT_EQ(c.bytes(), 3 * (1000 + kOver));
  EXPECT_EQ(c.Find(ch[1]).owner, nullptr);  // the least recent went
  EXPECT_NE(c.Find(ch[0]).owner, nullptr);
  // Larger than the whole cache: refused, nothing evicted.
  EXPECT_FALSE(
      c.Insert(CompressedChunk(), Bytes(std::string(4000, 'e')), false).inserted);
  EXPECT_EQ(c.Stats().entries, 3u);
}

TEST(DecodedCacheTest, ProbationGoesFirstAndNeverDisplacesReadEntries) {
  DecodedCache c(2 * (1000 + kOver));
  auto read = CompressedChunk(), written = CompressedChunk();
  ASSERT_TRUE(c.Insert(read, Bytes(std::string(1000, 'r')), false).inserted);
  ASSERT_TRUE(c.Insert(written, Bytes(std::string(1000, 'w')), true).inserted);
  // Full: another written chunk replaces the written one, not the read one.
  auto written2 = CompressedChunk();
  EXPECT_TRUE(c.Insert(written2, Bytes(std::string(1000, 'v')), true).inserted);
  EXPECT_FALSE(c.Contains(written.get()));
  EXPECT_TRUE(c.Contains(read.get()));
  // A read entry evicts probation before main.
  auto read2 = CompressedChunk();
  EXPECT_TRUE(c.Insert(read2, Bytes(std::string(1000, 's')), false).inserted);
  EXPECT_FALSE(c.Contains(written2.get()));
  EXPECT_TRUE(c.Contains(read.get()));
  // With only read entries, a written chunk is not admitted at all.
  EXPECT_FALSE(c.Insert(CompressedChunk(), Bytes(std::string(1000, 'x')), true).inserted);
  EXPECT_TRUE(c.Contains(read.get()));
  EXPECT_TRUE(c.Contains(read2.get()));
}

TEST(DecodedCacheTest, AHitPromotesAProbationEntry) {
  DecodedCache c(2 * (1000 + kOver));
  auto w = CompressedChunk(), r = CompressedChunk();
  ASSERT_TRUE(c.Insert(w, Bytes(std::string(1000, 'w')), true).inserted);
  ASSERT_NE(c.Find(w).owner, nullptr);  // read once: now in main
  ASSERT_TRUE(c.Insert(r, Bytes(std::string(1000, 'r')), false).inserted);
  // Probation is empty, so a new written chunk cannot get in.
  EXPECT_FALSE(c.Insert(CompressedChunk(), Bytes(std::string(1000, 'x')), true).inserted);
  EXPECT_TRUE(c.Contains(w.get()));
}

TEST(DecodedCacheTest, AMissIsAdmittedWhenItFitsOrWasMissedRecently) {
  DecodedCache c(2 * (1000 + kOver));
  auto a = CompressedChunk(), b = CompressedChunk(), x = CompressedChunk();
  EXPECT_TRUE(c.AdmitMiss(a.get(), 1000));  // room: yes
  ASSERT_TRUE(c.Insert(a, Bytes(std::string(1000, 'a')), false).inserted);
  ASSERT_TRUE(c.Insert(b, Bytes(std::string(1000, 'b')), false).inserted);
  // Full: a first miss is remembered, not admitted; the next one is.
  EXPECT_FALSE(c.AdmitMiss(x.get(), 1000));
  EXPECT_TRUE(c.AdmitMiss(x.get(), 1000));
  // After kMinGhosts other misses, x is forgotten: a scan again.
  std::vector<std::shared_ptr<Chunk>> others;
  for (size_t i = 0; i < DecodedCache::kMinGhosts; ++i) {
    others.push_back(CompressedChunk());
    EXPECT_FALSE(c.AdmitMiss(others.back().get(), 1000));
  }
  EXPECT_FALSE(c.AdmitMiss(x.get(), 1000));
  EXPECT_EQ(c.Stats().entries, 2u);  // nothing was evicted by any of it
}

TEST(DecodedCacheTest, ShrinkAndSetCapacityReportWhatTheyFreed) {
  DecodedCache c(1 << 20);
  std::vector<std::shared_ptr<Chunk>> ch;
  for (int i = 0; i < 4; ++i) {
    ch.push_back(CompressedChunk());
    ASSERT_TRUE(c.Insert(ch[i], Bytes(std::string(1000, 'a')), false).inserted);
  }
  EXPECT_EQ(c.Shrink(1), 1000 + kOver);  // whole entries
  EXPECT_EQ(c.Stats().entries, 3u);
  EXPECT_EQ(c.SetCapacity(1000 + kOver), 2 * (1000 + kOver));
  EXPECT_EQ(c.bytes(), 1000 + kOver);
  EXPECT_EQ(c.SetCapacity(0), 1000 + kOver);
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_EQ(c.Shrink(1 << 20), 0u);
}

// ---- the store -------------------------------------------------------------

WorkerConfig CacheCfg(uint64_t mem, uint64_t cache) {
  WorkerConfig c = Cfg(mem, 1 << 20);
  c.decoded_cache_percent = 0;
  c.decoded_cache_bytes = cache;
  return c;
}

TEST(StoreDecodedTest, ARepeatedReadHitsAndIsCharged) {
  Store s("w1", CacheCfg(64 << 20, 8 << 20));
  std::string v = Text(1 << 20);
  ASSERT_TRUE(s.Set("a", v).ok());  // compressed before it returns
  const uint64_t stored = s.Stats().mem_used;
  EXPECT_TRUE(ReadAll(s, "a") == v);  // a miss: decoded and admitted
  EXPECT_EQ(s.Stats().decoded_bytes, v.size() + kOver);
  EXPECT_EQ(s.Stats().mem_used, stored + v.size() + kOver);
  EXPECT_TRUE(ReadAll(s, "a") == v);
  auto r = s.Read("a", 100, 1000, 1 << 20);  // a range: a slice of the entry
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(r->bytes.data, r->bytes.size), v.substr(100, 1000));
  StoreStats st = s.Stats();
  EXPECT_EQ(st.decoded_hits, 2u);
  EXPECT_EQ(st.decoded_misses, 1u);
  ASSERT_TRUE(s.Delete("a").ok());
  EXPECT_EQ(s.Stats().mem_used, 0u);  // the entry went with the blob
  EXPECT_EQ(s.Stats().decoded_bytes, 0u);
}

TEST(StoreDecodedTest, AScanLargerThanTheCacheKeepsHittingWhatItHolds) {
  // Room for 3 decoded values of 256 KiB; 24 read in turn, 4 passes.
  constexpr uint64_t kValue = 256 << 10;
  Store s("w1", CacheCfg(64 << 20, 3 * (kValue + kOver)));
  std::vector<std::string> vals;
  for (int i = 0; i < 24; ++i) {
    vals.push_back(std::to_string(i) + Text(kValue - 8));
    vals.back().resize(kValue, '.');
    ASSERT_TRUE(s.Set("s" + std::to_string(i), vals.back()).ok());
  }
  for (int pass = 0; pass < 4; ++pass) {
    for (int i = 0; i < 24; ++i) {
      ASSERT_TRUE(ReadAll(s, "s" + std::to_string(i)) == vals[i]) << pass << " " << i;
    }
  }
  // An LRU admitting every miss would hit nothing: each entry is evicted
  // 21 reads before its next one. The 3 held are hit on every later pass.
  StoreStats st = s.Stats();
  EXPECT_EQ(st.decoded_hits, 9u);
  EXPECT_EQ(st.decoded_misses, 4u * 24 - 9);
  EXPECT_LE(st.decoded_bytes, 3 * (kValue + kOver));
}

TEST(StoreDecodedTest, APartReadIsKeptForTheRestOfTheChunkEvenWhenFull) {
  // Room for one decoded 1 MiB chunk, held by "a"; "b" is read in quarters
  // (a sequential reader): the first quarter decompresses all of "b" and
  // keeps it, so the next three hit.
  Store s("w1", CacheCfg(64 << 20, (1 << 20) + kOver));
  std::string va = Text(1 << 20), vb = Text(1 << 20);
  std::reverse(vb.begin(), vb.end());
  ASSERT_TRUE(s.Set("a", va).ok());
  ASSERT_TRUE(s.Set("b", vb).ok());
  EXPECT_TRUE(ReadAll(s, "a") == va);
  for (uint64_t q = 0; q < 4; ++q) {
    auto r = s.Read("b", q << 18, 1 << 18, 1 << 20);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(std::string(r->bytes.data, r->bytes.size), vb.substr(q << 18, 1 << 18));
  }
  StoreStats st = s.Stats();
  EXPECT_EQ(st.decoded_hits, 3u);
  EXPECT_EQ(st.decoded_misses, 2u);
}

TEST(StoreDecodedTest, EveryWriteIsSeenByTheNextRead) {
  Store s("w1", CacheCfg(64 << 20, 8 << 20));
  std::string v1 = Text(1 << 20), v2 = Text(1 << 20);
  std::reverse(v2.begin(), v2.end());
  std::string tail = Text(200 << 10);
  ASSERT_TRUE(s.Set("a", v1).ok());
  EXPECT_TRUE(ReadAll(s, "a") == v1);
  ASSERT_TRUE(s.Set("a", v2).ok());  // set
  EXPECT_TRUE(ReadAll(s, "a") == v2);
  ASSERT_TRUE(s.Append("a", tail).ok());  // append
  EXPECT_TRUE(ReadAll(s, "a") == v2 + tail);
  EXPECT_TRUE(ReadAll(s, "a") == v2 + tail);
  ASSERT_TRUE(s.Rename("a", "b", false).ok());  // rename
  EXPECT_TRUE(s.Read("a", 0, wire::kToEnd, 1 << 20).status().IsNotFound());
  EXPECT_TRUE(ReadAll(s, "b") == v2 + tail);
  ASSERT_TRUE(s.Set("c", v1).ok());
  EXPECT_TRUE(ReadAll(s, "c") == v1);
  ASSERT_TRUE(s.Rename("b", "c", false).ok());  // rename over a cached id
  EXPECT_TRUE(ReadAll(s, "c") == v2 + tail);
  WriteOptions replica;  // a replica applying its primary's write
  replica.version = s.TakeVersion() + 1000;
  ASSERT_TRUE(s.Set("c", v1, replica).ok());
  EXPECT_TRUE(ReadAll(s, "c") == v1);
  ASSERT_TRUE(s.Delete("c").ok());  // delete
  EXPECT_TRUE(s.Read("c", 0, wire::kToEnd, 1 << 20).status().IsNotFound());
  EXPECT_EQ(s.Stats().decoded_bytes, 0u);
  EXPECT_EQ(s.Stats().mem_used, 0u);
}

TEST(StoreDecodedTest, AnUploadCommitReplacesCachedBytes) {
  Store s("w1", CacheCfg(64 << 20, 8 << 20));
  std::string v1 = Text(1 << 20), v2 = Text(3 << 20);
  std::reverse(v2.begin(), v2.end());
  ASSERT_TRUE(s.Set("a", v1).ok());
  EXPECT_TRUE(ReadAll(s, "a") == v1);
  auto h = s.UploadBegin("a", false, {});
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(s.UploadData(*h, 0, {v2}).ok());
  ASSERT_TRUE(s.UploadCommit(*h).ok());
  EXPECT_TRUE(ReadAll(s, "a") == v2);
  ASSERT_TRUE(s.Delete("a").ok());
  EXPECT_EQ(s.Stats().mem_used, 0u);
}

TEST(StoreDecodedTest, GivesWayToWritesBeforeAnythingIsEvicted) {
  // 6 MiB limit, a 3 MiB cache; 1 MiB text compresses to far less.
  Store s("w1", CacheCfg(6 << 20, 3 << 20));
  std::vector<std::string> vals;
  for (int i = 0; i < 3; ++i) {
    vals.push_back(Text(1 << 20) + std::to_string(i));
    ASSERT_TRUE(s.Set("t" + std::to_string(i), vals[i]).ok());
    EXPECT_TRUE(ReadAll(s, "t" + std::to_string(i)) == vals[i]);
  }
  EXPECT_GT(s.Stats().decoded_bytes, 2u << 20);
  // Incompressible writes that need the cache's memory: it shrinks; no id
  // is evicted while it still holds bytes.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(s.Set("r" + std::to_string(i), testing::RandomBytes(1 << 20, i)).ok());
  }
  StoreStats st = s.Stats();
  EXPECT_EQ(st.evictions, 0u);
  EXPECT_LT(st.decoded_bytes, 2u << 20);
  EXPECT_LE(st.mem_used, st.mem_limit);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(ReadAll(s, "t" + std::to_string(i)) == vals[i]);
}

TEST(StoreDecodedTest, NeverGrowsByEvictingStoredData) {
  Store s("w1", CacheCfg(4 << 20, 2 << 20));
  ASSERT_TRUE(s.Set("r", testing::RandomBytes(3 << 20, 1)).ok());
  std::string v = Text(1 << 20);
  ASSERT_TRUE(s.Set("t", v).ok());
  EXPECT_TRUE(ReadAll(s, "t") == v);  // no room for an entry: served anyway
  StoreStats st = s.Stats();
  EXPECT_EQ(st.evictions, 0u);
  EXPECT_LE(st.mem_used, st.mem_limit);
  EXPECT_TRUE(s.Stat("r").ok());
}

TEST(StoreDecodedTest, TheLiveSettingResizesIt) {
  Store s("w1", CacheCfg(64 << 20, 8 << 20));
  std::string v = Text(1 << 20);
  ASSERT_TRUE(s.Set("a", v).ok());
  const uint64_t stored = s.Stats().mem_used;
  EXPECT_TRUE(ReadAll(s, "a") == v);
  EXPECT_GT(s.Stats().decoded_bytes, 0u);
  s.ApplyConfig(CacheCfg(64 << 20, 0));  // off
  EXPECT_EQ(s.Stats().decoded_bytes, 0u);
  EXPECT_EQ(s.Stats().mem_used, stored);
  EXPECT_TRUE(ReadAll(s, "a") == v);
  EXPECT_EQ(s.Stats().decoded_bytes, 0u);
  WorkerConfig share = Cfg(64 << 20, 1 << 20);
  share.decoded_cache_percent = 25;
  s.ApplyConfig(share);
  EXPECT_EQ(s.Stats().decoded_capacity, 16u << 20);
  share.decoded_cache_percent = 0;
  share.decoded_cache_bytes = 1ull << 40;  // capped at half the limit
  s.ApplyConfig(share);
  EXPECT_EQ(s.Stats().decoded_capacity, 32u << 20);
}

TEST(StoreDecodedTest, TheCompressorLeavesWhatItReplacedDecoded) {
  Store s("w1", CacheCfg(64 << 20, 8 << 20));
  s.CompressInBackground(true);
  std::string v = Text(1 << 20);
  ASSERT_TRUE(s.Set("a", v).ok());
  for (int i = 0; i < 500 && s.Stat("a")->stored_bytes == v.size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_LT(s.Stat("a")->stored_bytes, v.size());
  EXPECT_EQ(s.Stats().decoded_bytes, v.size() + kOver);
  EXPECT_TRUE(ReadAll(s, "a") == v);
  EXPECT_EQ(s.Stats().decoded_hits, 1u);
  ASSERT_TRUE(s.Append("a", "more").ok());
  EXPECT_TRUE(ReadAll(s, "a") == v + "more");
  s.CompressInBackground(false);
}

// A value whose every byte says which write made it.
std::string Versioned(int i) {
  std::string tag = "v" + std::to_string(i) + ";";
  std::string s;
  while (s.size() < (256u << 10)) s += tag;
  s.resize(256u << 10);
  return s;
}

TEST(StoreDecodedTest, ReadersRacingWritersSeeWholeValuesAndNeverGoBack) {
  Store s("w1", CacheCfg(64 << 20, 4 << 20));
  // Misses decompress their 4 frames on the readers and two helpers at once.
  s.StartDecodeHelpers(2);
  ASSERT_TRUE(s.Set("k", Versioned(0)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!stop.load()) {
        auto r = s.Read("k", 0, wire::kToEnd, 1 << 20);
        if (!r.ok()) continue;  // deleted for a moment
        std::string got(r->bytes.data, r->bytes.size);
        std::string tag = got.substr(0, got.find(';') + 1);
        std::string want;
        while (want.size() < got.size()) want += tag;
        want.resize(got.size());
        if (got != want || got.size() != (256u << 10) || r->version < last) {
          ADD_FAILURE() << "read " << got.size() << " bytes of tag " << tag
                        << " at version " << r->version << " after " << last;
          ++bad;
        }
        last = r->version;
      }
    });
  }
  for (int i = 1; i <= 300; ++i) {
    ASSERT_TRUE(s.Set("k", Versioned(i)).ok());
    // The writer's own next read sees its write, cached or not.
    ASSERT_TRUE(ReadAll(s, "k") == Versioned(i)) << i;
    if (i % 50 == 0) {
      ASSERT_TRUE(s.Delete("k").ok());
      ASSERT_TRUE(s.Set("k", Versioned(i)).ok());
    }
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(s.Stats().decoded_hits, 0u);
  ASSERT_TRUE(s.Delete("k").ok());
  EXPECT_EQ(s.Stats().mem_used, 0u);  // nothing charged is left behind
}

}  // namespace
}  // namespace shovel::worker
