// Extending a file (truncate, ftruncate, a write past its end) in the vfs
// core: the new bytes read as zeros (holes: nothing stored for them), the
// old ones are kept, and the stored bytes are never read back or rewritten
// (written bytes of the tail are appended); Holes itself. Typed over
// every Client implementation (client_envs.h), plus a FakeClient check of
// what crossed the client.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "fake_client.h"
#include "shovel/fs/fuse_edge.h"
#include "shovel/fs/holes.h"
#include "shovel/fs/vfs.h"
#include "vfs_fixture.h"

namespace shovel::fs {
namespace {

using testing::MakeFile;
using testing::Pattern;

constexpr uint64_t kMiB = 1 << 20;

AttrChange SizeTo(uint64_t size) {
  AttrChange c;
  c.size = size;
  return c;
}

template <typename Env>
class VfsGrowTest : public testing::VfsFixture<Env> {
 protected:
  // What the cache holds for `id`: the stored bytes, without the holes.
  std::string Stored(const std::string& id) {
    Result<std::string> got = this->client()->Get(id, 0, 64 * kMiB);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.value_or("<get failed>");
  }
};

TYPED_TEST_SUITE(VfsGrowTest, testing::ClientEnvs);

TYPED_TEST(VfsGrowTest, TruncateFtruncateAndAWritePastTheEndReadAsZeros) {
  const std::string head = Pattern(kMiB + 7);
  uint64_t ino = MakeFile(this->vfs_, "f", head);
  // truncate(2): no open handle. The new tail is a hole: nothing stored.
  Result<Attr> a = this->vfs_.SetAttr(ino, std::nullopt, SizeTo(3 * kMiB + 5));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->size, 3 * kMiB + 5);
  std::string want = head + std::string(3 * kMiB + 5 - head.size(), '\0');
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == want);
  EXPECT_TRUE(this->Stored("f") == head);
  // A write past the end, through a descriptor opened without O_TRUNC.
  Result<OpenReply> o = this->vfs_.Open(ino, O_WRONLY);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 5 * kMiB, "end").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  want += std::string(5 * kMiB - want.size(), '\0') + "end";
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, want.size());
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == want);
  EXPECT_TRUE(this->Stored("f") == head + "end");
  // ftruncate(2) of an open descriptor, then a write inside the new tail
  // (97 bytes after "end": a gap that small is stored as zeros).
  o = this->vfs_.Open(ino, O_RDWR);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.SetAttr(ino, o->fh, SizeTo(6 * kMiB)).ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 5 * kMiB + 100, "mid").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  want += std::string(6 * kMiB - want.size(), '\0');
  want.replace(5 * kMiB + 100, 3, "mid");
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == want);
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 6 * kMiB);
  EXPECT_TRUE(this->Stored("f") == head + "end" + std::string(97, '\0') + "mid");
}

TYPED_TEST(VfsGrowTest, AnotherMountSeesTheSizeAndTheZeros) {
  uint64_t ino = MakeFile(this->vfs_, "f", "head");
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, SizeTo(400 * kMiB)).ok());
  Result<OpenReply> o = this->vfs_.Open(ino, O_WRONLY);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 256 * kMiB, "x").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  Vfs other(this->client(), this->Options());
  Result<Attr> a = other.Lookup(kRootIno, "f");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->size, 400 * kMiB);
  EXPECT_EQ(a->hole_bytes, 400 * kMiB - 5);  // "head" and "x" are stored
  Result<OpenReply> r = other.Open(a->ino, O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*other.Read(r->fh, 0, 8), std::string("head") + std::string(4, '\0'));
  EXPECT_EQ(*other.Read(r->fh, 256 * kMiB - 2, 4), std::string("\0\0x\0", 4));
  EXPECT_EQ(*other.Read(r->fh, 300 * kMiB, 4), std::string(4, '\0'));
  EXPECT_EQ(*other.Read(r->fh, 400 * kMiB - 1, 4), std::string(1, '\0'));
  EXPECT_EQ(other.Read(r->fh, 400 * kMiB, 4)->size(), 0u);
  ASSERT_TRUE(other.Release(r->fh).ok());
  EXPECT_TRUE(this->Stored("f") == "headx");
}

