// CurveKeys: a client's CURVE settings (docs/security.md): its key pair and
// the workers' public keys, per endpoint (from Consul Meta curve_key) or a
// list for all (--worker-key KEY, or a worker key file, / SHOVEL_WORKER_KEY).
//
// HandshakeError turns what a socket monitor reports about a failed CURVE
// handshake into the one-line error the user reads.
//
// Thread-safety: every method may be called from any thread (the I/O
// thread and DirectCalls read and refresh, the Consul watch writes).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/keys.h"
#include "shovel/status.h"

namespace zmq {
class socket_t;
}  // namespace zmq

namespace shovel::client {

class CurveKeys {
 public:
  using Clock = std::chrono::steady_clock;
  // Reads a changed worker key file at most this often (Refresh).
  static constexpr Clock::duration kRefreshEvery = std::chrono::seconds(1);

  // `worker_keys`: the workers' public keys, the first preferred (one from
  // --worker-key KEY; any number from a worker key file). `file`: the file
  // they came from, read again by Refresh and KeyRejected; "" for none.
  CurveKeys(KeyPair client, std::vector<std::string> worker_keys, std::string file = "");
  const KeyPair& client() const { return client_; }
  // The worker's key at `endpoint`: its own if known (Consul), else the
  // worker key it was given before while the list still has it (an edit of
  // the file that adds a key leaves working connections alone), else the
  // first worker key (empty when none is known).
  std::string ServerKey(const std::string& endpoint) const;
  // A key that differs from the one known before bumps generation(), so
  // connections made with the old key are made again (a worker restarted
  // with a new key pair: docs/security.md, Key rotation).
  void SetServerKey(const std::string& endpoint, const std::string& key);
  // True while more than one worker key is listed (a rotation).
  bool Rotating() const;
  // Counts the changes of any worker's key; a relaxed load.
  uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }
  // Reads the worker key file again when it changed on disk (its inode,
  // size or mtime), at most once per kRefreshEvery: a long-lived client
  // (a mount) follows an operator's edit. A file that no longer parses
  // keeps the keys read before. Cheap when not due: one relaxed load.
  void Refresh(Clock::time_point now = Clock::now());
  // The worker at `endpoint` failed the CURVE handshake for its key
  // (IsWorkerKeyMismatch): reads the file again at once and, when that
  // changed nothing for `endpoint`, moves it to the next worker key of the
  // list (a worker restarted with the new pair of a rotation while others
  // still run the old). True when `endpoint`'s key changed: the caller
  // then tries again with it. False when every listed key was rejected
  // within kTriesWithin (the worker has none of them: the caller reports
  // the mismatch; the endpoint still moves to the next key, for the next
  // connection, and a new round begins) or there is no other key.
  // `rejected`: the key the failed connection was made with; when the
  // endpoint moved past it already (another connection to it failed
  // first), true at once.
  bool KeyRejected(const std::string& endpoint, const std::string& rejected,
                   Clock::time_point now = Clock::now());
  static constexpr Clock::duration kTriesWithin = std::chrono::seconds(10);
  // Where the key for `endpoint` comes from when it is a worker key file:
  // the file and how many keys it lists (for HandshakeError). Nullopt for
  // a key from Consul or from --worker-key KEY.
  struct KeyList {
    std::string file;
    size_t count = 0;
  };
  std::optional<KeyList> ListFor(const std::string& endpoint) const;

 private:
  std::string ServerKeyLocked(const std::string& endpoint) const;
  void ReadFileLocked();
  const KeyPair client_;
  const std::string file_;
  mutable std::mutex mu_;
  std::vector<std::string> worker_keys_;            // guarded by mu_
  std::map<std::string, std::string> by_endpoint_;  // from Consul; guarded by mu_
  // Endpoint -> the worker key it was given first, or moved to; it keeps
  // it while the list has it. Guarded by mu_.
  mutable std::map<std::string, std::string> chosen_;
  struct Tries {
    Clock::time_point since;
    size_t rejected = 0;
  };
  std::map<std::string, Tries> tries_;    // KeyRejected's bound; guarded by mu_
  std::string file_identity_;             // inode, size, mtime; guarded by mu_
  std::atomic<int64_t> next_refresh_{0};  // Clock ticks
  std::atomic<uint64_t> generation_{0};
};

// Whether a failed handshake that IsKeyVerdict accepted says the worker's
// key is not the one used (not a refusal of the client's key).
bool IsWorkerKeyMismatch(uint16_t event, uint32_t value);

// Resolves ClientOptions::key_file / worker_key with the environment
// (SHOVEL_KEY_FILE, SHOVEL_WORKER_KEY; not when `use_environment` is
// false). A worker key that is not a Z85 key names a worker key file
// (ParseWorkerKeys), read again as it changes. Null without a key file;
// kInvalidArgument naming the file, or the worker key, when bad.
Result<std::shared_ptr<CurveKeys>> LoadCurveKeys(std::string key_file,
                                                 std::string worker_key, bool have_consul,
                                                 bool use_environment = true);

// Sets CURVE client options on `socket` for `endpoint`; no-op when `keys`
// is null. A worker whose key is not known gets the default, and, when
// there is none, a key that fails the handshake (so the error says so).
void ApplyCurve(zmq::socket_t& socket, const CurveKeys* keys,
                const std::string& endpoint);

// Whether a failed handshake (`event`, `value`) says the keys do not fit:
// a ZAP refusal or a mechanism mismatch does at once; a handshake that just
// ended (NO_DETAIL, other protocol errors: a wrong server key looks so)
// only when the same worker's handshake failed before (`repeated`), since a
// worker killed mid-handshake gives one too, and then refuses the next
// connection instead of failing another handshake.
bool IsKeyVerdict(uint16_t event, uint32_t value, bool repeated);

// The error of a request to `endpoint` whose connection failed its
// handshake: `event` is the monitor's ZMQ_EVENT_HANDSHAKE_FAILED_* and
// `value` its value (a protocol error code, or the ZAP status code).
// `list`: the worker key file the worker's key was looked for in
// (CurveKeys::ListFor); a mismatch then names the file and its count.
Status HandshakeError(const std::string& endpoint, uint16_t event, uint32_t value,
                      bool have_key,
                      const std::optional<CurveKeys::KeyList>& list = std::nullopt);

}  // namespace shovel::client
