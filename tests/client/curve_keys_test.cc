// The client's CURVE settings: resolving the key file and worker key (with
// the environment), per-worker keys, and the one-line handshake errors.
#include "curve_keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <zmq.hpp>

#include "down_endpoints.h"

namespace shovel::client {
namespace {

const std::string kPub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string kSec = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

TEST(CurveKeys, NoKeyFileMeansNoCurve) {
  unsetenv("SHOVEL_KEY_FILE");
  auto k = LoadCurveKeys("", kPub, false);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, nullptr);
}

TEST(CurveKeys, KeyFileNeedsAWorkerKeyWithoutConsul) {
  char dir[] = "/tmp/shovel-ck-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/k";
  ASSERT_TRUE(WriteKeyPairFile(path, {kPub, kSec}).ok());
  unsetenv("SHOVEL_WORKER_KEY");
  auto k = LoadCurveKeys(path, "", false);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().message(),
            "a key file needs the workers' public key: give --worker-key KEY or "
            "SHOVEL_WORKER_KEY (Consul gives it from the workers' registrations)");
  k = LoadCurveKeys(path, "short", false);
  EXPECT_EQ(k.status().message(),
            "worker key 'short' is neither a public key (40 Z85 characters, as "
            "shovelctl keygen prints) nor a readable file of worker keys: No such file "
            "or directory");
  setenv("SHOVEL_WORKER_KEY", kPub.c_str(), 1);
  k = LoadCurveKeys(path, "", false);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ((*k)->ServerKey("tcp://a:1"), kPub);
  (*k)->SetServerKey("tcp://a:1", kSec);
  EXPECT_EQ((*k)->ServerKey("tcp://a:1"), kSec);
  EXPECT_EQ((*k)->ServerKey("tcp://b:1"), kPub);
  unsetenv("SHOVEL_WORKER_KEY");
  auto consul = LoadCurveKeys(path, "", true);  // keys come from Meta curve_key
  ASSERT_TRUE(consul.ok());
  EXPECT_EQ((*consul)->ServerKey("tcp://b:1"), "");
  unlink(path.c_str());
  rmdir(dir);
}

// A worker restarted with a new key pair: only a real change counts, so
// the connections made with the old key are made again and no others.
TEST(CurveKeys, OnlyAKeyThatChangesBumpsTheGeneration) {
  CurveKeys k({kPub, kSec}, {kPub});
  uint64_t g = k.generation();
  k.SetServerKey("tcp://a:1", kPub);  // the default it had already
  EXPECT_EQ(k.generation(), g);
  k.SetServerKey("tcp://a:1", kSec);
  EXPECT_EQ(k.generation(), g + 1);
  k.SetServerKey("tcp://a:1", kSec);
  EXPECT_EQ(k.generation(), g + 1);
  k.SetServerKey("tcp://a:1", "");  // back to the default
  EXPECT_EQ(k.generation(), g + 2);
  EXPECT_EQ(k.ServerKey("tcp://a:1"), kPub);
}

const std::string kOther = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

TEST(CurveKeys, WorkerKeyFileListsKeysWithCommentsAndNamesABadLine) {
  // A key may start with '#': a key, not a comment.
  const std::string hash_key = "#" + kPub.substr(1);
  auto keys = ParseWorkerKeys("# rotation\n" + kPub + "  # new\npublic-key = " + kOther +
                                  "\n\n" + kPub + "\n" + hash_key + " # starts with #\n",
                              "wk");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, (std::vector<std::string>{kPub, kOther, hash_key}));
  EXPECT_EQ(ParseWorkerKeys(kPub + "\nnot-a-key\n", "wk").status().message(),
            "wk:2: 'not-a-key' is not a worker public key (40 Z85 characters)");
  EXPECT_EQ(ParseWorkerKeys("# none\n", "wk").status().message(),
            "wk lists no worker public key");
}

