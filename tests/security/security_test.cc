// CURVE security through shovelctl against real workers with keys
// (docs/security.md): keygen, a worker that will not start half-configured,
// no key / unknown key / wrong worker key refused at once with one line,
// a read-only key, a key removed by SIGHUP, and an encryption check on the
// wire (a TCP relay between client and workers and between the workers).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>
#include <unordered_set>

#include "ctl_run.h"
#include "key_files.h"
#include "random_bytes.h"
#include "shovel/keys.h"
#include "tcp_relay.h"
#include "worker_fixture.h"

namespace shovel {
namespace {

using test::Keygen;
using test::RandomBytes;
using test::WriteFile;

using Clock = std::chrono::steady_clock;

std::string MakeDir() {
  char tmpl[] = "/tmp/shovel-sec-XXXXXX";
  return mkdtemp(tmpl) ? tmpl : "";
}

int PortOf(const std::string& endpoint) {
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeDir());
    const std::string& d = *dir_;
    worker_pub_ = new std::string(Keygen(d + "/worker.key"));
    rw_pub_ = new std::string(Keygen(d + "/rw.key"));
    ro_pub_ = new std::string(Keygen(d + "/ro.key"));
    gone_pub_ = new std::string(Keygen(d + "/gone.key"));
    Keygen(d + "/stranger.key");
    WriteFile(d + "/authorized", "# test clients\n" + *rw_pub_ + "\n" + *ro_pub_ +
                                     " ro\n" + *gone_pub_ + " rw\n");
    cluster_ = new testing::Cluster();
    for (int i = 1; i <= 2; ++i) {
      auto w = testing::WorkerProcess::Start(
          "s" + std::to_string(i), "256MiB", "tcp://127.0.0.1:0",
          {"--key-file", d + "/worker.key", "--authorized-keys", d + "/authorized"});
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      cluster_->workers.push_back(std::move(*w));
    }
    setenv("SHOVEL_WORKERS", cluster_->joined().c_str(), 1);
    setenv("SHOVEL_WORKER_KEY", worker_pub_->c_str(), 1);
    unsetenv("SHOVEL_KEY_FILE");
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    std::string cmd = "rm -rf " + *dir_;
    if (dir_->rfind("/tmp/shovel-sec-", 0) == 0) (void)std::system(cmd.c_str());
  }
  static std::string Key(const std::string& name) { return *dir_ + "/" + name + ".key"; }
  // shovelctl with --key-file KEY (when not empty) and a long deadline, so
  // an error that came at once is told apart from one after the deadline.
  static CtlRun CtlAs(const std::string& key, std::vector<std::string> args,
                      const std::string& input = "", double* seconds = nullptr) {
    std::vector<std::string> all = {"--deadline", "20000"};
    if (!key.empty()) {
      all.push_back("--key-file");
      all.push_back(Key(key));
    }
    all.insert(all.end(), args.begin(), args.end());
    auto start = Clock::now();
    CtlRun r = Ctl(all, input);
    if (seconds) *seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r;
  }

  static std::string* dir_;
  static std::string *worker_pub_, *rw_pub_, *ro_pub_, *gone_pub_;
  static testing::Cluster* cluster_;
};
std::string* SecurityTest::dir_ = nullptr;
std::string* SecurityTest::worker_pub_ = nullptr;
std::string* SecurityTest::rw_pub_ = nullptr;
std::string* SecurityTest::ro_pub_ = nullptr;
std::string* SecurityTest::gone_pub_ = nullptr;
testing::Cluster* SecurityTest::cluster_ = nullptr;

