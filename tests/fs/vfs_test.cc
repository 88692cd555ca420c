// The vfs semantics, as one typed suite over both Client implementations:
// the in-memory FakeClient and the real client talking to an in-process
// worker (STYLE.md: one suite, every implementation).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <set>
#include <thread>

#include "shovel/fs/errors.h"
#include "vfs_fixture.h"

namespace shovel::fs {
namespace {

// Small read-ahead and dirty limits, so tests cross block borders.
VfsOptions SmallLimits() {
  VfsOptions o = testing::BaseVfsOptions();
  o.limits.readahead = 64 * 1024;
  o.limits.max_dirty = 1 << 20;
  return o;
}

template <typename Env>
class VfsTest : public testing::VfsFixture<Env> {
 protected:
  VfsTest() : testing::VfsFixture<Env>(SmallLimits()) {}
};

TYPED_TEST_SUITE(VfsTest, testing::ClientEnvs);

TYPED_TEST(VfsTest, CreateIsVisibleWholeOnlyAtFlush) {
  auto c = this->vfs_.Create(kRootIno, "f", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 0, "hello ").ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 6, "world\n").ok());
  EXPECT_FALSE(*this->client()->Exists("f"));
  // stat while writing shows the bytes written so far
  EXPECT_EQ(this->vfs_.GetAttr(c->attr.ino)->size, 12u);
  ASSERT_TRUE(this->vfs_.Flush(c->open.fh).ok());
  EXPECT_EQ(*this->client()->Get("f", 0, kWholeBlob), "hello world\n");
  ASSERT_TRUE(this->vfs_.Release(c->open.fh).ok());
  EXPECT_EQ(this->ReadAll(this->Look(kRootIno, "f").ino), "hello world\n");
}

TYPED_TEST(VfsTest, FlushBeforeAnyWriteKeepsStreaming) {  // sh: exec >f; dd of=f
  auto c = this->vfs_.Create(kRootIno, "f", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(this->vfs_.Flush(c->open.fh).ok());  // the dup'd fd closes
  EXPECT_EQ(*this->client()->Get("f", 0, kWholeBlob), "");
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 0, "abc").ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 3, "def").ok());
  EXPECT_EQ(*this->client()->Get("f", 0, kWholeBlob), "");  // still whole-at-close
  ASSERT_TRUE(this->vfs_.Release(c->open.fh).ok());
  EXPECT_EQ(*this->client()->Get("f", 0, kWholeBlob), "abcdef");
}

TYPED_TEST(VfsTest, TruncatingOpenReplaces) {
  uint64_t ino = this->Write(kRootIno, "f", std::string(100000, 'a'));
  auto o = this->vfs_.Open(ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 0, "short").ok());
  // The old value stays whole until the commit.
  EXPECT_EQ(this->client()->Stat("f")->size, 100000u);
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_EQ(this->ReadAll(ino), "short");
}

TYPED_TEST(VfsTest, EmptyCreateMakesEmptyFile) {
  uint64_t ino = this->Write(kRootIno, "empty", "");
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 0u);
  EXPECT_TRUE(*this->client()->Exists("empty"));
}

TYPED_TEST(VfsTest, WritesAtOffsetsReadModifyWrite) {
  uint64_t ino = this->Write(kRootIno, "f", "0123456789");
  auto o = this->vfs_.Open(ino, O_RDWR);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 2, "ab").ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 12, "XY").ok());  // past the end: a hole
  EXPECT_EQ(*this->vfs_.Read(o->fh, 0, 100), std::string("01ab456789\0\0XY", 14));
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_EQ(this->ReadAll(ino), std::string("01ab456789\0\0XY", 14));
}

TYPED_TEST(VfsTest, ExtendingWritesAppend) {
  uint64_t ino = this->Write(kRootIno, "f", "abc");
  auto o = this->vfs_.Open(ino, O_WRONLY);
  ASSERT_TRUE(this->vfs_.Write(o->fh, 3, "def").ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 6, "ghi").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_EQ(this->ReadAll(ino), "abcdefghi");
}

TYPED_TEST(VfsTest, OutOfOrderStreamStillEndsRight) {
  auto c = this->vfs_.Create(kRootIno, "f", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 0, "aaaa").ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 8, "cccc").ok());  // gap: zeros
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 4, "bbbb").ok());  // back: patch
  ASSERT_TRUE(this->vfs_.Release(c->open.fh).ok());
  EXPECT_EQ(this->ReadAll(c->attr.ino), "aaaabbbbcccc");
}

