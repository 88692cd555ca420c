// POSIX objects and rules of the vfs beyond plain files and directories:
// symlinks, special files, ctime and the parent directory's times. One typed
// suite over every Client implementation (client_envs.h).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <thread>

#include "shovel/fs/paths.h"
#include "vfs_fixture.h"

namespace shovel::fs {
namespace {

// Every GETATTR asks the cache: times are checked here.
VfsOptions NoAttrHints() {
  VfsOptions o = testing::BaseVfsOptions();
  o.hint_max_age_ns = 0;
  return o;
}

template <typename Env>
class VfsPosixTest : public testing::VfsFixture<Env> {
 protected:
  VfsPosixTest() : testing::VfsFixture<Env>(NoAttrHints()) {}
  static void Tick() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }
};

TYPED_TEST_SUITE(VfsPosixTest, testing::ClientEnvs);

TYPED_TEST(VfsPosixTest, SymlinkIsStoredAndSeenByAnotherMount) {
  Result<Attr> l = this->vfs_.Symlink(kRootIno, "l", "../some/target", Owner{7, 8});
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->type, FileType::kSymlink);
  EXPECT_EQ(l->size, 14u);
  EXPECT_EQ(l->perm, 0777u);
  EXPECT_EQ(l->uid, 7u);
  EXPECT_EQ(*this->vfs_.ReadLink(l->ino), "../some/target");
  BlobStat st = *this->client()->Stat("l");
  EXPECT_EQ(st.attrs.at("type"), "symlink");
  Vfs other(this->client(), this->Options());
  Attr seen = this->Look(other, kRootIno, "l");
  EXPECT_EQ(seen.type, FileType::kSymlink);
  EXPECT_EQ(seen.size, 14u);
  EXPECT_EQ(seen.uid, 7u);
  EXPECT_EQ(*other.ReadLink(seen.ino), "../some/target");
  EXPECT_EQ(other.GetAttr(seen.ino)->type, FileType::kSymlink);
}

TYPED_TEST(VfsPosixTest, SymlinkErrors) {
  uint64_t f = this->Write(kRootIno, "f", "data");
  ASSERT_TRUE(this->vfs_.MkDir(kRootIno, "d", 0755, Owner{1000, 1000}).ok());
  ASSERT_TRUE(this->vfs_.Symlink(kRootIno, "l", "f", Owner{}).ok());
  EXPECT_EQ(this->Err(this->vfs_.Symlink(kRootIno, "l", "x", Owner{}).status()), EEXIST);
  EXPECT_EQ(this->Err(this->vfs_.Symlink(kRootIno, "f", "x", Owner{}).status()), EEXIST);
  EXPECT_EQ(this->Err(this->vfs_.Symlink(kRootIno, "d", "x", Owner{}).status()), EEXIST);
  EXPECT_EQ(this->Err(this->vfs_.Symlink(kRootIno, "e", "", Owner{}).status()), ENOENT);
  EXPECT_EQ(
      this->Err(
          this->vfs_.Symlink(kRootIno, "e", std::string(4096, 'a'), Owner{}).status()),
      ENAMETOOLONG);
  EXPECT_EQ(this->Err(this->vfs_.ReadLink(f).status()), EINVAL);
  EXPECT_EQ(
      this->Err(
          this->vfs_.Symlink(kRootIno, std::string(256, 'n'), "x", Owner{}).status()),
      ENAMETOOLONG);
  // A long target (PATH_MAX - 1 bytes) is kept whole.
  std::string target(4095, 't');
  Result<Attr> big = this->vfs_.Symlink(kRootIno, "big", target, Owner{});
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(*this->vfs_.ReadLink(big->ino), target);
}

