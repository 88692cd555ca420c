// Unit tests of the pure pieces: inode table, path mapping, stored attrs,
// errno mapping and the xattr size rules.
#include <gtest/gtest.h>

#include <cerrno>

#include "shovel/fs/attr.h"
#include "shovel/fs/errors.h"
#include "shovel/fs/fuse_edge.h"
#include "shovel/fs/inode_table.h"
#include "shovel/fs/paths.h"

namespace shovel::fs {
namespace {

TEST(InodeTable, RootIsOneAndNeverForgotten) {
  InodeTable t;
  ASSERT_TRUE(t.Get(kRootIno));
  EXPECT_TRUE(t.Get(kRootIno)->is_dir);
  t.Forget(kRootIno, 100);
  EXPECT_TRUE(t.Get(kRootIno));
  EXPECT_EQ(t.size(), 1u);
}

TEST(InodeTable, LookupCountsAndGenerations) {
  InodeTable t;
  InodeRef a = t.Acquire("a", false);
  InodeRef a2 = t.Acquire("a", false);
  EXPECT_EQ(a.ino, a2.ino);
  EXPECT_EQ(t.Get(a.ino)->nlookup, 2u);
  t.Forget(a.ino, 1);
  ASSERT_TRUE(t.Get(a.ino));
  t.Forget(a.ino, 1);
  EXPECT_FALSE(t.Get(a.ino));
  EXPECT_FALSE(t.Find("a"));
  // The number is reused with a higher generation.
  InodeRef b = t.Acquire("b", false);
  EXPECT_EQ(b.ino, a.ino);
  EXPECT_GT(b.generation, a.generation);
  EXPECT_EQ(t.Get(b.ino)->path, "b");
}

TEST(InodeTable, DetachGivesTheNameANewInode) {
  InodeTable t;
  InodeRef a = t.Acquire("x", false);
  t.Detach("x");
  EXPECT_TRUE(t.Get(a.ino)->detached);
  InodeRef b = t.Acquire("x", false);
  EXPECT_NE(a.ino, b.ino);
  t.Forget(a.ino, 1);  // the detached inode goes without touching "x"
  EXPECT_EQ(*t.Find("x"), b.ino);
}

TEST(InodeTable, MoveReplacesTheTarget) {
  InodeTable t;
  InodeRef a = t.Acquire("a", false);
  InodeRef b = t.Acquire("b", false);
  t.Move("a", "b");
  EXPECT_EQ(*t.Find("b"), a.ino);
  EXPECT_FALSE(t.Find("a"));
  EXPECT_TRUE(t.Get(b.ino)->detached);
  EXPECT_EQ(t.Get(a.ino)->path, "b");
}

TEST(InodeTable, KindChangeMakesANewInode) {
  InodeTable t;
  InodeRef f = t.Acquire("d", false);
  InodeRef d = t.Acquire("d", true);
  EXPECT_NE(f.ino, d.ino);
  EXPECT_TRUE(t.Get(d.ino)->is_dir);
}

TEST(InodeTable, CachedVersionIsPerInode) {
  InodeTable t;
  InodeRef a = t.Acquire("a", false);
  t.SetCachedVersion(a.ino, 7);
  EXPECT_EQ(t.Get(a.ino)->cached_version, 7u);
  t.Forget(a.ino, 1);
  InodeRef b = t.Acquire("a", false);
  EXPECT_EQ(t.Get(b.ino)->cached_version, 0u);
}

TEST(Paths, ChildIds) {
  EXPECT_EQ(*ChildId("", "a"), "a");
  EXPECT_EQ(*ChildId("a/b", "c"), "a/b/c");
  EXPECT_EQ(DirPrefix(""), "");
  EXPECT_EQ(DirPrefix("a"), "a/");
  EXPECT_EQ(MarkerId("a"), "a/.shovelfs.dir");
  EXPECT_EQ(BaseName("a/b/c"), "c");
  EXPECT_EQ(BaseName("c"), "c");
}

TEST(Paths, LimitsAreNameTooLong) {
  Result<std::string> long_name = ChildId("", std::string(256, 'x'));
  ASSERT_FALSE(long_name.ok());
  EXPECT_EQ(ErrnoFromStatus(long_name.status()), ENAMETOOLONG);
  EXPECT_TRUE(ChildId("", std::string(255, 'x')).ok());
  std::string dir(3900, 'd');  // one component is enough for ChildId
  EXPECT_TRUE(ChildId(dir, std::string(181, 'y')).ok());  // 4082 bytes
  Result<std::string> long_id = ChildId(dir, std::string(182, 'y'));
  ASSERT_FALSE(long_id.ok());
  EXPECT_EQ(ErrnoFromStatus(long_id.status()), ENAMETOOLONG);
  EXPECT_NE(long_id.status().message().find("at most 4082 bytes"), std::string::npos);
  // Reserved names: the marker anywhere, the unlinked-files directory in
  // the root only.
  EXPECT_EQ(ErrnoFromStatus(ChildId("a", ".shovelfs.dir").status()), EINVAL);
  EXPECT_EQ(ErrnoFromStatus(ChildId("", ".shovelfs.open").status()), EINVAL);
  EXPECT_TRUE(ChildId("a", ".shovelfs.open").ok());
}

TEST(Paths, BadNamesAreEinval) {
  Result<std::string> bad = ChildId("", "\xff\xfe");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(ErrnoFromStatus(bad.status()), EINVAL);
  Result<std::string> marker = ChildId("a", ".shovelfs.dir");
  ASSERT_FALSE(marker.ok());
  EXPECT_NE(marker.status().message().find("reserved"), std::string::npos);
}

TEST(Attrs, DefaultsAreNotStored) {
  Owner me{1000, 1000};
  AttrChange c;
  c.perm = 0644;
  c.uid = 1000;
  c.gid = 5;
  StoredChange s = StoredKeys(c, false, me);
  EXPECT_EQ(s.set.size(), 1u);
  EXPECT_EQ(s.set.at("gid"), "5");
  EXPECT_EQ(s.drop, (std::vector<std::string>{"mode", "uid"}));
  c.perm = 0755;  // the directory default
  EXPECT_EQ(StoredKeys(c, true, me).set.count("mode"), 0u);
  EXPECT_EQ(StoredKeys(c, false, me).set.at("mode"), "755");
}

TEST(Attrs, StoredKeysApply) {
  Attr a = DefaultAttr(false, Owner{1, 2}, 5);
  ApplyStoredAttrs({{"mode", "4755"}, {"uid", "7"}, {"mtime", "99"}, {"gid", "x"}}, &a);
  EXPECT_EQ(a.perm, 04755u);
  EXPECT_EQ(a.uid, 7u);
  EXPECT_EQ(a.gid, 2u);  // unparsable: default kept
  EXPECT_EQ(a.mtime_ns, 99);
}

TEST(Errno, OnePlaceMapsEveryCode) {
  EXPECT_EQ(ErrnoFromStatus(Status::NotFound("x")), ENOENT);
  EXPECT_EQ(ErrnoFromStatus(Status::AlreadyExists("x")), EEXIST);
  EXPECT_EQ(ErrnoFromStatus(Status::InvalidArgument("x")), EINVAL);
  EXPECT_EQ(ErrnoFromStatus(Status::NoSpace("x")), ENOSPC);
  EXPECT_EQ(ErrnoFromStatus(Status::Unavailable("x")), EIO);
  EXPECT_EQ(ErrnoFromStatus(Status::Timeout("x")), EIO);
  EXPECT_EQ(ErrnoFromStatus(Status::Corruption("x")), EIO);
  EXPECT_EQ(ErrnoFromStatus(Status::Internal("x")), EIO);
  EXPECT_EQ(ErrnoFromStatus(MakeFsError(FsError::kNotEmpty, "d")), ENOTEMPTY);
  EXPECT_EQ(ErrnoFromStatus(MakeFsError(FsError::kNoAttribute, "a")), ENODATA);
  EXPECT_EQ(ErrnoFromStatus(MakeFsError(FsError::kReadOnly, "a")), EPERM);
  EXPECT_EQ(ErrnoFromStatus(MakeFsError(FsError::kIsDirectory, "a")), EISDIR);
  EXPECT_EQ(ErrnoFromStatus(MakeFsError(FsError::kNotSupported, "a")), EOPNOTSUPP);
  // A cache message that merely resembles a phrase is not misread.
  EXPECT_EQ(ErrnoFromStatus(Status::NotFound("directory not empty: no")), ENOENT);
}

TEST(Errno, MessagesReadNaturally) {
  Status s = MakeFsError(FsError::kNotEmpty, "'a' holds 'b'");
  EXPECT_EQ(s.message(), "directory not empty: 'a' holds 'b'");
}

TEST(Xattr, SizeProbeAndRange) {
  EXPECT_EQ(AnswerXattr(0, 10).kind, XattrAnswer::kSize);
  EXPECT_EQ(AnswerXattr(0, 0).kind, XattrAnswer::kSize);
  EXPECT_EQ(AnswerXattr(9, 10).kind, XattrAnswer::kRange);
  EXPECT_EQ(AnswerXattr(10, 10).kind, XattrAnswer::kValue);
  EXPECT_EQ(AnswerXattr(4096, 10).kind, XattrAnswer::kValue);
  EXPECT_EQ(JoinXattrNames({"user.a", "user.b"}), std::string("user.a\0user.b\0", 14));
}

}  // namespace
}  // namespace shovel::fs