TYPED_TEST(VfsTest, AppendHandlesKeepEveryWriteWhole) {
  this->Write(kRootIno, "log", "");
  uint64_t ino = this->Look(kRootIno, "log").ino;
  constexpr int kWriters = 8, kLines = 50;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      auto o = this->vfs_.Open(ino, O_WRONLY | O_APPEND);
      ASSERT_TRUE(o.ok());
      EXPECT_TRUE(o->direct_io);
      for (int i = 0; i < kLines; ++i) {
        std::string line = "writer " + std::to_string(w) + " line " + std::to_string(i) +
                           std::string(100, 'x') + "\n";
        ASSERT_TRUE(this->vfs_.Write(o->fh, 0, line).ok());
      }
      ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
    });
  }
  for (auto& t : threads) t.join();
  std::string all = this->ReadAll(ino, 1 << 20);
  std::vector<int> next(kWriters, 0);
  size_t pos = 0, lines = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    std::string line = all.substr(pos, nl - pos);
    int w, i;
    ASSERT_EQ(std::sscanf(line.c_str(), "writer %d line %d", &w, &i), 2) << line;
    EXPECT_EQ(i, next[w]++) << "writer " << w << " out of order";
    EXPECT_EQ(line.size(), line.find('x') + 100) << "torn line: " << line;
    pos = nl + 1;
    ++lines;
  }
  EXPECT_EQ(lines, size_t{kWriters * kLines});
}

// One write(2) larger than max_write reaches shovelfs as pieces of
// max_write bytes at consecutive offsets: it is still one append, across
// mounts too (two Vfs over one cluster, three appenders each).
TYPED_TEST(VfsTest, AnAppendLargerThanOneFuseWriteStaysWholeAcrossMounts) {
  this->Write(kRootIno, "big.log", "");
  constexpr uint64_t kPiece = 4096;
  VfsOptions opt = this->Options();
  opt.limits.max_write = kPiece;
  Vfs mounts[2] = {Vfs(this->client(), opt), Vfs(this->client(), opt)};
  constexpr int kWriters = 3, kRecords = 12;
  std::vector<std::thread> threads;
  for (int m = 0; m < 2; ++m) {
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, m, w] {
        Vfs& vfs = mounts[m];
        auto a = vfs.Lookup(kRootIno, "big.log");
        ASSERT_TRUE(a.ok());
        auto o = vfs.Open(a->ino, O_WRONLY | O_APPEND);
        ASSERT_TRUE(o.ok());
        uint64_t off = a->size;  // the kernel's idea of the end
        for (int r = 0; r < kRecords; ++r) {
          // 3 full pieces and a short one, as the kernel sends them.
          std::string rec = "<" + std::to_string(m) + "." + std::to_string(w) + "." +
                            std::to_string(r) + ":";
          rec.resize(3 * kPiece + 100, static_cast<char>('a' + m * kWriters + w));
          rec += ">\n";
          for (uint64_t at = 0; at < rec.size(); at += kPiece) {
            std::string_view piece = std::string_view(rec).substr(at, kPiece);
            ASSERT_TRUE(vfs.Write(o->fh, off, piece).ok());
            off += piece.size();
          }
        }
        ASSERT_TRUE(vfs.Release(o->fh).ok());
      });
    }
  }
  for (auto& t : threads) t.join();
  std::string all = this->ReadAll(this->Look(kRootIno, "big.log").ino, 8 << 20);
  size_t pos = 0, records = 0;
  std::map<std::string, int> next;
  while (pos < all.size()) {
    size_t end = all.find(">\n", pos);
    ASSERT_NE(end, std::string::npos);
    std::string rec = all.substr(pos, end - pos);
    int m, w, r;
    ASSERT_EQ(std::sscanf(rec.c_str(), "<%d.%d.%d:", &m, &w, &r), 3) << rec.substr(0, 40);
    // Whole: the length and one fill byte all through.
    ASSERT_EQ(rec.size(), 3 * kPiece + 100)
        << "torn record " << m << "." << w << "." << r;
    char fill = static_cast<char>('a' + m * kWriters + w);
    EXPECT_EQ(rec.find_first_not_of(fill, rec.find(':') + 1), std::string::npos)
        << "interleaved record " << m << "." << w << "." << r;
    std::string who = std::to_string(m) + "." + std::to_string(w);
    EXPECT_EQ(r, next[who]++) << who << " out of order";
    pos = end + 2;
    ++records;
  }
  EXPECT_EQ(records, size_t{2 * kWriters * kRecords});
}