TYPED_TEST(VfsPosixTest, SymlinkUnlinkRenameAndLchown) {
  Result<Attr> l = this->vfs_.Symlink(kRootIno, "l", "t", Owner{1000, 1000});
  ASSERT_TRUE(l.ok());
  this->Tick();
  AttrChange chown;
  chown.uid = 42;
  Result<Attr> owned = this->vfs_.SetAttr(l->ino, std::nullopt, chown);
  ASSERT_TRUE(owned.ok()) << owned.status().ToString();
  EXPECT_EQ(owned->uid, 42u);
  EXPECT_EQ(owned->type, FileType::kSymlink);
  EXPECT_GT(owned->ctime_ns, l->ctime_ns);  // lchown changes ctime
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "l", kRootIno, "m", false).ok());
  Attr m = this->Look(this->vfs_, kRootIno, "m");
  EXPECT_EQ(m.type, FileType::kSymlink);
  EXPECT_EQ(m.uid, 42u);
  EXPECT_EQ(*this->vfs_.ReadLink(m.ino), "t");
  ASSERT_TRUE(this->vfs_.Unlink(kRootIno, "m").ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "m").status()), ENOENT);
}

TYPED_TEST(VfsPosixTest, SpecialFilesAreStoredAndSeenByAnotherMount) {
  Result<Attr> p = this->vfs_.MkNod(kRootIno, "fifo", FileType::kFifo, 0600, 0, Owner{});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->type, FileType::kFifo);
  EXPECT_EQ(p->perm, 0600u);
  ASSERT_TRUE(
      this->vfs_.MkNod(kRootIno, "sock", FileType::kSocket, 0755, 0, Owner{}).ok());
  ASSERT_TRUE(
      this->vfs_.MkNod(kRootIno, "null", FileType::kCharDevice, 0666, 0x103, Owner{})
          .ok());
  ASSERT_TRUE(
      this->vfs_.MkNod(kRootIno, "disk", FileType::kBlockDevice, 0660, 0x800, Owner{})
          .ok());
  ASSERT_TRUE(
      this->vfs_.MkNod(kRootIno, "plain", FileType::kRegular, 0640, 0, Owner{}).ok());
  EXPECT_EQ(
      this->Err(
          this->vfs_.MkNod(kRootIno, "fifo", FileType::kFifo, 0600, 0, Owner{}).status()),
      EEXIST);
  Vfs other(this->client(), this->Options());
  Attr fifo = this->Look(other, kRootIno, "fifo");
  EXPECT_EQ(fifo.type, FileType::kFifo);
  EXPECT_EQ(fifo.perm, 0600u);
  EXPECT_EQ(this->Look(other, kRootIno, "sock").type, FileType::kSocket);
  Attr null = this->Look(other, kRootIno, "null");
  EXPECT_EQ(null.type, FileType::kCharDevice);
  EXPECT_EQ(null.rdev, 0x103u);
  Attr disk = this->Look(other, kRootIno, "disk");
  EXPECT_EQ(disk.type, FileType::kBlockDevice);
  EXPECT_EQ(disk.rdev, 0x800u);
  Attr plain = this->Look(other, kRootIno, "plain");
  EXPECT_EQ(plain.type, FileType::kRegular);
  EXPECT_EQ(plain.perm, 0640u);
  EXPECT_EQ(plain.size, 0u);
  EXPECT_EQ(this->Err(other.ReadLink(fifo.ino).status()), EINVAL);
}

TYPED_TEST(VfsPosixTest, ChmodChownAndUtimensChangeCtime) {
  uint64_t ino = this->Write(kRootIno, "f", "x");
  int64_t before = this->vfs_.GetAttr(ino)->ctime_ns;
  this->Tick();
  AttrChange chmod;
  chmod.perm = 0600;
  Result<Attr> a = this->vfs_.SetAttr(ino, std::nullopt, chmod);
  ASSERT_TRUE(a.ok());
  EXPECT_GT(a->ctime_ns, before);
  int64_t after_chmod = a->ctime_ns;
  this->Tick();
  AttrChange chown;
  chown.gid = 5;
  EXPECT_GT(this->vfs_.SetAttr(ino, std::nullopt, chown)->ctime_ns, after_chmod);
  // Directories too (their marker holds the times).
  Result<Attr> d = this->vfs_.MkDir(kRootIno, "d", 0755, Owner{1000, 1000});
  ASSERT_TRUE(d.ok());
  this->Tick();
  EXPECT_GT(this->vfs_.SetAttr(d->ino, std::nullopt, chmod)->ctime_ns, d->ctime_ns);
}

