// Extending a file (truncate, ftruncate, a write past its end) in the vfs
// core: the new bytes read as zeros, the old ones are kept, and the stored
// bytes are never read back or rewritten (the tail is appended). Typed over
// every Client implementation (client_envs.h), plus a FakeClient check of
// what crossed the client.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <string>

#include "vfs_fixture.h"

namespace shovel::fs {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

AttrChange SizeTo(uint64_t size) {
  AttrChange c;
  c.size = size;
  return c;
}

template <typename Env>
class VfsGrowTest : public testing::VfsFixture<Env> {
 protected:
  std::string Stored(const std::string& id) {
    Result<std::string> got = this->client()->Get(id, 0, 64 * kMiB);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.value_or("<get failed>");
  }
};

TYPED_TEST_SUITE(VfsGrowTest, testing::ClientEnvs);

TYPED_TEST(VfsGrowTest, TruncateFtruncateAndAWritePastTheEndAddZeros) {
  const std::string head = Pattern(kMiB + 7);
  uint64_t ino = this->Write(kRootIno, "f", head);
  // truncate(2): no open handle.
  Result<Attr> a = this->vfs_.SetAttr(ino, std::nullopt, SizeTo(3 * kMiB + 5));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->size, 3 * kMiB + 5);
  std::string want = head + std::string(3 * kMiB + 5 - head.size(), '\0');
  EXPECT_TRUE(this->Stored("f") == want);
  // A write past the end, through a descriptor opened without O_TRUNC.
  Result<OpenReply> o = this->vfs_.Open(ino, O_WRONLY);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 5 * kMiB, "end").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  want += std::string(5 * kMiB - want.size(), '\0') + "end";
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, want.size());
  EXPECT_TRUE(this->Stored("f") == want);
  // ftruncate(2) of an open descriptor, then a write inside the new tail.
  o = this->vfs_.Open(ino, O_RDWR);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(this->vfs_.SetAttr(ino, o->fh, SizeTo(6 * kMiB)).ok());
  ASSERT_TRUE(this->vfs_.Write(o->fh, 5 * kMiB + 100, "mid").ok());
  ASSERT_TRUE(this->vfs_.Release(o->fh).ok());
  want += std::string(6 * kMiB - want.size(), '\0');
  want.replace(5 * kMiB + 100, 3, "mid");
  EXPECT_TRUE(this->Stored("f") == want);
  EXPECT_EQ(this->vfs_.GetAttr(ino)->size, 6 * kMiB);
}

// What crossed the client, as the FakeClient counts it.
using VfsGrow = VfsGrowTest<testing::FakeEnv>;

TEST_F(VfsGrow, ExtendingNeverReadsTheStoredBytes) {
  testing::FakeClient& client = env_.fake;
  Vfs& vfs = vfs_;
  uint64_t ino = Write(kRootIno, "f", Pattern(4 * kMiB));
  const uint64_t got = client.counters().got_bytes.load();
  ASSERT_TRUE(vfs.SetAttr(ino, std::nullopt, SizeTo(40 * kMiB)).ok());
  Result<OpenReply> o = vfs.Open(ino, O_WRONLY);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(vfs.Write(o->fh, 50 * kMiB, "end").ok());
  ASSERT_TRUE(vfs.Release(o->fh).ok());
  // Open may fetch the first block to check the version; nothing more.
  EXPECT_LE(client.counters().got_bytes.load() - got, kMiB);
  Result<std::string> all = client.Get("f", 0, 64 * kMiB);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 50 * kMiB + 3);
  EXPECT_TRUE(all->substr(0, 4 * kMiB) == Pattern(4 * kMiB));
  EXPECT_EQ(all->find_first_not_of('\0', 4 * kMiB), 50 * kMiB);
}

}  // namespace
}  // namespace shovel::fs
