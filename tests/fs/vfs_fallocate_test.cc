// fallocate(2) in the vfs core: mode 0 grows the file with a hole (never
// shrinks it), KEEP_SIZE changes nothing, PUNCH_HOLE|KEEP_SIZE zeros the
// range inside the file, other modes and bad arguments give the errno Linux
// gives. Typed over every Client implementation (client_envs.h).
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>

#include <cstdint>
#include <limits>
#include <string>

#include "fake_client.h"
#include "shovel/fs/fuse_edge.h"
#include "shovel/fs/vfs.h"
#include "vfs_fixture.h"

namespace shovel::fs {
namespace {

using testing::MakeFile;
using testing::Pattern;

constexpr uint64_t kMiB = 1 << 20;

template <typename Env>
class VfsFallocateTest : public testing::VfsFixture<Env> {
 protected:
  uint64_t OpenRw(uint64_t ino, int flags = O_RDWR) {
    Result<OpenReply> o = this->vfs_.Open(ino, flags);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    return o.ok() ? o->fh : 0;
  }
  int Errno(uint64_t fh, int mode, int64_t off, int64_t len) {
    return ErrnoFromStatus(this->vfs_.Fallocate(fh, mode, off, len));
  }
};

TYPED_TEST_SUITE(VfsFallocateTest, testing::ClientEnvs);

TYPED_TEST(VfsFallocateTest, ModeZeroGrowsWithAHoleAndNeverShrinks) {
  const std::string head = Pattern(1000);
  uint64_t ino = MakeFile(this->vfs_, "f", head);
  uint64_t fh = this->OpenRw(ino);
  // Inside the file: nothing changes.
  EXPECT_EQ(this->Errno(fh, 0, 0, 10), 0);
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 1000u);
  // Past its end: the size is off + len, the new bytes read as zeros.
  EXPECT_EQ(this->Errno(fh, 0, 500, 3 * kMiB), 0);
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 500 + 3 * kMiB);
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 500 + 3 * kMiB);
  EXPECT_TRUE(this->ReadAll(ino, kMiB) ==
              head + std::string(500 + 3 * kMiB - 1000, '\0'));
  // Only the old bytes are stored: the tail is a hole.
  Result<std::string> stored = this->client()->Get("f", 0, 8 * kMiB);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(*stored == head);
  // A range below the end never shrinks the file.
  fh = this->OpenRw(ino, O_WRONLY);
  EXPECT_EQ(this->Errno(fh, 0, 0, 1), 0);
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 500 + 3 * kMiB);
}

TYPED_TEST(VfsFallocateTest, KeepSizeChangesNothing) {
  uint64_t ino = MakeFile(this->vfs_, "k", "abc");
  uint64_t fh = this->OpenRw(ino);
  EXPECT_EQ(this->Errno(fh, FALLOC_FL_KEEP_SIZE, 0, 10 * kMiB), 0);
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 3u);
  EXPECT_EQ(this->ReadAll(ino), "abc");
}

TYPED_TEST(VfsFallocateTest, PunchHoleZerosTheRangeAndKeepsTheSize) {
  const std::string data = Pattern(3 * kMiB);
  uint64_t ino = MakeFile(this->vfs_, "p", data);
  uint64_t fh = this->OpenRw(ino);
  const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  EXPECT_EQ(this->Errno(fh, punch, 100, kMiB), 0);
  // Seen through the same handle before the commit...
  Result<std::string> r = this->vfs_.Read(fh, 98, 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, data.substr(98, 2) + std::string(2, '\0'));
  // ...and a range running past the end zeros up to the end only.
  EXPECT_EQ(this->Errno(fh, punch, 3 * kMiB - 10, 5 * kMiB), 0);
  EXPECT_EQ(this->Errno(fh, punch, 9 * kMiB, 10), 0);  // past the end: nothing
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  std::string want = data;
  want.replace(100, kMiB, std::string(kMiB, '\0'));
  want.replace(3 * kMiB - 10, 10, std::string(10, '\0'));
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 3 * kMiB);
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == want);
  // Another mount reads the zeros.
  Vfs other(this->client(), this->Options());
  Result<Attr> a = other.Lookup(kRootIno, "p");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(this->ReadAll(other, a->ino, kMiB) == want);
}