TYPED_TEST(VfsPosixTest, EntriesChangeTheParentsMtimeAndCtime) {
  Result<Attr> d = this->vfs_.MkDir(kRootIno, "d", 0755, Owner{1000, 1000});
  ASSERT_TRUE(d.ok());
  int64_t last = this->vfs_.GetAttr(d->ino)->mtime_ns;
  auto changed = [&](const char* what) {
    Attr now = *this->vfs_.GetAttr(d->ino);
    EXPECT_GT(now.mtime_ns, last) << what;
    EXPECT_GE(now.ctime_ns, now.mtime_ns) << what;
    last = now.mtime_ns;
    this->Tick();
  };
  this->Tick();
  this->Write(d->ino, "f", "x");
  changed("create");
  ASSERT_TRUE(this->vfs_.MkDir(d->ino, "sub", 0755, Owner{}).ok());
  changed("mkdir");
  ASSERT_TRUE(this->vfs_.Symlink(d->ino, "l", "f", Owner{}).ok());
  changed("symlink");
  ASSERT_TRUE(this->vfs_.MkNod(d->ino, "p", FileType::kFifo, 0644, 0, Owner{}).ok());
  changed("mknod");
  ASSERT_TRUE(this->vfs_.Rename(d->ino, "f", d->ino, "g", false).ok());
  changed("rename");
  ASSERT_TRUE(this->vfs_.Unlink(d->ino, "g").ok());
  changed("unlink");
  ASSERT_TRUE(this->vfs_.RmDir(d->ino, "sub").ok());
  changed("rmdir");
}

TYPED_TEST(VfsPosixTest, NamesAndPathsUpToTheLimits) {
  // Four 200-byte directories: 803 bytes; then paths of 1011..1024 bytes.
  uint64_t dir = kRootIno;
  for (char c : {'a', 'b', 'c', 'd'}) {
    Result<Attr> d = this->vfs_.MkDir(dir, std::string(200, c), 0755, Owner{});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dir = d->ino;
  }
  for (size_t len = 1011; len <= 1024; ++len) {
    std::string name(len - 804, 'm');
    Result<Attr> m = this->vfs_.MkDir(dir, name, 0755, Owner{});
    ASSERT_TRUE(m.ok()) << len << ": " << m.status().ToString();
    EXPECT_TRUE(this->Look(this->vfs_, dir, name).is_dir) << len;
  }
  uint64_t f = this->Write(dir, std::string(1024 - 804, 'f'), "at 1024 bytes");
  ASSERT_NE(f, 0u);
  EXPECT_EQ(this->client()->Stat(this->vfs_.inodes().Get(f)->path)->size, 13u);
  // 255-byte names down to PATH_MAX: 15 levels are 3839 bytes; a name of 242
  // more reaches kMaxPathBytes (4082), one byte more is ENAMETOOLONG.
  dir = kRootIno;
  std::string path;
  for (int i = 0; i < 15; ++i) {
    std::string name(255, static_cast<char>('A' + i));
    Result<Attr> d = this->vfs_.MkDir(dir, name, 0755, Owner{});
    ASSERT_TRUE(d.ok()) << i << ": " << d.status().ToString();
    dir = d->ino;
    path += (path.empty() ? "" : "/") + name;
  }
  ASSERT_TRUE(this->vfs_.MkDir(dir, std::string(242, 'x'), 0755, Owner{}).ok());
  EXPECT_EQ(path.size() + 1 + 242, kMaxPathBytes);
  EXPECT_EQ(
      this->Err(this->vfs_.MkDir(dir, std::string(243, 'y'), 0755, Owner{}).status()),
      ENAMETOOLONG);
  EXPECT_EQ(
      this->Err(
          this->vfs_.Create(dir, std::string(243, 'y'), 0644, O_CREAT, Owner{}).status()),
      ENAMETOOLONG);
  EXPECT_EQ(this->Err(this->vfs_.Lookup(dir, std::string(243, 'y')).status()),
            ENAMETOOLONG);
  EXPECT_EQ(
      this->Err(this->vfs_.Symlink(dir, std::string(243, 'y'), "t", Owner{}).status()),
      ENAMETOOLONG);
  // Nothing half-made: only the 242-byte directory (and the marker of the
  // directory itself) is under `path`.
  ListPage page = *this->client()->List(path + "/", "", 10, true);
  EXPECT_EQ(page.ids,
            (std::vector<std::string>{".shovelfs.dir", std::string(242, 'x') + "/"}));
}