TYPED_TEST(VfsTest, AHeldAppendPieceShowsAtCloseAndToItsOwnReads) {
  this->Write(kRootIno, "exact", "");
  uint64_t ino = this->Look(kRootIno, "exact").ino;
  VfsOptions opt = this->Options();
  opt.limits.max_write = 4;
  Vfs vfs(this->client(), opt);
  auto a = vfs.Lookup(kRootIno, "exact");
  ASSERT_TRUE(a.ok());
  auto o = vfs.Open(a->ino, O_RDWR | O_APPEND);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(vfs.Write(o->fh, 0, "abcd").ok());  // a full piece: held
  EXPECT_EQ(*vfs.Read(o->fh, 0, 100), "abcd");    // its own read sees it
  ASSERT_TRUE(vfs.Write(o->fh, 4, "efgh").ok());  // held again
  ASSERT_TRUE(vfs.Release(o->fh).ok());           // and committed at close
  EXPECT_EQ(this->ReadAll(ino), "abcdefgh");
}

TYPED_TEST(VfsTest, TruncateShrinksAndGrows) {
  uint64_t ino = this->Write(kRootIno, "f", "0123456789");
  AttrChange shrink;
  shrink.size = 4;
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, shrink).ok());
  EXPECT_EQ(this->ReadAll(ino), "0123");
  AttrChange grow;
  grow.size = 6;
  EXPECT_EQ(this->vfs_.SetAttr(ino, std::nullopt, grow)->size, 6u);
  EXPECT_EQ(this->ReadAll(ino), std::string("0123\0\0", 6));
  AttrChange zero;
  zero.size = 0;
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, zero).ok());
  EXPECT_EQ(this->ReadAll(ino), "");
}

TYPED_TEST(VfsTest, FtruncateOnAnOpenHandle) {
  uint64_t ino = this->Write(kRootIno, "f", "0123456789");
  auto o = this->vfs_.Open(ino, O_RDWR);
  AttrChange shrink;
  shrink.size = 3;
  ASSERT_TRUE(this->vfs_.SetAttr(ino, o->fh, shrink).ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 3, "Z").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_EQ(this->ReadAll(ino), "012Z");
}

TYPED_TEST(VfsTest, ReadsCrossReadAheadBlocks) {
  std::string data;
  for (int i = 0; i < 50000; ++i) data += std::to_string(i) + ",";
  uint64_t ino = this->Write(kRootIno, "big", data);
  EXPECT_EQ(this->ReadAll(ino, 4096), data);
  EXPECT_EQ(this->ReadAll(ino, 100000), data);
  auto o = this->vfs_.Open(ino, O_RDONLY);
  EXPECT_EQ(*this->vfs_.Read(o->fh, 70000, 10), data.substr(70000, 10));  // random
  EXPECT_EQ(*this->vfs_.Read(o->fh, 5, 10), data.substr(5, 10));
  EXPECT_EQ(*this->vfs_.Read(o->fh, data.size() + 5, 10), "");
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
}

// A small random read of a read-only handle brings the aligned 32 KiB block
// around it (for the page cache); the Vfs lets it be stored only while no
// writable handle is open and only for the version the last open saw.
TYPED_TEST(VfsTest, RandomReadsBringTheBlockAroundThem) {
  std::string data;
  for (int i = 0; data.size() < (8u << 20); ++i) data += std::to_string(i) + ",";
  uint64_t ino = this->Write(kRootIno, "big", data);
  auto o = this->vfs_.Open(ino, O_RDONLY);
  const uint64_t off = (3 << 20) + 40960;  // past the reorder distance: random
  Result<ReadData> r = this->vfs_.ReadView(o->fh, off, 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes, data.substr(off, 4096));
  EXPECT_EQ(r->around_off, (3u << 20) + 32768);
  EXPECT_EQ(r->around, data.substr(r->around_off, 32768));
  ASSERT_NE(r->version, 0u);
  ASSERT_TRUE(this->vfs_.BeginStore(ino, r->version));
  this->vfs_.EndStore(ino);
  EXPECT_FALSE(this->vfs_.BeginStore(ino, r->version + 1));
  // A writable handle: its reads bring only their range, and nothing is
  // stored while it is open.
  auto w = this->vfs_.Open(ino, O_RDWR);
  Result<ReadData> wr = this->vfs_.ReadView(w->fh, (1 << 20) + 8192, 4096);
  ASSERT_TRUE(wr.ok());
  EXPECT_TRUE(wr->around.empty());
  EXPECT_FALSE(this->vfs_.BeginStore(ino, r->version));
  ASSERT_TRUE(this->vfs_.Release(w->fh).ok());
  EXPECT_TRUE(this->vfs_.BeginStore(ino, r->version));  // unchanged: no commit
  this->vfs_.EndStore(ino);
  // A read of the last bytes brings nothing past the end.
  Result<ReadData> tail = this->vfs_.ReadView(o->fh, data.size() - 100, 4096);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->bytes, data.substr(data.size() - 100));
  EXPECT_EQ(tail->around_off + tail->around.size(), data.size());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_FALSE(this->vfs_.BeginStore(ino, r->version));  // no handle open
}