TYPED_TEST(VfsFallocateTest, ALargePunchIsAHoleAndLaterWritesShowOverIt) {
  const std::string data = Pattern(12 * kMiB);
  uint64_t ino = MakeFile(this->vfs_, "big", data);
  uint64_t fh = this->OpenRw(ino);
  // Pending bytes inside the range are punched too; the piece after stays.
  ASSERT_TRUE(this->vfs_.Write(fh, 3 * kMiB, "pending").ok());
  ASSERT_TRUE(this->vfs_.Write(fh, 10 * kMiB - 2, "edge").ok());
  // 8 MiB, more than the dirty limit of a handle: nothing of it is held.
  EXPECT_EQ(
      this->Errno(fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * kMiB, 8 * kMiB), 0);
  ASSERT_TRUE(this->vfs_.Write(fh, 5 * kMiB, "over").ok());  // into the punched range
  std::string want = data;
  want.replace(10 * kMiB - 2, 4, "edge");
  want.replace(2 * kMiB, 8 * kMiB, std::string(8 * kMiB, '\0'));
  want.replace(5 * kMiB, 4, "over");
  Result<std::string> r = this->vfs_.Read(fh, 10 * kMiB - 4, 8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, want.substr(10 * kMiB - 4, 8));
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 12 * kMiB);
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == want);
  // Stored: the bytes around the range and "over"; the rest is holes.
  Result<std::string> stored = this->client()->Get("big", 0, 64 * kMiB);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 4 * kMiB + 4);
  Result<OpenReply> o = this->vfs_.Open(ino, O_RDONLY);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*this->vfs_.Seek(o->fh, 0, false), 2 * kMiB);  // SEEK_HOLE
  EXPECT_EQ(*this->vfs_.Seek(o->fh, 2 * kMiB, true), 5 * kMiB);
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
}

TYPED_TEST(VfsFallocateTest, AnOpenReaderOfTheMountSeesThePunchAtOnce) {
  const std::string data = Pattern(4 * kMiB);
  uint64_t ino = MakeFile(this->vfs_, "r", data);
  Result<OpenReply> reader = this->vfs_.Open(ino, O_RDONLY);
  ASSERT_TRUE(reader.ok());
  ASSERT_EQ(*this->vfs_.Read(reader->fh, 0, kMiB),
            data.substr(0, kMiB));  // blocks fetched
  uint64_t fh = this->OpenRw(ino);
  EXPECT_EQ(this->Errno(fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kMiB, kMiB), 0);
  // Before the punching descriptor closes: zeros in the range, and the bytes
  // after it where they were (the stored bytes moved up by the new hole).
  EXPECT_EQ(*this->vfs_.Read(reader->fh, kMiB - 2, 4),
            data.substr(kMiB - 2, 2) + std::string(2, '\0'));
  EXPECT_EQ(*this->vfs_.Read(reader->fh, 3 * kMiB, 100), data.substr(3 * kMiB, 100));
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  ASSERT_TRUE(this->vfs_.Release(reader->fh).ok());
}

TYPED_TEST(VfsFallocateTest, PunchIntoAFileBeingWritten) {
  // A new file is streamed; a punch commits the stream, then the writes go on.
  const std::string data = Pattern(2 * kMiB);
  Result<Vfs::Created> c =
      this->vfs_.Create(kRootIno, "s", 0644, O_RDWR | O_CREAT, Owner{1000, 1000});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 0, data).ok());
  EXPECT_EQ(
      this->Errno(c->open.fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, kMiB), 0);
  ASSERT_TRUE(this->vfs_.Write(c->open.fh, 2 * kMiB, "tail").ok());
  ASSERT_TRUE(this->vfs_.Release(c->open.fh).ok());
  std::string want = data + "tail";
  want.replace(100, kMiB, std::string(kMiB, '\0'));
  EXPECT_TRUE(this->ReadAll(c->attr.ino, kMiB) == want);
}

