// rename(2) of directories in the vfs core: a full tree moves with every kind
// of entry, open files follow, and each errno case of POSIX. One typed suite
// over every Client implementation (client_envs.h).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "vfs_fixture.h"

namespace shovel::fs {
namespace {

template <typename Env>
class VfsRenameTest : public testing::VfsFixture<Env> {};

TYPED_TEST_SUITE(VfsRenameTest, testing::ClientEnvs);

TYPED_TEST(VfsRenameTest, AFullDirectoryMovesWithEveryKindOfEntry) {
  Vfs& v = this->vfs_;
  uint64_t d = this->Dir(kRootIno, "d", 0710);
  uint64_t sub = this->Dir(d, "sub");
  this->Dir(sub, "empty");
  uint64_t a = this->Write(d, "a", "bytes of a");
  this->Write(sub, "b", "bytes of b");
  ASSERT_TRUE(v.Symlink(d, "l", "sub/b", Owner{}).ok());
  ASSERT_TRUE(v.MkNod(d, "p", FileType::kFifo, 0600, 0, Owner{}).ok());
  ASSERT_TRUE(v.Link(a, sub, "h").ok());
  this->Write(kRootIno, "outside", "x");

  ASSERT_TRUE(v.Rename(kRootIno, "d", kRootIno, "e", false).ok());
  EXPECT_EQ(this->Err(v.Lookup(kRootIno, "d").status()), ENOENT);
  Result<ListPage> old = this->client()->List("d/", "", 10, false);
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->ids.empty());
  // The kernel's inodes now name the new paths.
  EXPECT_EQ(v.inodes().Get(sub)->path, "e/sub");
  EXPECT_TRUE(v.GetAttr(sub).ok());
  // Another mount sees the whole tree under the new name.
  Vfs other(this->client(), this->Options());
  Attr e = this->Look(other, kRootIno, "e");
  EXPECT_TRUE(e.is_dir);
  EXPECT_EQ(e.perm, 0710u);  // the marker moved with its attributes
  Attr esub = this->Look(other, e.ino, "sub");
  EXPECT_EQ(esub.nlink, 3u);  // "empty" is still a subdirectory
  EXPECT_TRUE(this->Look(other, esub.ino, "empty").is_dir);
  EXPECT_EQ(this->ReadAll(other, this->Look(other, e.ino, "a").ino), "bytes of a");
  EXPECT_EQ(this->ReadAll(other, this->Look(other, esub.ino, "b").ino), "bytes of b");
  Attr l = this->Look(other, e.ino, "l");
  EXPECT_EQ(l.type, FileType::kSymlink);
  EXPECT_EQ(*other.ReadLink(l.ino), "sub/b");
  EXPECT_EQ(this->Look(other, e.ino, "p").type, FileType::kFifo);
  Attr h = this->Look(other, esub.ino, "h");
  EXPECT_EQ(h.nlink, 2u);
  EXPECT_EQ(this->ReadAll(other, h.ino), "bytes of a");
  // This mount still knows e/sub/h is a link name: unlink drops one link.
  ASSERT_TRUE(v.Unlink(v.Lookup(kRootIno, "e")->ino, "a").ok());
  EXPECT_EQ(this->Look(other, esub.ino, "h").nlink, 1u);
  EXPECT_EQ(this->ReadAll(other, this->Look(other, kRootIno, "outside").ino), "x");
}

TYPED_TEST(VfsRenameTest, AnEmptyDirectoryMovesIntoAnotherDirectory) {
  uint64_t p = this->Dir(kRootIno, "p");
  uint64_t q = this->Dir(kRootIno, "q");
  this->Dir(p, "d", 0700);
  ASSERT_TRUE(this->vfs_.Rename(p, "d", q, "moved", false).ok());
  EXPECT_EQ(this->Err(this->vfs_.Lookup(p, "d").status()), ENOENT);
  Attr m = this->Look(this->vfs_, q, "moved");
  EXPECT_TRUE(m.is_dir);
  EXPECT_EQ(m.perm, 0700u);
  EXPECT_EQ(this->AllIds(),
            (std::vector<std::string>{"p/.shovelfs.dir", "q/.shovelfs.dir",
                                      "q/moved/.shovelfs.dir"}));
}

TYPED_TEST(VfsRenameTest, OntoAnEmptyDirectoryReplacesIt) {
  uint64_t d = this->Dir(kRootIno, "d", 0750);
  this->Write(d, "f", "data");
  uint64_t target = this->Dir(kRootIno, "t", 0700);
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "d", kRootIno, "t", false).ok());
  Attr t = this->Look(this->vfs_, kRootIno, "t");
  EXPECT_NE(t.ino, target);  // the replaced directory's inode is detached
  EXPECT_EQ(t.perm, 0750u);
  EXPECT_EQ(this->ReadAll(this->vfs_, this->Look(this->vfs_, t.ino, "f").ino), "data");
  EXPECT_EQ(this->AllIds(), (std::vector<std::string>{"t/.shovelfs.dir", "t/f"}));
}

