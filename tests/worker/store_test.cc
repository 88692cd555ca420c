// Store unit tests: no sockets.
#include "shovel/worker/store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "store_internal.h"
#include "store_test_util.h"

namespace shovel::worker {
namespace {

using testing::Cfg;
using testing::RandomBytes;
using testing::ReadAll;
using testing::Text;

TEST(StoreTest, SetGetAcrossChunksAndRanges) {
  Store s("w1", Cfg(64 << 20));
  std::string v = Text(300 << 10) + RandomBytes(100 << 10, 1);
  ASSERT_TRUE(s.Set("a", v).ok());
  EXPECT_TRUE(ReadAll(s, "a") == v);
  for (uint64_t off : {0ul, 1ul, 65535ul, 65536ul, 200000ul, 399999ul}) {
    EXPECT_EQ(ReadAll(s, "a", off, 70000), v.substr(off, 70000)) << off;
  }
  auto r = s.Read("a", v.size() + 10, 5, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes.size, 0u);
  EXPECT_FALSE(r->more);
  auto st = s.Stat("a");
  EXPECT_EQ(st->size, v.size());
  EXPECT_LT(st->stored_bytes, v.size());    // the text part compressed
  EXPECT_GT(st->stored_bytes, 100u << 10);  // the random part did not
}

TEST(StoreTest, AReplicasWriteTakesThePrimarysVersion) {
  Store s("w1", Cfg(64 << 20));
  WriteOptions o;
  o.version = 1000;
  auto set = s.Set("a", "xy", o);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->version, 1000u);
  // An append lands only where it landed on the primary.
  o.version = 1001;
  o.if_size = true;
  o.expected_size = 1;
  auto bad = s.Append("a", "z", o);
  EXPECT_EQ(bad.status().code(), Code::kConflict);
  EXPECT_EQ(bad.status().message(),
            "id 'a' is 2 bytes on this replica; the primary wrote at 1");
  o.expected_size = 2;
  auto good = s.Append("a", "z", o);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->version, 1001u);
  EXPECT_EQ(std::string(s.Read("a", 0, 10, 10)->bytes.data, 3), "xyz");
  // The store's own versions stay above those it was given.
  uint64_t taken = s.TakeVersion();
  EXPECT_GT(taken, 1001u);
  EXPECT_GT(s.Set("b", "1")->version, taken);
  auto created = s.Create("c", false, false, 5000);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->version, 5000u);
}

TEST(StoreTest, DropUnpinnedKeepsPinnedIds) {
  Store s("w1", Cfg(64 << 20));
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(s.Set("x/" + std::to_string(i), "v").ok());
  WriteOptions pin;
  pin.pinned = true;
  ASSERT_TRUE(s.Set("kept", "p", pin).ok());
  EXPECT_EQ(s.DropUnpinned(), 5000u);
  EXPECT_EQ(s.Read("x/1", 0, 10, 10).status().code(), Code::kNotFound);
  EXPECT_TRUE(s.Read("kept", 0, 10, 10).ok());
  EXPECT_EQ(s.Stats().ids, 1u);
}

TEST(StoreTest, ReadIfFitsIsAllOrNothing) {
  Store s("w1", Cfg(64 << 20, 4 << 10));
  std::string v = Text(10 << 10);
  auto w = s.Set("a", v);
  ASSERT_TRUE(w.ok());
  auto fit = s.ReadIfFits("a", 100, 5000, 5000);  // spans two chunks
  ASSERT_TRUE(fit.ok());
  EXPECT_FALSE(fit->more);
  EXPECT_EQ(fit->offset, 100u);
  EXPECT_EQ(fit->size, v.size());
  EXPECT_EQ(fit->version, w->version);
  EXPECT_EQ(std::string(fit->bytes.data, fit->bytes.size), v.substr(100, 5000));
  auto big = s.ReadIfFits("a", 100, wire::kToEnd, 5000);
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(big->more);
  EXPECT_EQ(big->offset, 100u);
  EXPECT_EQ(big->size, v.size());
  EXPECT_EQ(big->version, w->version);
  EXPECT_EQ(big->bytes.size, 0u);
  EXPECT_EQ(big->bytes.owner, nullptr);              // nothing read
  auto past = s.ReadIfFits("a", 1 << 20, 10, 5000);  // cut like pread
  ASSERT_TRUE(past.ok());
  EXPECT_FALSE(past->more);
  EXPECT_EQ(past->offset, v.size());
  EXPECT_EQ(past->bytes.size, 0u);
  EXPECT_TRUE(s.ReadIfFits("missing", 0, 10, 10).status().IsNotFound());
}

