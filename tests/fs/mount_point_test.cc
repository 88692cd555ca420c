// The checks shovelfs makes of its mount point before mounting.
#include "shovel/fs/mount_point.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "shovel/fs/options.h"

namespace shovel::fs {
namespace {

constexpr std::string_view kMountinfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "40 22 0:37 / /mnt/cache rw,nosuid,nodev,relatime shared:20 - fuse.shovelfs local "
    "rw,user_id=0,group_id=0\n"
    "41 22 0:38 / /mnt/with\\040space rw,relatime - fuse.shovelfs local rw\n"
    "42 22 0:39 / /mnt/other rw,relatime - fuse.sshfs host:/ rw\n"
    "43 22 0:40 / /mnt/tmp rw - tmpfs tmpfs rw\n";

TEST(MountPoint, FindsShovelfsMountsInMountinfo) {
  EXPECT_TRUE(HasShovelfsMountAt(kMountinfo, "/mnt/cache"));
  EXPECT_TRUE(HasShovelfsMountAt(kMountinfo, "/mnt/with space"));
  EXPECT_FALSE(HasShovelfsMountAt(kMountinfo, "/mnt/other"));  // another FUSE fs
  EXPECT_FALSE(HasShovelfsMountAt(kMountinfo, "/mnt/tmp"));
  EXPECT_FALSE(HasShovelfsMountAt(kMountinfo, "/mnt"));
  EXPECT_FALSE(HasShovelfsMountAt(kMountinfo, "/mnt/cache/sub"));
  EXPECT_FALSE(HasShovelfsMountAt("", "/mnt/cache"));
  EXPECT_FALSE(HasShovelfsMountAt("garbage\n\n - fuse.shovelfs\n", "/mnt/cache"));
}

class MountPointDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shovel-mp-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unlink((dir_ + "/file").c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(MountPointDir, EmptyDirectoryIsAccepted) {
  EXPECT_TRUE(CheckMountPoint(dir_, false).ok());
}

TEST_F(MountPointDir, NonEmptyDirectoryNeedsNonempty) {
  std::ofstream(dir_ + "/file") << "x";
  Status s = CheckMountPoint(dir_, false);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "mount point " + dir_ +
                             " is not empty (the mount would hide its files; use -o "
                             "nonempty to mount over them anyway)");
  EXPECT_TRUE(CheckMountPoint(dir_, true).ok());
}

TEST_F(MountPointDir, MissingOrNotADirectory) {
  Status s = CheckMountPoint(dir_ + "/none", false);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "mount point " + dir_ +
                             "/none does not exist (create it with "
                             "mkdir -p " +
                             dir_ + "/none)");
  std::ofstream(dir_ + "/file") << "x";
  s = CheckMountPoint(dir_ + "/file", true);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "mount point " + dir_ + "/file is not a directory");
}

TEST(MountOptions, NonemptyIsOurs) {
  auto cfg = ParseCommandLine({"/mnt/x", "-o", "nonempty,max_memory=1MiB"});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_TRUE(cfg->nonempty);
  EXPECT_TRUE(cfg->fuse_options.empty());  // libfuse 3 has no nonempty
  cfg = ParseCommandLine({"/mnt/x"});
  ASSERT_TRUE(cfg.ok());
  EXPECT_FALSE(cfg->nonempty);
}

}  // namespace
}  // namespace shovel::fs
