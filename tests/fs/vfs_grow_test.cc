// Extending a file (truncate, ftruncate, a write past its end) in the vfs
// core: the new bytes read as zeros, the old ones are kept, and the stored
// bytes are never read back or rewritten (the tail is appended). Typed over
// every Client implementation (client_envs.h), plus a FakeClient check of
// what crossed the client.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <string>

#include "client_envs.h"
#include "fake_client.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {
namespace {

constexpr uint64_t kMiB = 1 << 20;

VfsOptions Options() {
  VfsOptions o;
  o.owner = Owner{1000, 1000};
  return o;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

// Creates `name` in the root holding `data`; returns its inode.
uint64_t MakeFile(Vfs& vfs, const std::string& name, const std::string& data) {
  Result<Vfs::Created> c =
      vfs.Create(kRootIno, name, 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) return 0;
  EXPECT_TRUE(vfs.Write(c->open.fh, 0, data).ok());
  EXPECT_TRUE(vfs.Release(c->open.fh).ok());
  return c->attr.ino;
}

AttrChange SizeTo(uint64_t size) {
  AttrChange c;
  c.size = size;
  return c;
}

template <typename Env>
class VfsGrowTest : public ::testing::Test {
 protected:
  VfsGrowTest() : vfs_(env_.client(), Options()) {}
  std::string Stored(const std::string& id) {
    Result<std::string> got = env_.client()->Get(id, 0, 64 * kMiB);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.value_or("<get failed>");
  }
  Env env_;
  Vfs vfs_;
};

TYPED_TEST_SUITE(VfsGrowTest, testing::ClientEnvs);

TYPED_TEST(VfsGrowTest, TruncateFtruncateAndAWritePastTheEndAddZeros) {
  const std::string head = Pattern(kMiB + 7);
  uint64_t ino = MakeFile(this->vfs_, "f", head);
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

TEST(VfsGrow, ExtendingNeverReadsTheStoredBytes) {
  testing::FakeClient client;
  Vfs vfs(&client, Options());
  uint64_t ino = MakeFile(vfs, "f", Pattern(4 * kMiB));
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
