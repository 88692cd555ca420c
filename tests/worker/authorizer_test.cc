// Authorizer (docs/security.md): roles from the authorized-keys file, the
// worker's own key as admin, SIGHUP's reload (a bad file keeps the old
// keys; the log counts the file's keys), and refusals counted every time
// but logged at most once per peer per minute.
#include "authorizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace shovel::worker {
namespace {

const std::string kOwn = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string kRw = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
const std::string kRo = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shovel-auth-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/authorized";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  void Write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  std::unique_ptr<Authorizer> Load() {
    auto a = Authorizer::Load(path_, kOwn, [this](log::Level, const std::string& line) {
      lines_.push_back(line);
    });
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(*a) : nullptr;
  }
  static wire::Header H(wire::Op op, uint16_t flags = 0) {
    wire::Header h;
    h.op = op;
    h.flags = flags;
    return h;
  }

  std::string dir_, path_;
  std::vector<std::string> lines_;
};

TEST_F(AuthorizerTest, RolesDecideWhatEachKeyMaySend) {
  Write("# clients\n" + kRw + "\n" + kRo + " ro\n");
  auto a = Load();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->RoleOf(kRw), Role::kReadWrite);
  EXPECT_EQ(a->RoleOf(kRo), Role::kReadOnly);
  EXPECT_EQ(a->RoleOf(kOwn), Role::kAdmin);  // never listed, always admin
  EXPECT_TRUE(a->Allow(kRo, H(wire::Op::kGet), "").ok());
  Status w = a->Allow(kRo, H(wire::Op::kSet), "");
  EXPECT_EQ(w.code(), Code::kPermissionDenied);
  EXPECT_EQ(w.message(), "read-only key cannot write (SET)");
  EXPECT_TRUE(a->Allow(kRw, H(wire::Op::kSet), "").ok());
  // A replica's write is what workers send each other: admin only.
  Status replica = a->Allow(kRw, H(wire::Op::kSet, wire::kFlagReplica), "");
  EXPECT_EQ(replica.code(), Code::kPermissionDenied) << replica.ToString();
  EXPECT_TRUE(a->Allow(kOwn, H(wire::Op::kSet, wire::kFlagReplica), "").ok());
  // Making a worker leave changes the cluster: admin only.
  Status drain = a->Allow(kRw, H(wire::Op::kDrain), "");
  EXPECT_EQ(drain.message(), "this key may not send DRAIN (it needs the admin role)");
  EXPECT_EQ(a->Allow(kRo, H(wire::Op::kDrain), "").code(), Code::kPermissionDenied);
  EXPECT_TRUE(a->Allow(kOwn, H(wire::Op::kDrain), "").ok());
  // Inside a BATCH, each item needs its own role: a read-only key's SET
  // and a read-write key's replica write are refused like alone.
  auto batch = [](uint16_t item_flags) {
    wire::BatchWriter w;
    w.AddRequest(H(wire::Op::kGet), "a", {});
    w.AddRequest(H(wire::Op::kSet, item_flags), "b", {"v"});
    return w.Take();
  };
  wire::Header bh = H(wire::Op::kBatch);
  bh.aux = 2;
  EXPECT_TRUE(a->Allow(kRw, bh, batch(0)).ok());
  EXPECT_EQ(a->Allow(kRo, bh, batch(0)).message(), "read-only key cannot write (SET)");
  EXPECT_EQ(a->Allow(kRw, bh, batch(wire::kFlagReplica)).message(),
            "this key may not send a replica's SET (workers send those to each other; "
            "it needs the admin role)");
  EXPECT_TRUE(a->Allow(kOwn, bh, batch(wire::kFlagReplica)).ok());
  EXPECT_EQ(replica.message(),
            "this key may not send a replica's SET (workers send those to each other; "
            "it needs the admin role)");
  Status stranger = a->Allow(std::string(40, 'x'), H(wire::Op::kGet), "");
  EXPECT_EQ(stranger.message(), "worker refused this key (not in its authorized keys)");
}

TEST_F(AuthorizerTest, ReloadReplacesTheKeysAndCountsTheFilesLines) {
  Write(kRw + "\n");
  auto a = Load();
  ASSERT_NE(a, nullptr);
  // Both keys of a rotation at once, and the own key listed too (as in a
  // file every worker of a cluster shares): four keys in the file.
  Write(kRw + "\n" + kRo + "\n" + kOwn + " admin\n" + std::string(40, 'z') + "\n");
  ASSERT_TRUE(a->Reload().ok());
  EXPECT_EQ(lines_.back(), "reloaded " + path_ + ": 4 keys");
  EXPECT_EQ(a->RoleOf(kRo), Role::kReadWrite);
  Write(kRo + "\n");  // the rotation done: the old key is gone
  ASSERT_TRUE(a->Reload().ok());
  EXPECT_EQ(lines_.back(), "reloaded " + path_ + ": 1 keys");
  EXPECT_FALSE(a->RoleOf(kRw).has_value());
  EXPECT_EQ(a->RoleOf(kOwn), Role::kAdmin);
  Write(kRw + " boss\n");  // does not parse: the old set stays
  EXPECT_FALSE(a->Reload().ok());
  EXPECT_NE(lines_.back().find("authorized keys not reloaded, the old ones stay"),
            std::string::npos)
      << lines_.back();
  EXPECT_TRUE(a->RoleOf(kRo).has_value());
  EXPECT_FALSE(a->RoleOf(kRw).has_value());
}

TEST_F(AuthorizerTest, RefusalsAreCountedAlwaysAndLoggedOncePerPeerAMinute) {
  Write(kRw + "\n");
  auto a = Load();
  ASSERT_NE(a, nullptr);
  lines_.clear();
  for (int i = 0; i < 50; ++i)
    a->Refused("10.0.0.1", kRo, "key not in the authorized keys");
  a->Refused("10.0.0.2", "", "no key");
  EXPECT_EQ(a->refused(), 51u);
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0], "refused 10.0.0.1 (key " + kRo +
                           "): key not in the authorized keys; 1 refusals so far");
  EXPECT_EQ(lines_[1], "refused 10.0.0.2: no key; 51 refusals so far");
}

}  // namespace
}  // namespace shovel::worker
