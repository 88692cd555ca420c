// The fixture of the typed vfs suites (vfs_test.cc, vfs_posix_test.cc,
// vfs_rename_test.cc, vfs_grow_test.cc, vfs_fallocate_test.cc): a Vfs over one Client
// environment of client_envs.h, fresh for every test, and the steps most tests take
// through it. A suite derives from VfsFixture<Env>, passes its VfsOptions
// when they are not BaseVfsOptions(), and runs over testing::ClientEnvs.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client_envs.h"
#include "shovel/fs/fuse_edge.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs::testing {

// The options every suite starts from: files owned by uid/gid 1000.
inline VfsOptions BaseVfsOptions() {
  VfsOptions o;
  o.owner = Owner{1000, 1000};
  return o;
}

// `n` bytes of a repeating pattern (easy to place by eye in a diff).
inline std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

// Creates `name` in `parent` holding `data`: create, write, then release,
// with a flush before it when `flush` (as close(2) does); the new file's
// inode, 0 on failure.
inline uint64_t CreateFile(Vfs& vfs, uint64_t parent, const std::string& name,
                           const std::string& data, bool flush) {
  Result<Vfs::Created> c =
      vfs.Create(parent, name, 0644, O_WRONLY | O_CREAT, Owner{1000, 1000});
  EXPECT_TRUE(c.ok()) << name << ": " << c.status().ToString();
  if (!c.ok()) return 0;
  EXPECT_TRUE(vfs.Write(c->open.fh, 0, data).ok());
  if (flush) {
    EXPECT_TRUE(vfs.Flush(c->open.fh).ok());
  }
  EXPECT_TRUE(vfs.Release(c->open.fh).ok());
  return c->attr.ino;
}

// Creates `name` in the root holding `data` (written, then released
// without a flush); returns its inode.
inline uint64_t MakeFile(Vfs& vfs, const std::string& name, const std::string& data) {
  return CreateFile(vfs, kRootIno, name, data, /*flush=*/false);
}

template <typename Env>
class VfsFixture : public ::testing::Test {
 protected:
  explicit VfsFixture(const VfsOptions& options = BaseVfsOptions())
      : options_(options), vfs_(env_.client(), options_) {}

  // The options vfs_ was made with, for another Vfs (another mount).
  const VfsOptions& Options() const { return options_; }
  Client* client() { return env_.client(); }
  int Err(const Status& s) { return ErrnoFromStatus(s); }

  // The entry `name` of `parent`, failing the test when there is none.
  Attr Look(Vfs& vfs, uint64_t parent, const std::string& name) {
    Result<Attr> a = vfs.Lookup(parent, name);
    EXPECT_TRUE(a.ok()) << name << ": " << a.status().ToString();
    return a.value_or(Attr{});
  }
  Attr Look(uint64_t parent, const std::string& name) { return Look(vfs_, parent, name); }

  // mkdir(2); the new directory's inode, 0 on failure.
  uint64_t Dir(uint64_t parent, const std::string& name, uint32_t perm = 0755) {
    Result<Attr> a = vfs_.MkDir(parent, name, perm, Owner{1000, 1000});
    EXPECT_TRUE(a.ok()) << name << ": " << a.status().ToString();
    return a.ok() ? a->ino : 0;
  }

  // Creates `name` holding `data` as open, write and close(2) would (flush,
  // then release); the new file's inode, 0 on failure.
  uint64_t Write(uint64_t parent, const std::string& name, const std::string& data) {
    return CreateFile(vfs_, parent, name, data, /*flush=*/true);
  }

  // The whole file, read `step` bytes at a time.
  std::string ReadAll(Vfs& vfs, uint64_t ino, size_t step = 4096) {
    Result<OpenReply> o = vfs.Open(ino, O_RDONLY);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    if (!o.ok()) return "<open failed>";
    std::string out;
    for (;;) {
      Result<std::string> r = vfs.Read(o->fh, out.size(), step);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->empty()) break;
      out += *r;
    }
    EXPECT_TRUE(vfs.Release(o->fh).ok());
    return out;
  }
  std::string ReadAll(uint64_t ino, size_t step = 4096) {
    return ReadAll(vfs_, ino, step);
  }

  // readdir(3) of a directory without "." and ".."; directories end in '/'.
  std::vector<std::string> Names(uint64_t dir_ino) {
    Result<uint64_t> d = vfs_.OpenDir(dir_ino);
    EXPECT_TRUE(d.ok());
    std::vector<std::string> names;
    uint64_t off = 0;
    for (;;) {
      Result<std::vector<DirEntry>> page = vfs_.ReadDir(*d, off, 97);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok() || page->empty()) break;
      for (const DirEntry& e : *page) {
        if (e.name != "." && e.name != "..") {
          names.push_back(e.name + (e.is_dir ? "/" : ""));
        }
        off = e.next_offset;
      }
    }
    vfs_.ReleaseDir(*d);
    return names;
  }

  // Every id in the cache, in order.
  std::vector<std::string> AllIds() {
    Result<ListPage> page = client()->List("", "", 1000, false);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->ids : std::vector<std::string>{};
  }

  Env env_;
  const VfsOptions options_;
  Vfs vfs_;
};

}  // namespace shovel::fs::testing