TYPED_TEST(VfsFallocateTest, PunchThroughAnO_AppendDescriptor) {
  uint64_t ino = MakeFile(this->vfs_, "a", "0123456789");
  uint64_t fh = this->OpenRw(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(this->vfs_.Write(fh, 10, "ab").ok());
  EXPECT_EQ(this->Errno(fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2, 3), 0);
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  const std::string punched(
      "01\0\0\0"
      "56789ab",
      12);
  EXPECT_EQ(this->ReadAll(ino), punched);
  // Growing through it: what it wrote before (a full max_write piece, held
  // for the rest of its write(2)) stays before the new zeros.
  const std::string piece = Pattern(this->Options().limits.max_write);
  fh = this->OpenRw(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(this->vfs_.Write(fh, 12, piece).ok());
  EXPECT_EQ(this->Errno(fh, 0, 0, 12 + piece.size() + 6), 0);
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  EXPECT_TRUE(this->ReadAll(ino, kMiB) == punched + piece + std::string(6, '\0'));
}

TYPED_TEST(VfsFallocateTest, BadArgumentsAndModesGiveTheLinuxErrno) {
  uint64_t ino = MakeFile(this->vfs_, "e", "data");
  uint64_t fh = this->OpenRw(ino);
  EXPECT_EQ(this->Errno(fh, 0, -1, 10), EINVAL);
  EXPECT_EQ(this->Errno(fh, 0, 0, 0), EINVAL);
  EXPECT_EQ(this->Errno(fh, 0, 0, -5), EINVAL);
  EXPECT_EQ(this->Errno(fh, 0, std::numeric_limits<int64_t>::max(), 2), EFBIG);
  EXPECT_EQ(this->Errno(fh, 0, 1, std::numeric_limits<int64_t>::max()), EFBIG);
  EXPECT_EQ(this->Errno(fh, FALLOC_FL_PUNCH_HOLE, 0, 2),
            EOPNOTSUPP);  // without KEEP_SIZE
  EXPECT_EQ(this->Errno(fh, FALLOC_FL_COLLAPSE_RANGE, 0, 2), EOPNOTSUPP);
  EXPECT_EQ(this->Errno(fh, FALLOC_FL_INSERT_RANGE, 0, 2), EOPNOTSUPP);
  EXPECT_EQ(this->Errno(fh, FALLOC_FL_ZERO_RANGE, 0, 2), EOPNOTSUPP);
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 4u);
  // A read-only descriptor, and one that is not open (or a directory's).
  fh = this->OpenRw(ino, O_RDONLY);
  EXPECT_EQ(this->Errno(fh, 0, 0, 10), EBADF);
  ASSERT_TRUE(this->vfs_.Release(fh).ok());
  EXPECT_EQ(this->Errno(fh, 0, 0, 10), EBADF);
  Result<uint64_t> dir = this->vfs_.OpenDir(kRootIno);
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(this->Errno(*dir + 1000, 0, 0, 10), EBADF);
  this->vfs_.ReleaseDir(*dir);
}

TEST(VfsFallocate, ASizeNoWorkerCanHoldIsEfbigAtOnce) {
  testing::FakeClient client;
  Vfs vfs(&client, testing::BaseVfsOptions());
  uint64_t ino = MakeFile(vfs, "big", "x");
  Result<OpenReply> o = vfs.Open(ino, O_RDWR);
  ASSERT_TRUE(o.ok());
  Status s = vfs.Fallocate(o->fh, 0, 0, 999999999999999);
  EXPECT_EQ(ErrnoFromStatus(s), EFBIG) << s.ToString();
  s = vfs.Fallocate(o->fh, FALLOC_FL_KEEP_SIZE, 0, 999999999999999);
  EXPECT_EQ(ErrnoFromStatus(s), EFBIG) << s.ToString();
  ASSERT_TRUE(vfs.Release(o->fh).ok());
  EXPECT_EQ(vfs.GetAttr(ino)->size, 1u);
}

}  // namespace
}  // namespace shovel::fs
