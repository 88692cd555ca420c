// Where an embedded mount's worker listens: a stable ipc:// path per
// mountpoint in a directory only its owner may enter.
#include "shovel/embedded_endpoint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shovel {
namespace {

TEST(EmbeddedEndpoint, DirectoryByUserAndRuntimeDir) {
  EXPECT_EQ(EmbeddedSocketDir(0, nullptr), "/run/shovelfs");
  EXPECT_EQ(EmbeddedSocketDir(1000, ""), "/tmp/shovelfs-1000");
  EXPECT_EQ(EmbeddedSocketDir(1000, "/run/user/1000"), "/run/user/1000/shovelfs");
}

TEST(EmbeddedEndpoint, OnePathPerMountpoint) {
  std::string a = EmbeddedEndpoint("/run/shovelfs", "/mnt/a");
  EXPECT_EQ(a, EmbeddedEndpoint("/run/shovelfs", "/mnt/a"));
  EXPECT_NE(a, EmbeddedEndpoint("/run/shovelfs", "/mnt/b"));
  EXPECT_EQ(a.rfind("ipc:///run/shovelfs/", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("ipc:///run/shovelfs/").size() + 16 + 5) << a;
}

TEST(EmbeddedEndpoint, PrivateDirIsMadeOrChecked) {
  char tmpl[] = "/tmp/shovel-pd-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string base = tmpl, dir = base + "/d";
  ASSERT_TRUE(PrivateDir(dir, getuid()).ok());
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(PrivateDir(dir, getuid()).ok());  // already there
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  EXPECT_EQ(PrivateDir(dir, getuid()).message(),
            dir + " may be entered by group or others (chmod 700 " + dir + ")");
  EXPECT_EQ(PrivateDir(dir, getuid() + 1).message(),
            dir + " belongs to uid " + std::to_string(getuid()) + ", not " +
                std::to_string(getuid() + 1));
  std::string link = base + "/l";
  ASSERT_EQ(symlink(dir.c_str(), link.c_str()), 0);
  EXPECT_EQ(PrivateDir(link, getuid()).message(),
            link + " is not a directory (a symbolic link?)");
  unlink(link.c_str());
  rmdir(dir.c_str());
  rmdir(base.c_str());
}

}  // namespace
}  // namespace shovel