TEST(StoreTest, IncompressibleStoredRawAndLevelZeroRaw) {
  Store s("w1", Cfg(64 << 20));
  std::string v = RandomBytes(256 << 10, 2);
  ASSERT_TRUE(s.Set("r", v).ok());
  EXPECT_EQ(s.Stat("r")->stored_bytes, v.size());
  // A raw chunk is served without a copy.
  auto r = s.Read("r", 10, 100, 1 << 20);
  EXPECT_TRUE(r->bytes.owner != nullptr);
  EXPECT_EQ(std::string(r->bytes.data, r->bytes.size), v.substr(10, 100));
  Store raw("w2", Cfg(64 << 20, 64 << 10, 0));
  ASSERT_TRUE(raw.Set("t", Text(200 << 10)).ok());
  EXPECT_EQ(raw.Stat("t")->stored_bytes, 200u << 10);
}

TEST(StoreTest, AppendAcrossChunkBoundaries) {
  Store s("w1", Cfg(64 << 20, 64 << 10));
  std::string want;
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) {
    std::string piece = Text(rng() % 3000) + RandomBytes(rng() % 500, i);
    auto r = s.Append("log", piece);
    ASSERT_TRUE(r.ok());
    want += piece;
    EXPECT_EQ(r->size, want.size());
  }
  std::string big = RandomBytes(200 << 10, 9);
  ASSERT_TRUE(s.Append("log", big).ok());
  want += big;
  EXPECT_TRUE(ReadAll(s, "log") == want);
  EXPECT_EQ(ReadAll(s, "log", 65530, 20), want.substr(65530, 20));
}

TEST(StoreTest, AppendAfterSetAndSnapshotsStayStable) {
  Store s("w1", Cfg(64 << 20, 64 << 10));
  ASSERT_TRUE(s.Set("x", "abc").ok());
  ASSERT_TRUE(s.Append("x", "def").ok());
  auto before = s.Read("x", 0, wire::kToEnd, 1 << 20);
  ASSERT_TRUE(s.Append("x", "ghi").ok());
  EXPECT_EQ(std::string(before->bytes.data, before->bytes.size), "abcdef");
  EXPECT_EQ(ReadAll(s, "x"), "abcdefghi");
}

TEST(StoreTest, VersionsGrowAndConditionalWrites) {
  Store s("w1", Cfg(64 << 20));
  WriteOptions must_not_exist{false, true, 0};
  auto v1 = s.Set("v", "1", must_not_exist);
  ASSERT_TRUE(v1.ok());
  auto again = s.Set("v", "2", must_not_exist);
  EXPECT_EQ(again.status().code(), Code::kConflict);
  auto v2 = s.Set("v", "2", WriteOptions{false, true, v1->version});
  ASSERT_TRUE(v2.ok());
  EXPECT_GT(v2->version, v1->version);
  auto v3 = s.Append("v", "3");
  EXPECT_GT(v3->version, v2->version);
  EXPECT_EQ(s.Delete("v", WriteOptions{false, true, v1->version}).code(),
            Code::kConflict);
  EXPECT_TRUE(s.Delete("v").ok());
  EXPECT_TRUE(s.Delete("v").IsNotFound());
}

TEST(StoreTest, AttrsSurviveSetAndRename) {
  Store s("w1", Cfg(64 << 20));
  ASSERT_TRUE(s.Set("f", "x").ok());
  ASSERT_TRUE(s.SetAttrs("f", {{"mode", "0600"}, {"user.k", "v"}}, {}).ok());
  ASSERT_TRUE(s.SetAttrs("f", {}, {"user.k"}).ok());
  ASSERT_TRUE(s.Set("f", "y").ok());
  ASSERT_TRUE(s.Rename("f", "g", false).ok());
  EXPECT_TRUE(s.Stat("f").status().IsNotFound());
  auto st = s.Stat("g");
  EXPECT_EQ(st->attrs, (wire::Attrs{{"mode", "0600"}}));
  ASSERT_TRUE(s.Set("h", "z").ok());
  EXPECT_EQ(s.Rename("g", "h", true).code(), Code::kAlreadyExists);
  EXPECT_TRUE(s.Rename("g", "h", false).ok());
  EXPECT_EQ(ReadAll(s, "h"), "y");
  EXPECT_EQ(s.Stats().ids, 1u);
}