TYPED_TEST(VfsGrowTest, ARewriteKeepsHolesAndO_TruncGapsAreHoles) {
  // A new file written with a gap: the gap is a hole.
  Result<Vfs::Created> c =
      this->vfs_.Create(kRootIno, "g", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 0, "ab").ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 8 * kMiB, "cd").ok());
  ASSERT_TRUE(this->vfs_.Release(c->open.fh).ok());
  const uint64_t ino = c->attr.ino;
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 8 * kMiB + 2);
  EXPECT_TRUE(this->Stored("g") == "abcd");
  // A write below the end rewrites the value: the hole stays a hole.
  Result<OpenReply> o = this->vfs_.Open(ino, O_RDWR);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 1, "B").ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 8 * kMiB + 1, "D").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  std::string want = "aB" + std::string(8 * kMiB - 2, '\0') + "cD";
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == want);
  EXPECT_TRUE(this->Stored("g") == "aBcD");
  // lseek(2) SEEK_DATA / SEEK_HOLE see the hole; past the end is ENXIO.
  o = this->vfs_.Open(ino, O_RDONLY);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*this->vfs_.Seek(o->fh, 0, false), 2u);
  EXPECT_EQ(*this->vfs_.Seek(o->fh, 5, true), 8 * kMiB);
  EXPECT_EQ(*this->vfs_.Seek(o->fh, 8 * kMiB, false), 8 * kMiB + 2);
  EXPECT_EQ(ErrnoFromStatus(this->vfs_.Seek(o->fh, 8 * kMiB + 2, true).status()), ENXIO);
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  // Shrinking into the hole, then growing again: zeros, no stale bytes.
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, SizeTo(4 * kMiB)).ok());
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, SizeTo(10 * kMiB)).ok());
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == "aB" + std::string(10 * kMiB - 2, '\0'));
  // Truncate to 0 drops the holes; O_TRUNC replaces a sparse file whole.
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, SizeTo(0)).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 0u);
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, SizeTo(kMiB)).ok());
  o = this->vfs_.Open(ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 0, "new").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 3u);
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == "new");
}

TEST(VfsGrow, GrowingToAGibIsAnAttributeChange) {
  testing::FakeClient client;
  Vfs vfs(&client, testing::BaseVfsOptions());
  uint64_t ino = MakeFile(vfs, "f", Pattern(4 * kMiB));
  const uint64_t got = client.counters().got_bytes.load();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(vfs.SetAttr(ino, std::nullopt, SizeTo(1ull << 30)).ok());
  Result<OpenReply> o = vfs.Open(ino, O_RDWR);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(vfs.SetAttr(ino, o->fh, SizeTo((1ull << 30) - 10)).ok());  // below: rebuilt
  ASSERT_TRUE(vfs.Write(o->fh, 512 * kMiB, "mid").ok());
  ASSERT_TRUE(vfs.Release(o->fh).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // The rebuild copies the 4 MiB stored; no zeros move in either direction.
  EXPECT_LE(client.counters().got_bytes.load() - got, 5 * kMiB);
  Result<std::string> all = client.Get("f", 0, kWholeBlob);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(*all == Pattern(4 * kMiB) + "mid");
  Result<BlobStat> st = client.Stat("f");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->attrs[kAttrHoles],
            std::to_string(4 * kMiB) + "+" + std::to_string(508 * kMiB) + "," +
                std::to_string(512 * kMiB + 3) + "+" +
                std::to_string((1ull << 30) - 10 - 512 * kMiB - 3));
  EXPECT_EQ(vfs.GetAttr(ino)->size, (1ull << 30) - 10);
}