// A random read of 32 KiB or more is widened to whole frames too (the
// worker decodes them whole anyway); one already on frame bounds brings
// nothing around it.
TYPED_TEST(VfsTest, LargeRandomReadsBringTheFramesAroundThem) {
  std::string data;
  for (int i = 0; data.size() < (8u << 20); ++i) data += std::to_string(i) + ",";
  uint64_t ino = this->Write(kRootIno, "big", data);
  auto o = this->vfs_.Open(ino, O_RDONLY);
  const uint64_t off = (3 << 20) + 45056;  // 64 KiB over three frames
  Result<ReadData> r = this->vfs_.ReadView(o->fh, off, 65536);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes, data.substr(off, 65536));
  EXPECT_EQ(r->around_off, (3u << 20) + 32768);
  EXPECT_EQ(r->around, data.substr(r->around_off, 3 * 32768));
  EXPECT_NE(r->version, 0u);
  const uint64_t aligned = 6u << 20;  // past the reorder distance: random
  Result<ReadData> a = this->vfs_.ReadView(o->fh, aligned, 65536);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->bytes, data.substr(aligned, 65536));
  EXPECT_TRUE(a->around.empty());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
}

// A mount whose FUSE threads are too few for stores (max_stores 0, e.g.
// threads=1) reads only the range asked for, and no store may begin: one
// would wait for a page locked by a READ that no free thread can answer.
TYPED_TEST(VfsTest, WithoutStoresRandomReadsBringNothingAround) {
  VfsOptions o = this->Options();
  o.max_stores = 0;
  Vfs vfs(this->client(), o);
  std::string data;
  for (int i = 0; data.size() < (8u << 20); ++i) data += std::to_string(i) + ",";
  uint64_t ino = testing::MakeFile(vfs, "big", data);
  ASSERT_NE(ino, 0u);
  auto o2 = vfs.Open(ino, O_RDONLY);
  ASSERT_TRUE(o2.ok());
  const uint64_t off = (3 << 20) + 40960;  // past the reorder distance: random
  Result<ReadData> r = vfs.ReadView(o2->fh, off, 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes, data.substr(off, 4096));
  EXPECT_TRUE(r->around.empty());
  EXPECT_FALSE(vfs.BeginStore(ino, r->version));
  ASSERT_TRUE(vfs.Release(o2->fh).ok());
}

TYPED_TEST(VfsTest, KeepCacheOnlyWhileTheVersionHolds) {
  uint64_t ino = this->Write(kRootIno, "f", "one");
  auto a = this->vfs_.Open(ino, O_RDONLY);
  // Written whole through one handle: the page cache holds that version.
  EXPECT_TRUE(a->keep_cache);
  ASSERT_TRUE(this->vfs_.Release(a->fh).ok());
  // A write at an offset (patch) does not vouch for the page cache.
  auto w = this->vfs_.Open(ino, O_WRONLY);
  ASSERT_TRUE(this->vfs_.Write(w->fh, 1, "X").ok());
  ASSERT_TRUE(this->vfs_.Release(w->fh).ok());
  a = this->vfs_.Open(ino, O_RDONLY);
  EXPECT_FALSE(a->keep_cache);
  EXPECT_EQ(*this->vfs_.Read(a->fh, 0, 100), "oXe");
  ASSERT_TRUE(this->vfs_.Release(a->fh).ok());
  auto b = this->vfs_.Open(ino, O_RDONLY);
  EXPECT_TRUE(b->keep_cache);
  EXPECT_FALSE(b->attrs_stale);
  ASSERT_TRUE(this->vfs_.Release(b->fh).ok());
  ASSERT_TRUE(this->client()->Set("f", "changed elsewhere").ok());
  auto c = this->vfs_.Open(ino, O_RDONLY);
  EXPECT_FALSE(c->keep_cache);
  EXPECT_TRUE(c->attrs_stale);
  EXPECT_EQ(*this->vfs_.Read(c->fh, 0, 100), "changed elsewhere");
  ASSERT_TRUE(this->vfs_.Release(c->fh).ok());
}