TYPED_TEST(VfsRenameTest, EveryErrnoCase) {
  Vfs& v = this->vfs_;
  uint64_t d = this->Dir(kRootIno, "d");
  uint64_t sub = this->Dir(d, "sub");
  this->Write(d, "f", "data");
  uint64_t full = this->Dir(kRootIno, "full");
  this->Write(full, "x", "x");
  this->Dir(kRootIno, "empty");
  this->Write(kRootIno, "file", "file");
  // A directory into its own subtree.
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "d", sub, "d2", false)), EINVAL);
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "d", d, "again", false)), EINVAL);
  // Onto a directory that holds entries, onto a file, a file onto a directory.
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "d", kRootIno, "full", false)), ENOTEMPTY);
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "d", kRootIno, "file", false)), ENOTDIR);
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "file", kRootIno, "empty", false)), EISDIR);
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "file", kRootIno, "full", false)), EISDIR);
  // RENAME_NOREPLACE onto an existing (even empty) directory.
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "d", kRootIno, "empty", true)), EEXIST);
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "missing", kRootIno, "m2", false)), ENOENT);
  // A path that would pass PATH_MAX once moved.
  std::string name(200, 'n');
  uint64_t deep = d;
  for (int i = 0; i < 20; ++i) deep = this->Dir(deep, name);
  this->Write(deep, "leaf", "leaf");
  EXPECT_EQ(this->Err(v.Rename(kRootIno, "d", kRootIno, std::string(250, 'L'), false)),
            ENAMETOOLONG);
  // Nothing moved by any refused call; the same name is a no-op.
  ASSERT_TRUE(v.Rename(kRootIno, "d", kRootIno, "d", false).ok());
  EXPECT_EQ(this->ReadAll(v, this->Look(v, d, "f").ino), "data");
  EXPECT_EQ(this->ReadAll(v, this->Look(v, full, "x").ino), "x");
  EXPECT_TRUE(this->Look(v, kRootIno, "empty").is_dir);
  EXPECT_EQ(this->ReadAll(v, this->Look(v, kRootIno, "file").ino), "file");
}

TYPED_TEST(VfsRenameTest, AnOpenFileInsideFollowsTheDirectory) {
  uint64_t d = this->Dir(kRootIno, "d");
  Result<Vfs::Created> c =
      this->vfs_.Create(d, "f", 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 0, "first ").ok());
  ASSERT_TRUE(this->vfs_.Rename(kRootIno, "d", kRootIno, "e", false).ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 6, "second").ok());
  ASSERT_TRUE(this->vfs_.Release(c->open.fh).ok());
  EXPECT_EQ(*this->client()->Get("e/f"), "first second");
  Result<bool> old = this->client()->Exists("d/f");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(*old);
}

}  // namespace
}  // namespace shovel::fs