TEST(StoreTest, TimesAreWallClockAndReadsMoveOnlyAtime) {
  // Times have the kernel tick's resolution (a few ms) and may lag the
  // precise clock by one tick.
  auto wall_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  constexpr int64_t kTick = 50'000'000;  // generous: 50 ms
  Store s("w1", Cfg(64 << 20));
  int64_t before = wall_ns();
  ASSERT_TRUE(s.Set("a", "v1").ok());
  auto set = s.Stat("a");
  ASSERT_TRUE(set.ok());
  EXPECT_GE(set->mtime_ns, before - kTick);
  EXPECT_LE(set->mtime_ns, wall_ns());
  EXPECT_EQ(set->ctime_ns, set->mtime_ns);
  EXPECT_EQ(set->atime_ns, set->mtime_ns);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ASSERT_TRUE(s.Read("a", 0, wire::kToEnd, 1 << 20).ok());
  auto read = s.Stat("a");
  EXPECT_EQ(read->mtime_ns, set->mtime_ns);
  EXPECT_GT(read->atime_ns, set->atime_ns);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ASSERT_TRUE(s.Set("a", "v2").ok());
  auto again = s.Stat("a");
  EXPECT_EQ(again->ctime_ns, set->ctime_ns);
  EXPECT_GT(again->mtime_ns, read->atime_ns);
}

TEST(IdTableTest, FindEmplaceEraseAndGrowth) {
  IdTable t;
  EXPECT_EQ(t.Find("a"), nullptr);
  std::vector<EntryNode*> nodes;
  for (int i = 0; i < 5000; ++i) {
    auto [node, made] = t.Emplace("k/" + std::to_string(i));
    ASSERT_TRUE(made);
    EXPECT_EQ(node->first, "k/" + std::to_string(i));
    node->second.tick = static_cast<uint64_t>(i);
    nodes.push_back(node);
  }
  EXPECT_EQ(t.size(), 5000u);
  EXPECT_GE(t.capacity(), 2 * t.size());  // grew, at most half full
  for (int i = 0; i < 5000; ++i) {
    // Nodes never move, however often the slots grew.
    EXPECT_EQ(t.Find("k/" + std::to_string(i)), nodes[i]);
    EXPECT_EQ(nodes[i]->second.tick, static_cast<uint64_t>(i));
  }
  auto [again, made] = t.Emplace("k/7");
  EXPECT_FALSE(made);
  EXPECT_EQ(again, nodes[7]);
  for (int i = 0; i < 5000; i += 3) t.Erase(nodes[i]);
  for (int i = 0; i < 5000; ++i) {
    EXPECT_EQ(t.Find("k/" + std::to_string(i)), i % 3 == 0 ? nullptr : nodes[i]) << i;
  }
  EXPECT_EQ(t.Find("k/5000"), nullptr);
  EXPECT_EQ(t.size(), 5000u - 1667u);
}

TEST(IdTableTest, MatchesAMapUnderRandomChurn) {
  // Few ids in a small table: runs wrap around the end of the slots and
  // erasing shifts entries back across it.
  std::mt19937 rng(3);
  IdTable t;
  std::map<std::string, EntryNode*> want;
  for (int step = 0; step < 200000; ++step) {
    std::string id = "id" + std::to_string(rng() % 40);
    EntryNode* found = t.Find(id);
    auto w = want.find(id);
    ASSERT_EQ(found, w == want.end() ? nullptr : w->second) << step;
    if (rng() % 2) {
      auto [node, made] = t.Emplace(id);
      ASSERT_EQ(made, found == nullptr);
      want[id] = node;
    } else if (found) {
      t.Erase(found);
      want.erase(w);
    }
    ASSERT_EQ(t.size(), want.size());
  }
  for (const auto& [id, node] : want) EXPECT_EQ(t.Find(id), node);
}