TYPED_TEST(VfsTest, AWriterSharingTheInodeDoesNotVouchForThePageCache) {
  uint64_t ino = this->Write(kRootIno, "f", "old");
  auto r = this->vfs_.Open(ino, O_RDONLY);  // a reader may cache old bytes
  auto w = this->vfs_.Open(ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(this->vfs_.Write(w->fh, 0, "new!").ok());
  ASSERT_TRUE(this->vfs_.Release(w->fh).ok());
  ASSERT_TRUE(this->vfs_.Release(r->fh).ok());
  auto a = this->vfs_.Open(ino, O_RDONLY);
  EXPECT_FALSE(a->keep_cache);
  EXPECT_EQ(*this->vfs_.Read(a->fh, 0, 100), "new!");
  ASSERT_TRUE(this->vfs_.Release(a->fh).ok());
}

TYPED_TEST(VfsTest, SequentialReadsAcrossBlocksAndReadsCrossingBlocks) {
  std::string data;
  for (int i = 0; i < 300000; ++i) data.push_back(static_cast<char>('a' + i % 23));
  uint64_t ino = this->Write(kRootIno, "big", data);
  ASSERT_TRUE(this->client()->Set("big", data).ok());  // not in "our" page cache
  EXPECT_EQ(this->ReadAll(ino, 4096), data);
  EXPECT_EQ(this->ReadAll(ino, 50000), data);  // reads cross 64 KiB blocks
  auto o = this->vfs_.Open(ino, O_RDONLY);
  EXPECT_EQ(*this->vfs_.Read(o->fh, 65530, 20), data.substr(65530, 20));
  EXPECT_EQ(*this->vfs_.Read(o->fh, 299990, 100), data.substr(299990));
  EXPECT_EQ(*this->vfs_.Read(o->fh, 3, 5), data.substr(3, 5));
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
}

TYPED_TEST(VfsTest, DirectoriesMkdirListRmdir) {
  auto a = this->vfs_.MkDir(kRootIno, "a", 0755, Owner{1000, 1000});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->is_dir);
  auto b = this->vfs_.MkDir(a->ino, "b", 0700, Owner{1000, 1000});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(this->vfs_.GetAttr(b->ino)->perm, 0700u);
  EXPECT_EQ(this->Err(this->vfs_.MkDir(kRootIno, "a", 0755, Owner{}).status()), EEXIST);
  EXPECT_EQ(this->Names(kRootIno), (std::vector<std::string>{"a/"}));
  EXPECT_EQ(this->Names(a->ino), (std::vector<std::string>{"b/"}));
  EXPECT_EQ(this->Err(this->vfs_.RmDir(kRootIno, "a")), ENOTEMPTY);
  ASSERT_TRUE(this->vfs_.RmDir(a->ino, "b").ok());
  ASSERT_TRUE(this->vfs_.RmDir(kRootIno, "a").ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "a").status()), ENOENT);
  EXPECT_EQ(this->Err(this->vfs_.RmDir(kRootIno, "a")), ENOENT);
}

TYPED_TEST(VfsTest, PrefixesAreDirectories) {
  ASSERT_TRUE(this->client()->Set("ns/x/1", "a").ok());
  ASSERT_TRUE(this->client()->Set("ns/y", "b").ok());
  Attr ns = this->Look(kRootIno, "ns");
  EXPECT_TRUE(ns.is_dir);
  EXPECT_EQ(ns.perm, 0755u);
  EXPECT_EQ(this->Names(ns.ino), (std::vector<std::string>{"x/", "y"}));
  Attr y = this->Look(ns.ino, "y");
  EXPECT_FALSE(y.is_dir);
  EXPECT_EQ(this->ReadAll(y.ino), "b");
  EXPECT_EQ(this->Err(this->vfs_.Lookup(ns.ino, ".shovelfs.dir").status()), ENOENT);
}

