// What the vfs asks the cache (and the kernel) for small files: a read-only
// open needs no FLUSH at close, and the GETATTRs the kernel sends for a
// directory after every create in it reuse one recent answer until a
// directory changes through this mount. Counted with the FakeClient.
#include <fcntl.h>
#include <gtest/gtest.h>

#include "fake_client.h"
#include "shovel/fs/fuse_edge.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {
namespace {

using testing::FakeClient;

class VfsRoundTripTest : public ::testing::Test {
 protected:
  VfsRoundTripTest() : vfs_(&fake_, Options()) {}

  static VfsOptions Options() {
    VfsOptions o;
    o.owner = Owner{1000, 1000};
    o.hint_max_age_ns = 3600'000'000'000;  // no test is that slow: no timing flakes
    return o;
  }

  uint64_t Write(uint64_t parent, const std::string& name, const std::string& data) {
    Result<Vfs::Created> c =
        vfs_.Create(parent, name, 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return 0;
    EXPECT_FALSE(c->open.no_flush);  // close(2) commits
    EXPECT_TRUE(vfs_.Write(c->open.fh, 0, data).ok());
    EXPECT_TRUE(vfs_.Flush(c->open.fh).ok());
    EXPECT_TRUE(vfs_.Release(c->open.fh).ok());
    return c->attr.ino;
  }
  uint64_t Dir(const std::string& name) {
    Result<Attr> d = vfs_.MkDir(kRootIno, name, 0755, Owner{1000, 1000});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.value_or(Attr{}).ino;
  }
  uint64_t Stats() { return fake_.counters().stats + fake_.counters().lists; }

  FakeClient fake_;
  Vfs vfs_;
};

TEST_F(VfsRoundTripTest, OnlyReadOnlyOpensSkipTheFlush) {
  uint64_t ino = Write(kRootIno, "f", "data");
  for (int flags :
       {O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY | O_APPEND, O_WRONLY | O_TRUNC}) {
    Result<OpenReply> o = vfs_.Open(ino, flags);
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    EXPECT_EQ(o->no_flush, flags == O_RDONLY) << flags;
    ASSERT_TRUE(vfs_.Release(o->fh).ok());
  }
}

TEST_F(VfsRoundTripTest, DirectoryGetattrsBetweenCreatesReuseOneAnswer) {
  uint64_t d = Dir("d");
  ASSERT_TRUE(vfs_.GetAttr(d).ok());
  uint64_t before = Stats();
  for (int i = 0; i < 20; ++i) {
    Write(d, "f" + std::to_string(i), "x");
    Result<Attr> a = vfs_.GetAttr(d);  // the kernel asks after each create
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->perm, 0755u);
  }
  EXPECT_EQ(Stats(), before);
}

TEST_F(VfsRoundTripTest, ADirectoryChangedHereIsAskedAgain) {
  uint64_t d = Dir("d");
  ASSERT_TRUE(vfs_.GetAttr(d).ok());
  AttrChange chmod;
  chmod.perm = 0700;
  ASSERT_TRUE(vfs_.SetAttr(d, std::nullopt, chmod).ok());
  EXPECT_EQ(vfs_.GetAttr(d)->perm, 0700u);

  // Unlinking the last id under a directory without a marker ends it.
  Write(kRootIno, "plain", "");
  ASSERT_TRUE(fake_.Set("implicit/only", "x").ok());
  Result<Attr> implicit = vfs_.Lookup(kRootIno, "implicit");
  ASSERT_TRUE(implicit.ok()) << implicit.status().ToString();
  ASSERT_TRUE(vfs_.GetAttr(implicit->ino).ok());
  ASSERT_TRUE(vfs_.Unlink(implicit->ino, "only").ok());
  EXPECT_EQ(ErrnoFromStatus(vfs_.GetAttr(implicit->ino).status()), ENOENT);

  // rmdir, then mkdir again: the new directory's attributes.
  ASSERT_TRUE(vfs_.RmDir(kRootIno, "d").ok());
  Result<Attr> again = vfs_.MkDir(kRootIno, "d", 0711, Owner{1000, 1000});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(vfs_.GetAttr(again->ino)->perm, 0711u);
}

TEST_F(VfsRoundTripTest, SmallFileCreateAndReadCalls) {
  uint64_t d = Dir("d");
  ASSERT_TRUE(vfs_.GetAttr(d).ok());
  auto& c = fake_.counters();
  uint64_t names = c.stat_names, stats = Stats(), commits = c.commits + c.sets;
  uint64_t gets = c.gets;
  // create+write+close: a negative lookup (STAT+LIST together), the
  // directory's GETATTR (reused), the commit at close.
  EXPECT_EQ(ErrnoFromStatus(vfs_.Lookup(d, "new").status()), ENOENT);
  uint64_t ino = Write(d, "new", std::string(4096, 'n'));
  ASSERT_TRUE(vfs_.GetAttr(d).ok());
  EXPECT_EQ(c.stat_names - names, 1u);
  EXPECT_EQ(Stats() - stats, 0u);
  EXPECT_EQ(c.commits + c.sets - commits, 1u);
  // open+read+close with the name still cached by the kernel: one call,
  // whose STAT also answers the GETATTR (read past the end) after the open.
  Result<OpenReply> o = vfs_.Open(ino, O_RDONLY);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->keep_cache);
  EXPECT_TRUE(o->no_flush);
  EXPECT_EQ(vfs_.GetAttr(ino)->size, 4096u);
  ASSERT_TRUE(vfs_.Release(o->fh).ok());
  EXPECT_EQ(Stats() - stats + c.gets - gets, 1u);
  // That answer serves one GETATTR only.
  EXPECT_EQ(vfs_.GetAttr(ino)->size, 4096u);
  EXPECT_EQ(Stats() - stats + c.gets - gets, 2u);
}

TEST_F(VfsRoundTripTest, TheOpensStatIsNotUsedAfterAChangeHere) {
  uint64_t ino = Write(kRootIno, "f", "1234");
  Result<OpenReply> o = vfs_.Open(ino, O_RDONLY);
  ASSERT_TRUE(o.ok());
  AttrChange chmod;
  chmod.perm = 0600;
  Result<Attr> changed = vfs_.SetAttr(ino, std::nullopt, chmod);  // ends with a GETATTR
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->perm, 0600u);
  ASSERT_TRUE(vfs_.Release(o->fh).ok());

  o = vfs_.Open(ino, O_RDONLY);
  ASSERT_TRUE(o.ok());
  Write(kRootIno, "f", "123456789");  // committed through this mount
  EXPECT_EQ(vfs_.GetAttr(ino)->size, 9u);
  ASSERT_TRUE(vfs_.Release(o->fh).ok());
}

}  // namespace
}  // namespace shovel::fs