TYPED_TEST(VfsPosixTest, ASizeNoWorkerCanHoldIsEfbigAtOnce) {
  uint64_t ino = this->Write(kRootIno, "f", "x");
  AttrChange huge;
  huge.size = 999999999999999ull;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(this->Err(this->vfs_.SetAttr(ino, std::nullopt, huge).status()), EFBIG);
  auto o = this->vfs_.Open(ino, O_RDWR);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(this->Err(this->vfs_.SetAttr(ino, o->fh, huge).status()), EFBIG);
  EXPECT_EQ(this->Err(this->vfs_.Write(o->fh, 999999999999999ull, "x").status()), EFBIG);
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(*this->client()->Get("f", 0, kWholeBlob), "x");
}

TYPED_TEST(VfsPosixTest, AFileUnlinkedWhileBeingWrittenDoesNotComeBack) {
  auto c = this->vfs_.Create(kRootIno, "tmp", 0644, O_RDWR | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 0, "before ").ok());
  ASSERT_TRUE(this->vfs_.Unlink(kRootIno, "tmp").ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "tmp").status()), ENOENT);
  // Still readable and writable through the descriptor; fstat says nlink 0.
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 7, "after").ok());
  EXPECT_EQ(*this->vfs_.Read(c->open.fh, 0, 100), "before after");
  Attr st = *this->vfs_.GetAttr(c->attr.ino);
  EXPECT_EQ(st.nlink, 0u);
  EXPECT_EQ(st.size, 12u);
  ASSERT_TRUE(this->vfs_.Flush(c->open.fh).ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "tmp").status()), ENOENT);
  ASSERT_TRUE(this->vfs_.Release(c->open.fh).ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "tmp").status()), ENOENT);
  EXPECT_FALSE(*this->client()->Exists("tmp"));
  // The bytes are freed at the last close; nothing is left hidden either.
  EXPECT_TRUE(this->client()->List("", "", 10, false)->ids.empty());
}

TYPED_TEST(VfsPosixTest, OpenUnlinkedFileServesEveryDescriptorUntilTheLastClose) {
  uint64_t ino = this->Write(kRootIno, "f", "0123456789");
  auto r = this->vfs_.Open(ino, O_RDONLY);
  auto w = this->vfs_.Open(ino, O_RDWR);
  ASSERT_TRUE(r.ok() && w.ok());
  ASSERT_TRUE(this->vfs_.Unlink(kRootIno, "f").ok());
  EXPECT_FALSE(*this->client()->Exists("f"));
  // The hidden id is not listed and cannot be looked up.
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, ".shovelfs.open").status()), ENOENT);
  Result<uint64_t> d = this->vfs_.OpenDir(kRootIno);
  Result<std::vector<DirEntry>> entries = this->vfs_.ReadDir(*d, 0, 100);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), 2u);  // "." and ".."
  this->vfs_.ReleaseDir(*d);
  EXPECT_EQ(*this->vfs_.Read(r->fh, 0, 100), "0123456789");
  ASSERT_TRUE(this->vfs_.Write(w->fh, 0, "AB").ok());
  ASSERT_TRUE(this->vfs_.Flush(w->fh).ok());
  EXPECT_EQ(*this->vfs_.Read(w->fh, 0, 100), "AB23456789");
  EXPECT_EQ(this->vfs_.GetAttr(ino)->nlink, 0u);
  ASSERT_TRUE(this->vfs_.Release(w->fh).ok());
  EXPECT_FALSE(this->client()->List("", "", 10, false)->ids.empty());  // r is open
  ASSERT_TRUE(this->vfs_.Release(r->fh).ok());
  EXPECT_TRUE(this->client()->List("", "", 10, false)->ids.empty());
  // A new file of the same name is a new file.
  this->Write(kRootIno, "f", "new");
  Attr f = this->Look(this->vfs_, kRootIno, "f");
  EXPECT_NE(f.ino, ino);
  EXPECT_EQ(f.nlink, 1u);
}