TYPED_TEST(VfsTest, ReaddirPagesThroughManyIds) {
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 2500; ++i) items.emplace_back("many/f" + std::to_string(i), "");
  for (auto& r : this->client()->MultiSet(items)) ASSERT_TRUE(r.ok());
  std::vector<std::string> names = this->Names(this->Look(kRootIno, "many").ino);
  ASSERT_EQ(names.size(), 2500u);
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), 2500u);
  EXPECT_EQ(unique.count("f1999"), 1u);
}

TYPED_TEST(VfsTest, UnlinkAndRename) {
  uint64_t ino = this->Write(kRootIno, "a", "A");
  this->Write(kRootIno, "b", "B");
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "a", kRootIno, "b", false).ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "a").status()), ENOENT);
  Attr b = this->Look(kRootIno, "b");
  EXPECT_EQ(b.ino, ino);  // the moved inode keeps its number
  EXPECT_EQ(this->ReadAll(b.ino), "A");
  this->Write(kRootIno, "c", "C");
  EXPECT_EQ(this->Err(this->vfs_.Rename(kRootIno, "b", kRootIno, "c", true)), EEXIST);
  ASSERT_TRUE(this->vfs_.Unlink(kRootIno, "b").ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "b").status()), ENOENT);
  EXPECT_EQ(this->Err(this->vfs_.Unlink(kRootIno, "b")), ENOENT);
  auto d = this->vfs_.MkDir(kRootIno, "d", 0755, Owner{1000, 1000});
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "d", kRootIno, "e", false).ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "d").status()), ENOENT);
  EXPECT_TRUE(this->Look(kRootIno, "e").is_dir);
}

TYPED_TEST(VfsTest, ModesOwnersAndTimesAreStored) {
  uint64_t ino = this->Write(kRootIno, "f", "x");
  AttrChange c;
  c.perm = 0600;
  c.uid = 42;
  c.gid = 43;
  c.mtime_ns = 1'000'000'000'000'000'000;
  Result<Attr> a = this->vfs_.SetAttr(ino, std::nullopt, c);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->perm, 0600u);
  EXPECT_EQ(a->uid, 42u);
  EXPECT_EQ(a->gid, 43u);
  EXPECT_EQ(a->mtime_ns, 1'000'000'000'000'000'000);
  // Another mount sees them.
  Vfs other(this->client(), VfsOptions{Owner{1000, 1000}, {}, nullptr});
  Attr seen = *other.Lookup(kRootIno, "f");
  EXPECT_EQ(seen.perm, 0600u);
  EXPECT_EQ(seen.uid, 42u);
  // A write makes the blob's own mtime current again.
  auto o = this->vfs_.Open(ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(this->vfs_.Write(o->fh, 0, "y").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_GT(this->vfs_.GetAttr(ino)->mtime_ns, 1'000'000'000'000'000'000);
  EXPECT_EQ(this->vfs_.GetAttr(ino)->perm, 0600u);
}

TYPED_TEST(VfsTest, AttrsOnANewFileWaitForTheCommit) {  // cp -p, tar -x
  auto cr = this->vfs_.Create(kRootIno, "p", 0600, O_WRONLY | O_CREAT, Owner{7, 8});
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr->attr.perm, 0600u);
  EXPECT_EQ(cr->attr.uid, 7u);
  ASSERT_TRUE(this->vfs_.Write(cr->open.fh, 0, "data").ok());
  AttrChange c;
  c.perm = 0640;
  c.mtime_ns = 123;
  ASSERT_TRUE(this->vfs_.SetAttr(cr->attr.ino, cr->open.fh, c).ok());
  EXPECT_EQ(this->vfs_.GetAttr(cr->attr.ino)->perm, 0640u);
  ASSERT_TRUE(this->vfs_.Release(cr->open.fh).ok());
  BlobStat st = *this->client()->Stat("p");
  EXPECT_EQ(st.attrs.at("mode"), "640");
  EXPECT_EQ(st.attrs.at("uid"), "7");
  EXPECT_EQ(st.attrs.at("mtime"), "123");
}