TEST(StoreTest, PointersAreKeptAndRemoved) {
  Store s("w1", Cfg(64 << 20));
  EXPECT_FALSE(s.FindPointer("p"));
  ASSERT_TRUE(s.PutPointer("p", {"tcp://h:1", "w2"}).ok());
  EXPECT_EQ(s.FindPointer("p")->node_id, "w2");
  EXPECT_TRUE(s.RemovePointer("p"));
  EXPECT_FALSE(s.FindPointer("p"));
}

TEST(StoreTest, LruEvictionOrderAndPinnedNeverEvicted) {
  Store s("w1", Cfg(1200 << 10, 64 << 10, 0));
  std::string v(200 << 10, 'x');
  ASSERT_TRUE(s.Set("pin", v, WriteOptions{true, false, 0}).ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.Set("k" + std::to_string(i), v).ok());
  ASSERT_TRUE(s.Read("k0", 0, 1, 1).ok());  // k0 is now the most recent
  ASSERT_TRUE(s.Set("k4", v).ok());         // evicts k1 (the oldest)
  ASSERT_TRUE(s.Set("k5", v).ok());         // evicts k2
  EXPECT_TRUE(s.Stat("k1").status().IsNotFound());
  EXPECT_TRUE(s.Stat("k2").status().IsNotFound());
  EXPECT_TRUE(s.Stat("k0").ok());
  EXPECT_TRUE(s.Stat("pin").ok());
  EXPECT_EQ(s.Stats().evictions, 2u);
  EXPECT_LE(s.Stats().mem_used, s.Stats().mem_limit);
}

TEST(StoreTest, NoSpaceLeavesStoredDataWhole) {
  Store s("w1", Cfg(1 << 20, 64 << 10, 0));
  std::string v(600 << 10, 'p');
  ASSERT_TRUE(s.Set("pin", v, WriteOptions{true, false, 0}).ok());
  ASSERT_TRUE(s.Set("other", "small").ok());
  auto r = s.Set("big", std::string(2 << 20, 'b'));
  ASSERT_EQ(r.status().code(), Code::kNoSpace);
  // Not even evicting "other" makes room: "cannot hold", not "is full".
  EXPECT_EQ(r.status().message(),
            "worker w1 cannot hold a write of 2.0 MiB (1.0 MiB limit, 601.3 KiB pinned)")
      << r.status().message();
  EXPECT_TRUE(ReadAll(s, "pin") == v);
  EXPECT_EQ(ReadAll(s, "other"), "small");  // not evicted for a hopeless write
  auto r2 = s.Set("pin", std::string(1100 << 10, 'q'));
  EXPECT_EQ(r2.status().code(), Code::kNoSpace);
  EXPECT_TRUE(ReadAll(s, "pin") == v);
}

TEST(StoreTest, WithEvictionOffAWriteThatCouldFitSaysFull) {
  WorkerConfig c = Cfg(1 << 20, 64 << 10, 0);
  c.eviction = false;
  Store s("w1", c);
  ASSERT_TRUE(s.Set("a", std::string(700 << 10, 'a')).ok());
  auto r = s.Set("b", std::string(500 << 10, 'b'));
  ASSERT_EQ(r.status().code(), Code::kNoSpace);
  EXPECT_EQ(r.status().message().find("worker w1 is full: 1.0 MiB limit, 0 B pinned; the "
                                      "write needs "),
            0u)
      << r.status().message();
  EXPECT_EQ(ReadAll(s, "a"), std::string(700 << 10, 'a'));
}

TEST(StoreTest, UploadOfAKnownSizeThatCannotFitEvictsNothing) {
  Store s("w1", Cfg(1 << 20, 64 << 10, 0));
  std::string v(200 << 10, 'o');
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.Set("k" + std::to_string(i), v).ok());
  auto h = s.UploadBegin("big", false, {}, 2 << 20);
  ASSERT_EQ(h.status().code(), Code::kNoSpace);
  EXPECT_EQ(h.status().message(),
            "worker w1 cannot hold a write of 2.0 MiB (1.0 MiB limit, 0 B pinned)");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ReadAll(s, "k" + std::to_string(i)), v) << i;
  EXPECT_EQ(s.Stats().evictions, 0u);
  // A size that fits once others are evicted is let through.
  auto ok = s.UploadBegin("fits", false, {}, 900 << 10);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(s.UploadAbort(*ok).ok());
}