TYPED_TEST(VfsPosixTest, AWriteByANonRootUserClearsSetuidAndSetgid) {
  uint64_t ino = this->Write(kRootIno, "f", "x");
  AttrChange mode;
  mode.perm = 06777;
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, mode).ok());
  auto o = this->vfs_.Open(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 0, "root", 0).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->perm, 06777u);  // root keeps them
  bool changed = false;
  ASSERT_TRUE(this->vfs_.Write(o->fh, 0, "user", 1000, &changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(this->vfs_.GetAttr(ino)->perm, 0777u);
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  // Set-group-ID without group execute (mandatory locking) stays.
  mode.perm = 02745;
  ASSERT_TRUE(this->vfs_.SetAttr(ino, std::nullopt, mode).ok());
  o = this->vfs_.Open(ino, O_RDWR);
  ASSERT_TRUE(this->vfs_.Write(o->fh, 0, "u", 1000).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->perm, 02745u);
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->perm, 02745u);
}

TYPED_TEST(VfsPosixTest, RenameOverAnOpenFileKeepsItsDescriptors) {  // atomic saves
  uint64_t f = this->Write(kRootIno, "f", "old");
  auto r = this->vfs_.Open(f, O_RDONLY);
  ASSERT_TRUE(r.ok());
  this->Write(kRootIno, "f.tmp", "new");
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "f.tmp", kRootIno, "f", false).ok());
  EXPECT_EQ(*this->client()->Get("f", 0, kWholeBlob), "new");
  EXPECT_EQ(*this->vfs_.Read(r->fh, 0, 100), "old");
  EXPECT_EQ(this->vfs_.GetAttr(f)->nlink, 0u);
  ASSERT_TRUE(this->vfs_.Release(r->fh).ok());
  EXPECT_EQ(this->client()->List("", "", 10, false)->ids,
            (std::vector<std::string>{"f"}));
}

TYPED_TEST(VfsPosixTest, RenameOfAFileBeingWrittenMovesItsBytes) {
  auto c = this->vfs_.Create(kRootIno, "a", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 0, "part1 ").ok());
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "a", kRootIno, "b", false).ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 6, "part2").ok());
  ASSERT_TRUE(this->vfs_.Release(c->open.fh).ok());
  EXPECT_FALSE(*this->client()->Exists("a"));
  EXPECT_EQ(*this->client()->Get("b", 0, kWholeBlob), "part1 part2");
}

TYPED_TEST(VfsPosixTest, HardLinksShareBytesAndCountNames) {
  uint64_t a = this->Write(kRootIno, "a", "one");
  Result<Attr> b = this->vfs_.Link(a, kRootIno, "b");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->ino, a);  // one inode, two names
  EXPECT_EQ(b->nlink, 2u);
  EXPECT_EQ(b->size, 3u);
  // A write through one name is seen through the other, on another mount too.
  auto o = this->vfs_.Open(a, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(this->vfs_.Write(o->fh, 0, "changed").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  Vfs other(this->client(), this->Options());
  Attr ob = this->Look(other, kRootIno, "b");
  Attr oa = this->Look(other, kRootIno, "a");
  EXPECT_EQ(oa.ino, ob.ino);
  EXPECT_EQ(ob.nlink, 2u);
  auto r = other.Open(ob.ino, O_RDONLY);
  EXPECT_EQ(*other.Read(r->fh, 0, 100), "changed");
  ASSERT_TRUE(other.Release(r->fh).ok());
  // chmod through one name shows through the other.
  AttrChange chmod;
  chmod.perm = 0600;
  ASSERT_TRUE(other.SetAttr(oa.ino, std::nullopt, chmod).ok());
  EXPECT_EQ(this->vfs_.GetAttr(a)->perm, 0600u);
  // A third name, then unlink keeps the bytes for the others.
  ASSERT_TRUE(this->vfs_.MkDir(kRootIno, "d", 0755, Owner{}).ok());
  Attr d = this->Look(this->vfs_, kRootIno, "d");
  EXPECT_EQ(this->vfs_.Link(a, d.ino, "c")->nlink, 3u);
  ASSERT_TRUE(this->vfs_.Unlink(kRootIno, "a").ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(kRootIno, "a").status()), ENOENT);
  EXPECT_EQ(this->vfs_.GetAttr(a)->nlink, 2u);
  ASSERT_TRUE(other.Unlink(kRootIno, "b").ok());  // looked up there
  Attr c = this->Look(this->vfs_, d.ino, "c");
  EXPECT_EQ(c.nlink, 1u);
  EXPECT_EQ(c.perm, 0600u);
  r = this->vfs_.Open(c.ino, O_RDONLY);
  EXPECT_EQ(*this->vfs_.Read(r->fh, 0, 100), "changed");
  ASSERT_TRUE(this->vfs_.Release(r->fh).ok());
  // The last name frees the bytes: nothing is left but the directory.
  ASSERT_TRUE(this->vfs_.Unlink(d.ino, "c").ok());
  EXPECT_EQ(this->client()->List("", "", 10, false)->ids,
            (std::vector<std::string>{"d/.shovelfs.dir"}));
}

