// Worker key rotation in a static cluster (--workers, no Consul;
// docs/security.md, Key rotation): real workers with CURVE, one C++ client
// that stays connected the whole time with a worker key file
// (ClientOptions::worker_key naming a file). The operator adds the new
// public key to that file, restarts each worker with the new pair at its
// address, and removes the old key; the client's requests keep working
// without a restart and without an error. A worker with a key the file
// does not list serves nothing, and shovelctl given the file names the
// mismatch in one line.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ctl_run.h"
#include "key_files.h"
#include "shovel/client.h"
#include "shovel/keys.h"
#include "worker_fixture.h"

namespace shovel {
namespace {

using std::chrono::milliseconds;

using test::Keygen;
using test::WriteFile;

class StaticKeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shovel-srot-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    old_ = Keygen(dir_ + "/old.key");
    new_ = Keygen(dir_ + "/new.key");
    other_ = Keygen(dir_ + "/other.key");
    client_ = Keygen(dir_ + "/client.key");
    // Both pairs may send what workers send each other, while some run one
    // and some the other.
    WriteFile(dir_ + "/authorized",
              client_ + "\n" + old_ + " admin\n" + new_ + " admin\n");
  }
  void TearDown() override {
    workers_.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Starts worker `i` (0, 1) with `key` at `listen`.
  // With peer_keys_, the workers take their peers' keys from that file.
  void StartWorker(size_t i, const std::string& key, const std::string& listen) {
    std::vector<std::string> args{"--key-file", dir_ + "/" + key + ".key",
                                  "--authorized-keys", dir_ + "/authorized"};
    if (!peer_keys_.empty()) {
      args.push_back("--peer-keys");
      args.push_back(peer_keys_);
    }
    auto w = testing::WorkerProcess::Start("w" + std::to_string(i + 1), "256MiB", listen,
                                           args);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    if (workers_.size() <= i) workers_.resize(i + 1);
    workers_[i] = std::move(*w);
  }
  // Stops worker `i` (SIGTERM, as systemctl restart) and starts it again at
  // the same address with `key`.
  void Restart(size_t i, const std::string& key) {
    const std::string endpoint = workers_[i]->endpoint();
    workers_[i]->Kill(SIGTERM);
    workers_[i].reset();
    StartWorker(i, key, endpoint);
  }

  // A client of both workers that follows `worker_keys` (a key file).
  std::unique_ptr<Client> ConnectFollowing(const std::string& worker_keys,
                                           uint32_t replicas = 1) {
    ClientOptions o;
    o.workers = {workers_[0]->endpoint(), workers_[1]->endpoint()};
    o.replicas = replicas;
    o.key_file = dir_ + "/client.key";
    o.worker_key = worker_keys;
    o.keys_from_environment = false;
    auto c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  void LongLivedClientMeetsAnUnlistedKey(bool rotating);

  // The test ids and values: kIds ids of a set ("a/", "b/", ...).
  static constexpr int kIds = 32;
  static std::string Id(const char* set, int i) {
    return std::string(set) + std::to_string(i);
  }
  static std::string Value(const char* set, int i) {
    return std::string(set) + " value " + std::to_string(i);
  }
  // Writes every id of `set`; each must be acknowledged.
  static void WriteAll(Client& client, const char* set) {
    for (int i = 0; i < kIds; ++i) {
      auto r = client.Set(Id(set, i), Value(set, i));
      ASSERT_TRUE(r.ok()) << Id(set, i) << ": " << r.status().ToString();
    }
  }

  std::string dir_, client_, old_, new_, other_, peer_keys_;
  std::vector<std::unique_ptr<testing::WorkerProcess>> workers_;
};

TEST_F(StaticKeyRotationTest, WorkersGetANewKeyPairWhileAClientStaysConnected) {
  StartWorker(0, "old", "tcp://127.0.0.1:0");
  StartWorker(1, "old", "tcp://127.0.0.1:0");
  const std::string worker_keys = dir_ + "/worker-keys";
  WriteFile(worker_keys, "# the workers' public keys\n" + old_ + "\n");
  auto c = ConnectFollowing(worker_keys);
  ASSERT_NE(c, nullptr);
  Client& client = *c;
  // Reads every id of `set`: how many came back whole and how many are
  // gone (held by a worker that restarted empty); any other error fails.
  std::vector<std::string> gone_ids;
  auto read_all = [&](const char* set, int* found, int* gone) {
    *found = *gone = 0;
    gone_ids.clear();
    for (int i = 0; i < kIds; ++i) {
      auto r = client.Get(Id(set, i));
      if (r.ok()) {
        EXPECT_EQ(*r, Value(set, i));
        ++*found;
      } else {
        EXPECT_EQ(r.status().code(), Code::kNotFound)
            << Id(set, i) << ": " << r.status().ToString();
        if (r.status().code() == Code::kNotFound) ++*gone;
        gone_ids.push_back(Id(set, i));
      }
    }
  };
  int found = 0, gone = 0;
  WriteAll(client, "a/");

  // 1. The clients' file lists the new key too: nothing changes for the
  // connections that work (read again within a second).
  WriteFile(worker_keys, old_ + "   # until the rotation is done\n" + new_ + "\n");
  std::this_thread::sleep_for(milliseconds(1500));
  read_all("a/", &found, &gone);
  EXPECT_EQ(found, kIds);

  // 2. w1 restarted with the new pair: the client moves to the new key for
  // it and keeps the old one for w2. Only the ids w1 held are gone.
  Restart(0, "new");
  read_all("a/", &found, &gone);
  EXPECT_GT(found, 0);
  EXPECT_GT(gone, 0);
  EXPECT_EQ(found + gone, kIds);
  WriteAll(client, "b/");
  read_all("b/", &found, &gone);
  EXPECT_EQ(found, kIds);

  // 3. w2 too.
  Restart(1, "new");
  WriteAll(client, "c/");
  read_all("c/", &found, &gone);
  EXPECT_EQ(found, kIds) << ::testing::PrintToString(gone_ids);

  // 4. The old key leaves the file and the workers' authorized keys.
  WriteFile(worker_keys, new_ + "\n");
  WriteFile(dir_ + "/authorized", client_ + "\n" + new_ + " admin\n");
  for (auto& w : workers_) kill(w->pid(), SIGHUP);
  std::this_thread::sleep_for(milliseconds(1500));
  read_all("c/", &found, &gone);
  EXPECT_EQ(found, kIds);

  // A worker with a pair the file does not list: nothing is read from it,
  // and both the long-lived client and shovelctl, given the same file,
  // name the mismatch in one line.
  Restart(0, "other");
  const std::string mismatch = "worker " + workers_[0]->endpoint() +
                               ": its public key matches none of the 1 key in " +
                               worker_keys +
                               " (add the worker's public key to that file, or restart "
                               "the worker with a key pair the file lists)";
  int failed = 0;
  for (int i = 0; i < kIds; ++i) {
    auto r = client.Get(Id("c/", i));
    if (r.ok()) continue;  // held by w2
    ++failed;
    EXPECT_EQ(r.status().ToString(), "permission denied: " + mismatch);
  }
  EXPECT_GT(failed, 0);
  CtlRun ctl = Ctl({"--workers", workers_[0]->endpoint(), "--key-file",
                    dir_ + "/client.key", "--worker-key", worker_keys, "get", "c/0"});
  EXPECT_EQ(ctl.code, 1);
  EXPECT_EQ(ctl.err, "shovelctl: get 'c/0': permission denied: " + mismatch + "\n");
  // And with the file naming that worker's key, it reads (the id is gone
  // with the restart: not found, from the worker itself).
  WriteFile(worker_keys, other_ + "\n");
  ctl = Ctl({"--workers", workers_[0]->endpoint(), "--key-file", dir_ + "/client.key",
             "--worker-key", worker_keys, "get", "c/0"});
  EXPECT_EQ(ctl.code, 1);
  EXPECT_NE(ctl.err.find("not found"), std::string::npos) << ctl.err;
}

// A client that stays connected (a mount, a Python Client kept open) meets
// a worker restarted with a key pair its worker key file does not list:
// the next request for an id that worker holds fails within its deadline
// and names the mismatch, the worker and the file (not "cannot be
// reached"). The ids of the other worker stay readable all along, and the
// same client object works again with that worker when it comes back
// with a listed pair, or when the file is edited to list its key.
// `rotating`: the file lists two keys (old, new), else one (old).
void StaticKeyRotationTest::LongLivedClientMeetsAnUnlistedKey(bool rotating) {
  StartWorker(0, "old", "tcp://127.0.0.1:0");
  StartWorker(1, "old", "tcp://127.0.0.1:0");
  const std::string worker_keys = dir_ + "/worker-keys";
  const std::string listed = old_ + "\n" + (rotating ? new_ + "\n" : "");
  const char* restart_with = rotating ? "new" : "old";
  WriteFile(worker_keys, "# the workers' public keys\n" + listed);
  auto c = ConnectFollowing(worker_keys);
  ASSERT_NE(c, nullptr);
  Client& client = *c;
  const std::string w1 = workers_[0]->endpoint();
  const std::string mismatch = "permission denied: worker " + w1 +
                               ": its public key matches none of the " +
                               (rotating ? "2 keys" : "1 key") + " in " + worker_keys +
                               " (add the worker's public key to that file, or restart "
                               "the worker with a key pair the file lists)";
  // Reads every id of `set`: those w2 holds come back whole; those w1
  // holds fail with the mismatch, each within the deadline. Returns the
  // ids that failed.
  auto read_expecting_mismatch = [&](const char* set) {
    std::vector<std::string> failed;
    for (int i = 0; i < kIds; ++i) {
      const auto start = std::chrono::steady_clock::now();
      auto r = client.Get(Id(set, i));
      const auto took = std::chrono::steady_clock::now() - start;
      EXPECT_LT(took, milliseconds(5000)) << Id(set, i);
      if (r.ok()) {
        EXPECT_EQ(*r, Value(set, i));
        continue;
      }
      failed.push_back(Id(set, i));
      EXPECT_EQ(r.status().ToString(), mismatch) << Id(set, i);
    }
    return failed;
  };
  WriteAll(client, "a/");

  // 1. w1 is stopped while the client is in use (its requests for w1's ids
  // fail: it is taken to be down), and comes back with a pair the file
  // does not list.
  {
    const std::string endpoint = workers_[0]->endpoint();
    workers_[0]->Kill(SIGTERM);
    workers_[0].reset();
    for (int i = 0; i < kIds; ++i) (void)client.Get(Id("a/", i));
    StartWorker(0, "other", endpoint);
  }
  const std::vector<std::string> w1_ids = read_expecting_mismatch("a/");
  ASSERT_FALSE(w1_ids.empty());
  // Writes to it fail the same way, and again on the next try.
  int refused_writes = 0;
  for (int i = 0; i < kIds; ++i) {
    auto r = client.Set(Id("x/", i), Value("x/", i));
    if (r.ok()) continue;
    ++refused_writes;
    EXPECT_EQ(r.status().ToString(), mismatch) << Id("x/", i);
  }
  EXPECT_GT(refused_writes, 0);
  EXPECT_EQ(read_expecting_mismatch("a/"), w1_ids);

  // 2. w1 comes back with a listed pair: the same client reads and writes
  // it again (w1 restarted empty; w2's a/ ids were never lost). Requests
  // right after the restart may still get the refusal, or find w1 down,
  // for up to about a second (DownEndpoints::kRecheck, and ZeroMQ's next
  // reconnect); the client settles once w1 answers: its id is not found.
  Restart(0, restart_with);
  const auto back = std::chrono::steady_clock::now();
  auto settled = client.Get(w1_ids[0]);
  while (!settled.ok() && settled.status().code() != Code::kNotFound &&
         std::chrono::steady_clock::now() - back < milliseconds(2000)) {
    std::this_thread::sleep_for(milliseconds(50));
    settled = client.Get(w1_ids[0]);
  }
  EXPECT_EQ(settled.status().code(), Code::kNotFound) << settled.status().ToString();
  WriteAll(client, "b/");
  for (int i = 0; i < kIds; ++i) {
    auto r = client.Get(Id("b/", i));
    ASSERT_TRUE(r.ok()) << Id("b/", i) << ": " << r.status().ToString();
    EXPECT_EQ(*r, Value("b/", i));
    auto a = client.Get(Id("a/", i));
    if (std::find(w1_ids.begin(), w1_ids.end(), Id("a/", i)) == w1_ids.end()) {
      ASSERT_TRUE(a.ok()) << Id("a/", i) << ": " << a.status().ToString();
      EXPECT_EQ(*a, Value("a/", i));
    } else {
      EXPECT_EQ(a.status().code(), Code::kNotFound) << a.status().ToString();
    }
  }

  // 3. w1 again with the unlisted pair, and then the file lists its key:
  // within about a second the same client works with it.
  Restart(0, "other");
  EXPECT_EQ(read_expecting_mismatch("a/"), w1_ids);
  WriteFile(worker_keys, listed + other_ + "\n");
  std::this_thread::sleep_for(milliseconds(1500));
  WriteAll(client, "c/");
  for (int i = 0; i < kIds; ++i) {
    auto r = client.Get(Id("c/", i));
    ASSERT_TRUE(r.ok()) << Id("c/", i) << ": " << r.status().ToString();
    EXPECT_EQ(*r, Value("c/", i));
  }
}

TEST_F(StaticKeyRotationTest, ALongLivedClientNamesAWorkerKeyItsFileDoesNotList) {
  LongLivedClientMeetsAnUnlistedKey(/*rotating=*/false);
}

TEST_F(StaticKeyRotationTest, ALongLivedClientNamesAWorkerKeyNoneOfTwoListedKeysMatch) {
  LongLivedClientMeetsAnUnlistedKey(/*rotating=*/true);
}

// Two workers at R=2, each forwarding writes to the other, with a peer
// keys file (--peer-keys) listing the old public key, then the new one too
// (read again while they run, as an operator edits it). One is restarted with
// the new pair; the other keeps running with the old one, and replicated
// writes keep working in both directions: each worker moves to the key
// its peer now has when the handshake with the other fails.
TEST_F(StaticKeyRotationTest, WorkersReplicateWhileOnlySomeHaveTheNewPair) {
  peer_keys_ = dir_ + "/peer-keys";
  WriteFile(peer_keys_, "# the workers' public keys\n" + old_ + "\n");
  StartWorker(0, "old", "tcp://127.0.0.1:0");
  StartWorker(1, "old", "tcp://127.0.0.1:0");
  auto c = ConnectFollowing(peer_keys_, 2);  // the same file format as the clients'
  ASSERT_NE(c, nullptr);
  Client& client = *c;
  WriteAll(client, "a/");

  // The file lists the new key too: workers and client read it again
  // within a second. Then w1 is restarted with the new pair; w2 runs on with the old one.
  WriteFile(peer_keys_, old_ + "\n" + new_ + "\n");
  std::this_thread::sleep_for(milliseconds(1500));
  const pid_t w2 = workers_[1]->pid();
  Restart(0, "new");
  WriteAll(client, "b/");
  EXPECT_EQ(workers_[1]->pid(), w2);

  // w2 dies without handing anything over: every b/ value is still read
  // whole, from w1 alone, so w2's forwards (and w1's own writes) reached
  // w1 under its new key.
  workers_[1]->Kill(SIGKILL);
  CtlRun ctl;
  for (int i = 0; i < kIds; ++i) {
    ctl = Ctl({"--workers", workers_[0]->endpoint(), "--key-file", dir_ + "/client.key",
               "--worker-key", peer_keys_, "get", Id("b/", i)});
    EXPECT_EQ(ctl.code, 0) << Id("b/", i) << ": " << ctl.err;
    EXPECT_EQ(ctl.out, Value("b/", i)) << Id("b/", i);
  }
}

}  // namespace
}  // namespace shovel