TYPED_TEST(VfsTest, Xattrs) {
  uint64_t ino = this->Write(kRootIno, "f", "hello");
  auto names = *this->vfs_.ListXattr(ino);
  std::set<std::string> set(names.begin(), names.end());
  for (const char* n :
       {"user.shovel.node_ids", "user.shovel.node_id", "user.shovel.version",
        "user.shovel.stored_bytes", "user.shovel.pinned"}) {
    EXPECT_EQ(set.count(n), 1u) << n;
  }
  std::string node = *this->vfs_.GetXattr(ino, "user.shovel.node_id");
  EXPECT_FALSE(node.empty());
  EXPECT_EQ(*this->vfs_.GetXattr(ino, "user.shovel.node_ids"), node);
  EXPECT_EQ(set.count("user.shovel.score." + node), 1u);
  EXPECT_EQ(*this->vfs_.GetXattr(ino, "user.shovel.score." + node), "0.000");
  EXPECT_EQ(*this->vfs_.GetXattr(ino, "user.shovel.pinned"), "0");
  EXPECT_EQ(*this->vfs_.GetXattr(ino, "user.shovel.version"),
            std::to_string(this->client()->Stat("f")->version));
  EXPECT_EQ(
      this->Err(this->vfs_.SetXattr(ino, "user.shovel.pinned", "1", XattrSetMode::kAny)),
      EPERM);
  EXPECT_EQ(this->Err(this->vfs_.SetXattr(ino, "trusted.x", "1", XattrSetMode::kAny)),
            EOPNOTSUPP);
  EXPECT_EQ(this->Err(this->vfs_.GetXattr(ino, "user.nope").status()), ENODATA);
  EXPECT_EQ(this->Err(this->vfs_.GetXattr(ino, "security.capability").status()), ENODATA);
  ASSERT_TRUE(this->vfs_.SetXattr(ino, "user.color", "blue", XattrSetMode::kAny).ok());
  EXPECT_EQ(*this->vfs_.GetXattr(ino, "user.color"), "blue");
  EXPECT_EQ(
      this->Err(this->vfs_.SetXattr(ino, "user.color", "red", XattrSetMode::kCreate)),
      EEXIST);
  EXPECT_EQ(this->Err(this->vfs_.SetXattr(ino, "user.size", "1", XattrSetMode::kReplace)),
            ENODATA);
  names = *this->vfs_.ListXattr(ino);
  EXPECT_NE(std::find(names.begin(), names.end(), "user.color"), names.end());
  ASSERT_TRUE(this->vfs_.RemoveXattr(ino, "user.color").ok());
  EXPECT_EQ(this->Err(this->vfs_.RemoveXattr(ino, "user.color")), ENODATA);
}

TYPED_TEST(VfsTest, DirectoryXattrsAndModesLiveOnTheMarker) {
  ASSERT_TRUE(this->client()->Set("implied/x", "").ok());
  Attr d = this->Look(kRootIno, "implied");
  ASSERT_TRUE(this->vfs_.SetXattr(d.ino, "user.k", "v", XattrSetMode::kAny).ok());
  EXPECT_EQ(*this->vfs_.GetXattr(d.ino, "user.k"), "v");
  AttrChange c;
  c.perm = 0711;
  EXPECT_EQ(this->vfs_.SetAttr(d.ino, std::nullopt, c)->perm, 0711u);
  EXPECT_EQ(this->Names(d.ino), (std::vector<std::string>{"x"}));
}

TYPED_TEST(VfsTest, NamesBreakingTheRules) {
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, std::string(256, 'n')).status()),
            ENAMETOOLONG);
  EXPECT_EQ(
      this->Err(this->vfs_.Create(kRootIno, "\xc3\x28", 0644, O_CREAT, Owner{}).status()),
      EINVAL);
}

TYPED_TEST(VfsTest, StatFsCountsTheCluster) {
  this->Write(kRootIno, "f", std::string(10000, 'z'));
  FsStats s = *this->vfs_.StatFs();
  EXPECT_GT(s.total_bytes, 0u);
  EXPECT_GT(s.used_bytes, 0u);
  EXPECT_LE(s.used_bytes, s.total_bytes);
}

TYPED_TEST(VfsTest, ForgetFreesInodes) {
  this->Write(kRootIno, "f", "x");
  size_t before = this->vfs_.inodes().size();
  Attr a = this->Look(kRootIno, "f");
  this->vfs_.Forget(a.ino, 2);  // create + lookup
  EXPECT_EQ(this->vfs_.inodes().size(), before - 1);
}

// Fake-only: failures the real cluster cannot be told to make.
using FakeVfsTest = VfsTest<testing::FakeEnv>;