// A worker key file is read again when it changes (at most once a
// second, at once after a key mismatch); with two keys listed, a worker
// that rejects one gets the other, and the others keep theirs.
TEST(CurveKeys, WorkerKeyFileIsFollowedAndARejectedKeyMovesToTheNext) {
  char dir[] = "/tmp/shovel-ck-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string pair = std::string(dir) + "/client.key",
                    wk = std::string(dir) + "/wk";
  ASSERT_TRUE(WriteKeyPairFile(pair, {kPub, kSec}).ok());
  auto write = [&](const std::string& text) {
    FILE* f = fopen((wk + ".tmp").c_str(), "w");
    fputs(text.c_str(), f);
    fclose(f);
    rename((wk + ".tmp").c_str(), wk.c_str());
  };
  write(kPub + "\n");
  auto k = LoadCurveKeys(pair, wk, false, false);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  CurveKeys& keys = **k;
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kPub);
  // Edited: seen by the first Refresh a second later, not before. A worker
  // already known keeps its key while the file lists it; a new one gets
  // the first.
  write(kOther + "\n" + kPub + "\n");
  const uint64_t g = keys.generation();
  const auto now = CurveKeys::Clock::now();
  keys.Refresh(now);
  EXPECT_EQ(keys.ServerKey("tcp://b:1"), kPub);
  keys.Refresh(now + CurveKeys::kRefreshEvery);
  EXPECT_GT(keys.generation(), g);
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kPub);
  EXPECT_EQ(keys.ServerKey("tcp://c:1"), kOther);
  // a:1 restarted with kOther: rejected, it moves to the next key.
  EXPECT_TRUE(keys.KeyRejected("tcp://a:1", keys.ServerKey("tcp://a:1"), now));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kOther);
  EXPECT_EQ(keys.ServerKey("tcp://b:1"), kPub);
  // Both rejected within kTriesWithin: no key fits, the caller says so.
  // The next connection tries the next key again, in a new round: a
  // worker that comes back with a listed key is found at once.
  EXPECT_FALSE(keys.KeyRejected("tcp://a:1", keys.ServerKey("tcp://a:1"), now));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kPub);
  EXPECT_TRUE(keys.KeyRejected("tcp://a:1", keys.ServerKey("tcp://a:1"), now));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kOther);
  EXPECT_FALSE(keys.KeyRejected("tcp://a:1", keys.ServerKey("tcp://a:1"), now));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kPub);
  EXPECT_TRUE(keys.KeyRejected("tcp://a:1", keys.ServerKey("tcp://a:1"),
                               now + 2 * CurveKeys::kTriesWithin));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kOther);
  EXPECT_FALSE(keys.KeyRejected("tcp://a:1", keys.ServerKey("tcp://a:1"),
                                now + 2 * CurveKeys::kTriesWithin));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kPub);
  // The old key leaves the file: read at once after a rejection.
  write("# rotated\n" + kOther + "\n");
  EXPECT_TRUE(keys.KeyRejected("tcp://a:1", keys.ServerKey("tcp://a:1"),
                               now + 2 * CurveKeys::kTriesWithin));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kOther);
  EXPECT_EQ(keys.ServerKey("tcp://b:1"), kOther);
  // A second connection made with the key a:1 moved past: retry at once.
  EXPECT_TRUE(keys.KeyRejected("tcp://a:1", kPub));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kOther);
  // One key: nothing to move to.
  EXPECT_FALSE(keys.KeyRejected("tcp://d:1", keys.ServerKey("tcp://d:1")));
  // A file that no longer parses keeps the keys.
  write("garbage\n");
  EXPECT_FALSE(keys.KeyRejected("tcp://a:1", keys.ServerKey("tcp://a:1")));
  EXPECT_EQ(keys.ServerKey("tcp://a:1"), kOther);
  unlink(wk.c_str());
  unlink(pair.c_str());
  rmdir(dir);
}