TYPED_TEST(VfsPosixTest, HardLinkRulesAndRenames) {
  uint64_t f = this->Write(kRootIno, "f", "data");
  this->Write(kRootIno, "g", "other");
  Result<Attr> d = this->vfs_.MkDir(kRootIno, "d", 0755, Owner{});
  Result<Attr> l = this->vfs_.Symlink(kRootIno, "l", "f", Owner{});
  EXPECT_EQ(this->Err(this->vfs_.Link(d->ino, kRootIno, "x").status()), EPERM);
  EXPECT_EQ(this->Err(this->vfs_.Link(l->ino, kRootIno, "x").status()), EPERM);
  EXPECT_EQ(this->Err(this->vfs_.Link(f, kRootIno, "g").status()), EEXIST);
  ASSERT_TRUE(this->vfs_.Link(f, kRootIno, "h").ok());
  // Renaming a name moves the name; renaming over a name drops one link.
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "h", kRootIno, "i", false).ok());
  EXPECT_EQ(this->vfs_.GetAttr(f)->nlink, 2u);
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "g", kRootIno, "i", false).ok());
  EXPECT_EQ(this->vfs_.GetAttr(f)->nlink, 1u);
  Attr i = this->Look(this->vfs_, kRootIno, "i");
  EXPECT_NE(i.ino, f);
  EXPECT_EQ(i.nlink, 1u);
  ASSERT_TRUE(this->vfs_.Unlink(kRootIno, "f").ok());
  ListPage all = *this->client()->List("", "", 10, false);
  EXPECT_EQ(all.ids, (std::vector<std::string>{"d/.shovelfs.dir", "i", "l"}));
}

TYPED_TEST(VfsPosixTest, AnOpenHardLinkedFileOutlivesItsLastName) {
  uint64_t f = this->Write(kRootIno, "f", "data");
  ASSERT_TRUE(this->vfs_.Link(f, kRootIno, "g").ok());
  auto o = this->vfs_.Open(f, O_RDWR);
  ASSERT_TRUE(this->vfs_.Unlink(kRootIno, "f").ok());
  ASSERT_TRUE(this->vfs_.Unlink(kRootIno, "g").ok());
  EXPECT_EQ(this->vfs_.GetAttr(f)->nlink, 0u);
  ASSERT_TRUE(this->vfs_.Write(o->fh, 4, "+more").ok());
  EXPECT_EQ(*this->vfs_.Read(o->fh, 0, 100), "data+more");
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  EXPECT_TRUE(this->client()->List("", "", 10, false)->ids.empty());
}

TYPED_TEST(VfsPosixTest, ASetgidDirectoryGivesItsGroup) {
  Result<Attr> d = this->vfs_.MkDir(kRootIno, "d", 0755, Owner{1000, 1000});
  ASSERT_TRUE(d.ok());
  AttrChange c;
  c.perm = 02775;
  c.gid = 1234;
  ASSERT_TRUE(this->vfs_.SetAttr(d->ino, std::nullopt, c).ok());
  auto f = this->vfs_.Create(d->ino, "f", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->attr.gid, 1234u);
  ASSERT_TRUE(this->vfs_.Release(f->open.fh).ok());
  Result<Attr> s = this->vfs_.MkDir(d->ino, "s", 0755, Owner{1000, 1000});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->gid, 1234u);
  EXPECT_EQ(s->perm, 02755u);
  Result<Attr> p =
      this->vfs_.MkNod(d->ino, "p", FileType::kFifo, 0644, 0, Owner{1000, 1000});
  EXPECT_EQ(p->gid, 1234u);
  Vfs other(this->client(), this->Options());
  Attr dd = this->Look(other, kRootIno, "d");
  EXPECT_EQ(this->Look(other, dd.ino, "f").gid, 1234u);
  EXPECT_EQ(this->Look(other, dd.ino, "s").perm, 02755u);
  // Without the bit the creator's group is kept.
  auto g = this->vfs_.Create(kRootIno, "g", 0644, O_WRONLY | O_CREAT, Owner{1000, 77});
  EXPECT_EQ(g->attr.gid, 77u);
  ASSERT_TRUE(this->vfs_.Release(g->open.fh).ok());
}