TEST_F(SecurityTest, KeygenWritesAPrivateFileAndPrintsThePublicKey) {
  std::string path = *dir_ + "/new.key";
  CtlRun r = Ctl({"keygen", path});
  ASSERT_EQ(r.code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto keys = ReadKeyPairFile(path);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(r.out, keys->public_key + "\n");
  CtlRun again = Ctl({"keygen", path});
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(again.err, "shovelctl: keygen: already exists: " + path +
                           " exists; not overwriting a key file\n");
}

TEST_F(SecurityTest, WorkerWithAKeyAndNoAuthorizedKeysRefusesToStart) {
  CtlRun r = RunProgram(testing::WorkerBinary(),
                        {"--listen", "tcp://127.0.0.1:0", "--key-file", Key("worker")});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "shovel-worker: --key-file needs --authorized-keys FILE (the client keys it "
            "accepts)\n");
  WriteFile(*dir_ + "/bad-auth", *rw_pub_ + " superuser\n");
  r = RunProgram(testing::WorkerBinary(),
                 {"--listen", "tcp://127.0.0.1:0", "--key-file", Key("worker"),
                  "--authorized-keys", *dir_ + "/bad-auth"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "shovel-worker: --authorized-keys: " + *dir_ +
                       "/bad-auth:1: unknown role 'superuser' (roles: rw, ro, admin)\n");
}

TEST_F(SecurityTest, NoKeyIsRefusedAtOnce) {
  double took = 0;
  CtlRun r = CtlAs("", {"get", "sec/none"}, "", &took);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("requires a key (give --key-file FILE or SHOVEL_KEY_FILE)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(took, 5.0);
  CtlRun ls = CtlAs("", {"ls"});
  EXPECT_EQ(ls.out, "");
  EXPECT_EQ(ls.code, 1);
}

TEST_F(SecurityTest, UnknownKeyIsRefusedAtOnce) {
  double took = 0;
  CtlRun r = CtlAs("stranger", {"rm", "sec/x"}, "", &took);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("worker refused this key"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(took, 5.0);
  // Nothing comes back: no id names, no stats, no values.
  ASSERT_EQ(CtlAs("rw", {"set", "sec/named"}, "private").code, 0);
  for (auto args : std::vector<std::vector<std::string>>{
           {"ls"}, {"stats"}, {"members"}, {"get", "sec/named"}, {"stat", "sec/named"}}) {
    CtlRun nothing = CtlAs("stranger", args);
    EXPECT_NE(nothing.code, 0) << args[0] << ": " << nothing.out;
    EXPECT_EQ(nothing.out.find("sec/named"), std::string::npos) << args[0];
    EXPECT_EQ(nothing.out.find("private"), std::string::npos) << args[0];
    EXPECT_EQ(nothing.out.find("s1"), std::string::npos)
        << args[0] << ": " << nothing.out;
  }
  // The worker logged the refusal (at most once a minute per peer).
  auto until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < until &&
         cluster_->workers[0]->StderrText().find("refused") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(cluster_->workers[0]->StderrText().find("key not in the authorized keys"),
            std::string::npos);
}

TEST_F(SecurityTest, WrongWorkerKeyIsRefusedAtOnce) {
  std::string stranger = ReadKeyPairFile(Key("stranger"))->public_key;
  double took = 0;
  CtlRun r = CtlAs("rw", {"--worker-key", stranger, "get", "sec/x"}, "", &took);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("worker's key does not match"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(took, 5.0);
}

TEST_F(SecurityTest, ReadOnlyKeyReadsAndCannotWrite) {
  CtlRun set = CtlAs("rw", {"set", "sec/ro"}, "readable");
  ASSERT_EQ(set.code, 0) << set.err;
  CtlRun get = CtlAs("ro", {"get", "sec/ro"});
  EXPECT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out, "readable");
  CtlRun ls = CtlAs("ro", {"ls", "sec/"});
  EXPECT_EQ(ls.code, 0) << ls.err;
  EXPECT_NE(ls.out.find("sec/ro"), std::string::npos);
  EXPECT_EQ(CtlAs("ro", {"stat", "sec/ro"}).code, 0);
  for (auto args : std::vector<std::vector<std::string>>{
           {"set", "sec/ro"}, {"append", "sec/ro"}, {"rm", "sec/ro"}}) {
    double took = 0;
    CtlRun w = CtlAs("ro", args, "overwritten", &took);
    EXPECT_EQ(w.code, 1) << args[0];
    EXPECT_NE(w.err.find("read-only key cannot write"), std::string::npos) << w.err;
    EXPECT_EQ(std::count(w.err.begin(), w.err.end(), '\n'), 1) << w.err;
    EXPECT_LT(took, 5.0);
  }
  EXPECT_EQ(CtlAs("rw", {"get", "sec/ro"}).out, "readable");
}

TEST_F(SecurityTest, KeyRemovedAndSighupIsRefusedOnItsNextCommand) {
  ASSERT_EQ(CtlAs("gone", {"set", "sec/gone"}, "v1").code, 0);
  WriteFile(*dir_ + "/authorized", *rw_pub_ + "\n" + *ro_pub_ + " ro\n");
  for (auto& w : cluster_->workers) kill(w->pid(), SIGHUP);
  auto until = Clock::now() + std::chrono::seconds(5);
  for (auto& w : cluster_->workers) {
    while (Clock::now() < until &&
           w->StderrText().find("authorized: 2 keys") == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_NE(w->StderrText().find("reloaded " + *dir_ + "/authorized: 2 keys"),
              std::string::npos)
        << w->StderrText();
  }
  CtlRun r = CtlAs("gone", {"get", "sec/gone"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("worker refused this key"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(CtlAs("rw", {"get", "sec/gone"}).out, "v1");
  // Put it back for the other tests.
  WriteFile(*dir_ + "/authorized",
            *rw_pub_ + "\n" + *ro_pub_ + " ro\n" + *gone_pub_ + " rw\n");
  for (auto& w : cluster_->workers) kill(w->pid(), SIGHUP);
}

// Client key rotation (docs/security.md, Key rotation): the new key is
// authorized next to the old one without restarting the workers, both work
// at once, and once the old one leaves the file it is refused.
TEST_F(SecurityTest, ClientKeyRotatesWithBothKeysAuthorizedMeanwhile) {
  std::string next = Keygen(*dir_ + "/next.key");
  ASSERT_EQ(CtlAs("gone", {"set", "sec/rot"}, "old key").code, 0);
  CtlRun early = CtlAs("next", {"get", "sec/rot"});
  EXPECT_EQ(early.code, 1);
  EXPECT_NE(early.err.find("worker refused this key"), std::string::npos) << early.err;
  auto reload = [&](const std::string& text, const std::string& logged) {
    WriteFile(*dir_ + "/authorized", text);
    for (auto& w : cluster_->workers) kill(w->pid(), SIGHUP);
    auto until = Clock::now() + std::chrono::seconds(5);
    for (auto& w : cluster_->workers) {
      while (Clock::now() < until && w->StderrText().find(logged) == std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      EXPECT_NE(w->StderrText().find(logged), std::string::npos) << w->StderrText();
    }
  };
  // 1. Both keys listed.
  reload(*rw_pub_ + "\n" + *ro_pub_ + " ro\n" + *gone_pub_ + " rw\n" + next + " rw\n",
         "reloaded " + *dir_ + "/authorized: 4 keys");
  CtlRun with_new = CtlAs("next", {"get", "sec/rot"});
  EXPECT_EQ(with_new.code, 0) << with_new.err;
  EXPECT_EQ(with_new.out, "old key");
  ASSERT_EQ(CtlAs("next", {"set", "sec/rot"}, "new key").code, 0);
  EXPECT_EQ(CtlAs("gone", {"get", "sec/rot"}).out, "new key");
  // 2. The old key leaves the file.
  reload(*rw_pub_ + "\n" + *ro_pub_ + " ro\n" + next + " rw\n",
         "reloaded " + *dir_ + "/authorized: 3 keys");
  CtlRun old = CtlAs("gone", {"get", "sec/rot"});
  EXPECT_EQ(old.code, 1);
  EXPECT_NE(old.err.find("worker refused this key"), std::string::npos) << old.err;
  EXPECT_EQ(old.out, "");
  EXPECT_EQ(CtlAs("next", {"get", "sec/rot"}).out, "new key");
  // Put the suite's file back.
  WriteFile(*dir_ + "/authorized",
            *rw_pub_ + "\n" + *ro_pub_ + " ro\n" + *gone_pub_ + " rw\n");
  for (auto& w : cluster_->workers) kill(w->pid(), SIGHUP);
}

// Making a worker leave (shovelctl drain) changes the cluster: an `rw` key
// is refused with one line and the worker stays; an `admin` key (an
// operator's, listed as admin) makes it leave. Workers of their own, since
// one of them goes.
TEST_F(SecurityTest, OnlyAnAdminKeyMakesAWorkerLeave) {
  std::string op = Keygen(*dir_ + "/operator.key");
  WriteFile(*dir_ + "/authorized-admin", *rw_pub_ + "\n" + op + " admin\n");
  testing::Cluster c;
  for (int i = 1; i <= 2; ++i) {
    auto w = testing::WorkerProcess::Start(
        "d" + std::to_string(i), "256MiB", "tcp://127.0.0.1:0",
        {"--key-file", Key("worker"), "--authorized-keys", *dir_ + "/authorized-admin"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    c.workers.push_back(std::move(*w));
  }
  std::vector<std::string> at = {"--workers", c.joined(), "--deadline", "20000"};
  auto ctl = [&](const std::string& key, std::vector<std::string> args) {
    std::vector<std::string> all = at;
    all.insert(all.end(), {"--key-file", Key(key)});
    all.insert(all.end(), args.begin(), args.end());
    return Ctl(all);
  };
  CtlRun refused = ctl("rw", {"drain", "d2"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("this key may not send DRAIN (it needs the admin role)"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_EQ(c.workers[1]->WaitExit(std::chrono::milliseconds(1500)), -1)
      << "d2 left on an rw key's drain";
  CtlRun drained = ctl("operator", {"drain", "d2"});
  EXPECT_EQ(drained.code, 0) << drained.err;
  EXPECT_EQ(c.workers[1]->WaitExit(std::chrono::milliseconds(15000)), 0)
      << c.workers[1]->StderrText();
}

// True when some 32-byte window of `value` occurs in `wire`.
bool AnyWindowOnTheWire(const std::string& value, const std::string& wire) {
  constexpr size_t kWindow = 32;
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i + kWindow <= wire.size(); ++i) {
    seen.insert(std::string_view(wire).substr(i, kWindow));
  }
  for (size_t i = 0; i + kWindow <= value.size(); ++i) {
    if (seen.count(std::string_view(value).substr(i, kWindow))) return true;
  }
  return false;
}

// Two workers reached only through relays (so the primary's forward to its
// replica goes through one too); a 64 KiB random value set with two copies
// and read back. With `keys` no 32-byte window of it may be seen on the wire;
// without, the same check must see it (so the check can fail).
void SendThroughRelays(const std::string& dir, bool keys, bool* seen, int* conns) {
  std::vector<std::string> extra;
  if (keys) {
    extra = {"--key-file", dir + "/worker.key", "--authorized-keys", dir + "/authorized"};
  }
  testing::Cluster c;
  std::vector<std::unique_ptr<testing::TcpRelay>> relays;
  std::string joined;
  for (int i = 1; i <= 2; ++i) {
    auto w = testing::WorkerProcess::Start("r" + std::to_string(i), "256MiB",
                                           "tcp://127.0.0.1:0", extra);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    relays.push_back(std::make_unique<testing::TcpRelay>(PortOf((*w)->endpoint())));
    joined += (joined.empty() ? "" : ",") + relays.back()->endpoint();
    c.workers.push_back(std::move(*w));
  }
  std::string value = RandomBytes(64 << 10, keys ? 17 : 18);
  std::vector<std::string> common = {"--workers", joined, "--replicas", "2"};
  if (keys) {
    common.insert(common.end(), {"--key-file", dir + "/rw.key"});
  }
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> all = common;
    all.insert(all.end(), args.begin(), args.end());
    return all;
  };
  CtlRun set = Ctl(with({"set", "sec/wire"}), value);
  ASSERT_EQ(set.code, 0) << set.err;
  CtlRun holders = Ctl(with({"node-ids", "sec/wire"}));
  EXPECT_EQ(holders.out.size(), std::string("r1\nr2\n").size()) << holders.out;
  CtlRun get = Ctl(with({"get", "sec/wire"}));
  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_TRUE(get.out == value);
  std::string wire;
  *conns = 0;
  for (auto& r : relays) {
    wire += r->Captured();
    *conns += r->connections();
  }
  EXPECT_GT(wire.size(), 2 * value.size());  // the value went by, set and get
  *seen = AnyWindowOnTheWire(value, wire);
}

// A hand-over: shovelctl drain makes the value's only holder leave, and it
// copies the value to the other worker, whose address the client gave as a
// relay. The relays' capture from the drain until the leaver exited (the
// transfer between the two workers only) must hold no 32-byte window of it
// with keys, and must with plaintext (so the check can fail). The client
// uses the workers' own key pair: admin, which drain needs.
void DrainThroughRelays(const std::string& dir, bool keys, bool* seen) {
  std::vector<std::string> extra;
  if (keys) {
    extra = {"--key-file", dir + "/worker.key", "--authorized-keys", dir + "/authorized"};
  }
  testing::Cluster c;
  std::vector<std::unique_ptr<testing::TcpRelay>> relays;
  std::vector<std::string> at;
  for (int i = 1; i <= 2; ++i) {
    auto w = testing::WorkerProcess::Start("h" + std::to_string(i), "256MiB",
                                           "tcp://127.0.0.1:0", extra);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    relays.push_back(std::make_unique<testing::TcpRelay>(PortOf((*w)->endpoint())));
    at.push_back(relays.back()->endpoint());
    c.workers.push_back(std::move(*w));
  }
  auto ctl = [&](const std::string& workers, std::vector<std::string> args,
                 const std::string& input = "") {
    std::vector<std::string> all = {"--workers", workers, "--deadline", "20000"};
    if (keys) all.insert(all.end(), {"--key-file", dir + "/worker.key"});
    all.insert(all.end(), args.begin(), args.end());
    return Ctl(all, input);
  };
  const std::string both = at[0] + "," + at[1];
  std::string value = RandomBytes(64 << 10, keys ? 27 : 28);
  ASSERT_EQ(ctl(both, {"set", "sec/move"}, value).code, 0);
  CtlRun holder = ctl(both, {"node-ids", "sec/move"});
  ASSERT_TRUE(holder.out == "h1\n" || holder.out == "h2\n") << holder.out << holder.err;
  const size_t leaver = holder.out == "h1\n" ? 0 : 1;
  const size_t stays = 1 - leaver;
  const size_t before = relays[stays]->Captured().size();
  CtlRun drain = ctl(both, {"drain", holder.out.substr(0, 2)});
  ASSERT_EQ(drain.code, 0) << drain.err;
  EXPECT_EQ(c.workers[leaver]->WaitExit(std::chrono::milliseconds(15000)), 0)
      << c.workers[leaver]->StderrText();
  std::string wire = relays[stays]->Captured().substr(before);
  EXPECT_GT(wire.size(), value.size());  // the copy went by
  *seen = AnyWindowOnTheWire(value, wire);
  CtlRun moved = ctl(at[stays], {"get", "sec/move"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  EXPECT_TRUE(moved.out == value) << "the value did not move whole";
}

TEST_F(SecurityTest, NoByteOfAValueIsSeenOnTheWireDuringAHandOver) {
  unsetenv("SHOVEL_WORKERS");
  bool plain_seen = false, curve_seen = true;
  DrainThroughRelays(*dir_, /*keys=*/false, &plain_seen);
  DrainThroughRelays(*dir_, /*keys=*/true, &curve_seen);
  setenv("SHOVEL_WORKERS", cluster_->joined().c_str(), 1);
  EXPECT_TRUE(plain_seen) << "the check sees plaintext (control)";
  EXPECT_FALSE(curve_seen) << "a 32-byte window of the value travelled in clear";
}

TEST_F(SecurityTest, NoByteOfAValueIsSeenOnTheWire) {
  unsetenv("SHOVEL_WORKERS");
  bool plain_seen = false, curve_seen = true;
  int plain_conns = 0, curve_conns = 0;
  SendThroughRelays(*dir_, /*keys=*/false, &plain_seen, &plain_conns);
  SendThroughRelays(*dir_, /*keys=*/true, &curve_seen, &curve_conns);
  setenv("SHOVEL_WORKERS", cluster_->joined().c_str(), 1);
  EXPECT_TRUE(plain_seen) << "the check sees plaintext (control)";
  EXPECT_FALSE(curve_seen) << "a 32-byte window of the value travelled in clear";
  // The client's connections plus the primary's to its replica.
  EXPECT_GE(curve_conns, 3);
}

}  // namespace
}  // namespace shovel