TEST(CurveKeys, HandshakeErrorsNameTheCause) {
  // What a client says of a failed handshake with worker tcp://w:1.
  auto says = [](uint16_t event, uint32_t value, bool have_key,
                 std::optional<CurveKeys::KeyList> list = std::nullopt) {
    return HandshakeError("tcp://w:1", event, value, have_key, list).message();
  };
  EXPECT_EQ(says(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400, true),
            "worker refused this key: tcp://w:1 does not list it in its authorized keys");
  EXPECT_EQ(
      says(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0, false),
      "worker refused this client: tcp://w:1 requires a key (give --key-file FILE or "
      "SHOVEL_KEY_FILE)");
  EXPECT_EQ(says(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
                 ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, true),
            "worker tcp://w:1 does not use keys (it runs without --key-file)");
  Status wrong =
      HandshakeError("tcp://w:1", ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0, true);
  EXPECT_EQ(wrong.code(), Code::kPermissionDenied);
  EXPECT_EQ(wrong.message(),
            "worker's key does not match: tcp://w:1 failed the CURVE handshake (check "
            "--worker-key / SHOVEL_WORKER_KEY)");
  // A key looked for in a worker key file: the file, its count, what to do.
  EXPECT_EQ(says(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0, true,
                 CurveKeys::KeyList{"/etc/shovel/worker-keys", 2}),
            "worker tcp://w:1: its public key matches none of the 2 keys in "
            "/etc/shovel/worker-keys (add the worker's public key to that file, or "
            "restart the worker with a key pair the file lists)");
  EXPECT_EQ(
      says(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0, true, CurveKeys::KeyList{"wk", 1}),
      "worker tcp://w:1: its public key matches none of the 1 key in wk (add the "
      "worker's public key to that file, or restart the worker with a key pair "
      "the file lists)");
  // The refusal of this client's key is the same with a file.
  EXPECT_EQ(says(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400, true, CurveKeys::KeyList{"wk", 1}),
            "worker refused this key: tcp://w:1 does not list it in its authorized keys");
}

TEST(CurveKeys, AHandshakeThatJustEndedIsAVerdictOnlyWhenItRepeats) {
  EXPECT_TRUE(IsKeyVerdict(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400, false));
  EXPECT_TRUE(IsKeyVerdict(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
                           ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, false));
  // A worker killed mid-handshake looks like a wrong key once.
  EXPECT_FALSE(IsKeyVerdict(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0, false));
  EXPECT_TRUE(IsKeyVerdict(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0, true));
  DownEndpoints down;
  EXPECT_FALSE(down.HandshakeFailed("tcp://w:1"));
  EXPECT_TRUE(down.HandshakeFailed("tcp://w:1"));
  EXPECT_FALSE(down.HandshakeFailed("tcp://w:2"));
  down.Reached("tcp://w:1");  // a reply: its next failure is a first again
  EXPECT_FALSE(down.HandshakeFailed("tcp://w:1"));
}

// A worker found down that then fails a handshake is up (it listens and
// answers): its requests go to it again and get the verdict on the keys.
TEST(CurveKeys, AFailedHandshakeSaysTheWorkerIsUp) {
  DownEndpoints down;
  (void)down.NoConnection("tcp://w:1", std::chrono::milliseconds(5000),
                          std::chrono::milliseconds(5000));
  down.Closed("tcp://w:2");
  EXPECT_TRUE(down.IsDown("tcp://w:1"));
  EXPECT_TRUE(down.IsDown("tcp://w:2"));
  EXPECT_FALSE(down.HandshakeFailed("tcp://w:1"));
  EXPECT_FALSE(down.IsDown("tcp://w:1"));
  const auto t0 = DownEndpoints::Clock::now();
  const auto until = t0 + std::chrono::seconds(5);
  EXPECT_EQ(down.ConnectBy("tcp://w:1", t0, until), until);
  down.Refused("tcp://w:2", Status::PermissionDenied("mismatch"));
  EXPECT_FALSE(down.IsDown("tcp://w:2"));
  ASSERT_TRUE(down.RefusedError("tcp://w:2").has_value());
  EXPECT_EQ(down.RefusedError("tcp://w:2")->message(), "mismatch");
}

}  // namespace
}  // namespace shovel::client