TYPED_TEST(VfsPosixTest, ADirectoryCountsItsSubdirectoriesInNlink) {
  Result<Attr> d = this->vfs_.MkDir(kRootIno, "d", 0755, Owner{1000, 1000});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->nlink, 2u);
  for (const char* sub : {"s1", "s2", "s3"}) {
    ASSERT_TRUE(this->vfs_.MkDir(d->ino, sub, 0755, Owner{1000, 1000}).ok());
  }
  this->Write(d->ino, "file", "x");  // files do not count
  ASSERT_TRUE(this->vfs_.Symlink(d->ino, "link", "file", Owner{}).ok());
  EXPECT_EQ(this->vfs_.GetAttr(d->ino)->nlink, 5u);
  ASSERT_TRUE(this->vfs_.RmDir(d->ino, "s2").ok());
  EXPECT_EQ(this->vfs_.GetAttr(d->ino)->nlink, 4u);
  // Another mount's lookup counts them too; so does the root.
  Vfs other(this->client(), this->Options());
  Attr seen = this->Look(other, kRootIno, "d");
  EXPECT_EQ(seen.nlink, 4u);
  EXPECT_EQ(this->Look(other, seen.ino, "s1").nlink, 2u);
  EXPECT_EQ(this->vfs_.GetAttr(kRootIno)->nlink, 3u);
}

TYPED_TEST(VfsPosixTest, ReadDirReportsEveryEntryType) {
  ASSERT_TRUE(this->vfs_.MkDir(kRootIno, "dir", 0755, Owner{}).ok());
  this->Write(kRootIno, "reg", "data");
  ASSERT_TRUE(this->vfs_.Symlink(kRootIno, "lnk", "reg", Owner{}).ok());
  ASSERT_TRUE(this->vfs_.MkNod(kRootIno, "fifo", FileType::kFifo, 0600, 0, Owner{}).ok());
  ASSERT_TRUE(
      this->vfs_.MkNod(kRootIno, "sock", FileType::kSocket, 0600, 0, Owner{}).ok());
  ASSERT_TRUE(
      this->vfs_.MkNod(kRootIno, "chr", FileType::kCharDevice, 0600, 0x103, Owner{})
          .ok());
  Result<uint64_t> fh = this->vfs_.OpenDir(kRootIno);
  ASSERT_TRUE(fh.ok());
  Result<std::vector<DirEntry>> entries = this->vfs_.ReadDir(*fh, 0, 100);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  std::map<std::string, std::string> kinds;
  for (const DirEntry& e : *entries) {
    std::string kind = e.is_dir ? "dir" : !e.type ? "unknown" : "?";
    if (!e.is_dir && e.type) {
      switch (*e.type) {
        case FileType::kRegular:
          kind = "reg";
          break;
        case FileType::kSymlink:
          kind = "lnk";
          break;
        case FileType::kFifo:
          kind = "fifo";
          break;
        case FileType::kSocket:
          kind = "sock";
          break;
        case FileType::kCharDevice:
          kind = "chr";
          break;
        case FileType::kBlockDevice:
          kind = "blk";
          break;
      }
    }
    kinds[e.name] = kind;
  }
  this->vfs_.ReleaseDir(*fh);
  std::map<std::string, std::string> want = {
      {".", "dir"},   {"..", "dir"},    {"dir", "dir"},   {"reg", "reg"},
      {"lnk", "lnk"}, {"fifo", "fifo"}, {"sock", "sock"}, {"chr", "chr"}};
  EXPECT_EQ(kinds, want);
}

}  // namespace
}  // namespace shovel::fs