TEST(StoreTest, LoweringTheLimitLiveEvictsDownToIt) {
  Store s("w1", Cfg(4 << 20, 64 << 10, 0));
  std::string v(256 << 10, 'x');
  ASSERT_TRUE(s.Set("pin", v, WriteOptions{true, false, 0}).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.Set("k" + std::to_string(i), v).ok());
  s.ApplyConfig(Cfg(1 << 20, 64 << 10, 0));
  EXPECT_LE(s.Stats().mem_used, 1u << 20);
  EXPECT_TRUE(s.Stat("pin").ok());
  EXPECT_TRUE(s.Stat("k9").ok());
  EXPECT_TRUE(s.Stat("k0").status().IsNotFound());
  s.ApplyConfig(Cfg(300 << 10, 64 << 10, 0));  // below the pinned bytes
  EXPECT_TRUE(s.Stat("pin").ok());
  EXPECT_EQ(s.Set("new", v).status().code(), Code::kNoSpace);
}

TEST(StoreTest, CreateExclusiveAndPinnedUpgrade) {
  Store s("w1", Cfg(1 << 20));
  ASSERT_TRUE(s.Create("c", false, true).ok());
  EXPECT_EQ(s.Create("c", false, true).status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(s.Create("c", true, false).ok());
  EXPECT_TRUE(s.Stat("c")->pinned);
  ASSERT_TRUE(s.Set("c", "data").ok());
  EXPECT_TRUE(s.Stat("c")->pinned);  // pinning is sticky
}

TEST(StoreTest, UploadsCountTowardTheLimitAndExpire) {
  Store s("w1", Cfg(2 << 20, 64 << 10, 0));
  ASSERT_TRUE(s.Set("u", "old").ok());
  auto h = s.UploadBegin("u", false, {});
  ASSERT_TRUE(h.ok());
  std::string part(100 << 10, 'u');
  ASSERT_TRUE(s.UploadData(*h, 0, {part}).ok());
  EXPECT_GE(s.Stats().mem_used, 100u << 10);
  EXPECT_EQ(ReadAll(s, "u"), "old");
  EXPECT_EQ(s.ExpireUploads(INT64_MAX), 1u);
  EXPECT_TRUE(s.UploadCommit(*h).status().IsNotFound());
  EXPECT_EQ(ReadAll(s, "u"), "old");
  // Too big for the limit: refused, the old value stays.
  auto h2 = s.UploadBegin("u", false, {});
  Status st;
  for (uint64_t off = 0; st.ok() && off < (4 << 20); off += part.size()) {
    st = s.UploadData(*h2, off, {part});
  }
  EXPECT_TRUE(st.IsNoSpace());
  // The message blames the upload's own bytes, not a phantom small value
  // or "other" uploads.
  EXPECT_EQ(st.message().find("worker w1 cannot hold this upload: it holds 2.0 MiB and "
                              "needs "),
            0u)
      << st.message();
  EXPECT_EQ(st.message().find("uploads in progress"), std::string::npos) << st.message();
  EXPECT_EQ(ReadAll(s, "u"), "old");
  // Append mode.
  auto h3 = s.UploadBegin("u", true, {});
  ASSERT_TRUE(s.UploadData(*h3, 0, {"-new", "er"}).ok());
  auto c = s.UploadCommit(*h3);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(ReadAll(s, "u"), "old-newer");
  uint64_t base = s.Stats().mem_used;
  EXPECT_LT(base, 64u << 10);
}

TEST(StoreTest, ConcurrentAppendsAreAtomic) {
  Store s("w1", Cfg(64 << 20, 64 << 10));
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&s, t] {
      for (int i = 0; i < 500; ++i)
        ASSERT_TRUE(s.Append("c", std::string(100, 'a' + t)).ok());
    });
  }
  for (auto& t : ts) t.join();
  std::string all = ReadAll(s, "c");
  ASSERT_EQ(all.size(), 4u * 500 * 100);
  for (size_t i = 0; i < all.size(); i += 100) {
    EXPECT_EQ(all.substr(i, 100), std::string(100, all[i])) << i;
  }
}

}  // namespace
}  // namespace shovel::worker