TEST(VfsGrow, AReadOnlyOpenLearnsTheHolesOfTheVersionItGets) {
  testing::FakeClient client;
  VfsOptions no_hints = testing::BaseVfsOptions();
  no_hints.hint_max_age_ns = 0;  // every read-only open checks with a GET
  Vfs writer(&client, testing::BaseVfsOptions());
  Vfs reader(&client, no_hints);
  uint64_t ino = MakeFile(writer, "f", "abc");
  Result<Attr> a = reader.Lookup(kRootIno, "f");  // this mount sees no holes
  ASSERT_TRUE(a.ok());
  // Another mount grows the file: a new version, with a hole.
  ASSERT_TRUE(writer.SetAttr(ino, std::nullopt, SizeTo(8 * kMiB)).ok());
  auto read = [&](uint64_t off, uint64_t n) {
    Result<OpenReply> r = reader.Open(a->ino, O_RDONLY);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return std::string("<open failed>");
    std::string out = reader.Read(r->fh, off, n).value_or("<read failed>");
    EXPECT_TRUE(reader.Release(r->fh).ok());
    return out;
  };
  // The GET shows a version this mount has not seen: a Stat tells the holes.
  uint64_t stats = client.counters().stats.load();
  EXPECT_EQ(read(0, 4), "abc" + std::string(1, '\0'));
  EXPECT_EQ(client.counters().stats.load() - stats, 1u);
  // A version this mount saw at lookup needs no Stat: one round trip.
  MakeFile(writer, "g", "plain");
  Result<Attr> g = reader.Lookup(kRootIno, "g");
  ASSERT_TRUE(g.ok());
  stats = client.counters().stats.load();
  Result<OpenReply> r = reader.Open(g->ino, O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(reader.Read(r->fh, 0, 10).value_or(""), "plain");
  EXPECT_TRUE(reader.Release(r->fh).ok());
  EXPECT_EQ(client.counters().stats.load() - stats, 0u);
}

TEST(VfsGrow, AnAbandonedO_TruncOpenTruncatesNothing) {
  testing::FakeClient client;
  Vfs vfs(&client, testing::BaseVfsOptions());
  uint64_t ino = MakeFile(vfs, "f", "keep");
  Result<OpenReply> o = vfs.Open(ino, O_WRONLY | O_TRUNC);  // then interrupted
  ASSERT_TRUE(o.ok());
  vfs.Abandon(o->fh);
  EXPECT_EQ(*client.Get("f", 0, kWholeBlob), "keep");
  EXPECT_EQ(ErrnoFromStatus(vfs.Flush(o->fh)), EBADF);
}

TEST(Holes, ParseFormatSplitAndAdd) {
  Holes h = Holes::Parse("10+5,100+50");
  EXPECT_EQ(h.total(), 55u);
  EXPECT_EQ(h.Format(), "10+5,100+50");
  EXPECT_EQ(h.LogicalSize(100), 155u);  // 100 stored + 55
  EXPECT_EQ(h.LogicalSize(0), 150u);    // the blob is short: the last hole ends it
  std::vector<Holes::Piece> p = h.Split(8, 100);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_TRUE(!p[0].hole && p[0].off == 8 && p[0].len == 2 && p[0].stored == 8);
  EXPECT_TRUE(p[1].hole && p[1].off == 10 && p[1].len == 5);
  EXPECT_TRUE(!p[2].hole && p[2].off == 15 && p[2].len == 85 && p[2].stored == 10);
  EXPECT_TRUE(p[3].hole && p[3].off == 100 && p[3].len == 8);
  EXPECT_EQ(h.NextData(0, 155), 0u);
  EXPECT_EQ(h.NextData(12, 155), 15u);
  EXPECT_EQ(h.NextData(120, 155), 150u);
  EXPECT_EQ(h.NextData(155, 155), std::nullopt);
  EXPECT_EQ(h.NextData(120, 150), std::nullopt);  // a trailing hole: no data after
  EXPECT_EQ(h.NextHole(0, 155), 10u);
  EXPECT_EQ(h.NextHole(12, 155), 12u);
  EXPECT_EQ(h.NextHole(20, 155), 100u);
  EXPECT_EQ(h.NextHole(151, 155), 155u);  // the end counts as a hole
  EXPECT_EQ(h.NextHole(155, 155), std::nullopt);
  h.Add(15, 85);  // touches both: one hole
  EXPECT_EQ(h.Format(), "10+140");
  EXPECT_EQ(h.total(), 140u);
  for (const char* bad :
       {"x", "1+0", "5+5,1+1", "1+", "+1", "1+2,", "18446744073709551615+2"}) {
    EXPECT_TRUE(Holes::Parse(bad).empty()) << bad;
  }
}

}  // namespace
}  // namespace shovel::fs