TEST_F(FakeVfsTest, LargeCopyStreamsInsteadOfBuffering) {
  auto c = vfs_.Create(kRootIno, "big", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  std::string block(1 << 20, 'q');
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(vfs_.Write(c->open.fh, i * block.size(), block).ok());
  EXPECT_EQ(env_.fake.counters().writer_writes, 8u);
  EXPECT_EQ(env_.fake.counters().sets, 0u);
  ASSERT_TRUE(vfs_.Release(c->open.fh).ok());
  EXPECT_EQ(env_.fake.counters().commits, 1u);
}

TEST_F(FakeVfsTest, SequentialPatchWritesDoNotCopyQuadratically) {
  uint64_t ino = Write(kRootIno, "f", "x");
  uint64_t commits = env_.fake.counters().commits;
  auto o = vfs_.Open(ino, O_WRONLY);
  std::string block(256 * 1024, 'p');
  for (int i = 0; i < 40; ++i) {  // 10 MiB, over max_dirty (1 MiB here)
    ASSERT_TRUE(vfs_.Write(o->fh, 1 + i * block.size(), block).ok());
  }
  ASSERT_TRUE(vfs_.Release(o->fh).ok());
  EXPECT_EQ(env_.fake.Stat("f")->size, 1 + 40 * block.size());
  EXPECT_EQ(env_.fake.counters().commits, commits);  // extended by appends only
  EXPECT_GE(env_.fake.counters().appends, 5u);
}

TEST_F(FakeVfsTest, UnreachableIsEioAndNoSpaceIsEnospc) {
  uint64_t ino = Write(kRootIno, "f", "x");
  env_.fake.SetDown(true);
  EXPECT_EQ(Err(vfs_.GetAttr(ino).status()), EIO);
  EXPECT_EQ(Err(vfs_.Lookup(kRootIno, "g").status()), EIO);
  env_.fake.SetDown(false);
  env_.fake.SetMaxBytes(100);
  auto c = vfs_.Create(kRootIno, "big", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(vfs_.Write(c->open.fh, 0, std::string(1000, 'x')).ok());
  EXPECT_EQ(Err(vfs_.Flush(c->open.fh)), ENOSPC);  // close(2) reports it
  EXPECT_TRUE(vfs_.Release(c->open.fh).ok());
  EXPECT_FALSE(*env_.fake.Exists("big"));
}

TEST_F(FakeVfsTest, NegativeLookupIsOneCall) {
  Write(kRootIno, "f", "x");
  uint64_t stats = env_.fake.counters().stats, lists = env_.fake.counters().lists;
  EXPECT_EQ(Err(vfs_.Lookup(kRootIno, "missing").status()), ENOENT);
  EXPECT_EQ(env_.fake.counters().stat_names, 1u);
  EXPECT_EQ(env_.fake.counters().stats - stats, 0u);
  EXPECT_EQ(env_.fake.counters().lists - lists, 0u);
}

TEST_F(FakeVfsTest, OpenWithoutLookupFetchesTheSmallFileOnce) {
  uint64_t ino = Write(kRootIno, "f", "small file");
  ASSERT_TRUE(env_.fake.Set("f", "other mount").ok());
  uint64_t stats = env_.fake.counters().stats, gets = env_.fake.counters().gets;
  // The entry is still cached by the kernel and so may be the page cache:
  // the open checks with a STAT, which also answers the GETATTR after it.
  auto o = vfs_.Open(ino, O_RDONLY);
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->keep_cache);
  EXPECT_EQ(vfs_.GetAttr(ino)->size, 11u);
  EXPECT_EQ(*vfs_.Read(o->fh, 0, 4096), "other mount");
  EXPECT_EQ(*vfs_.Read(o->fh, 11, 4096), "");
  EXPECT_EQ(env_.fake.counters().stats - stats, 1u);
  EXPECT_EQ(env_.fake.counters().gets - gets, 1u);
  ASSERT_TRUE(vfs_.Release(o->fh).ok());
}

TEST_F(FakeVfsTest, OpenAfterLookupUsesOneStat) {
  Write(kRootIno, "f", "x");
  uint64_t before = env_.fake.counters().stats;
  Attr a = Look(kRootIno, "f");
  auto o = vfs_.Open(a.ino, O_RDONLY);
  EXPECT_EQ(env_.fake.counters().stats - before, 1u);
  ASSERT_TRUE(vfs_.Release(o->fh).ok());
}

}  // namespace
}  // namespace shovel::fs
