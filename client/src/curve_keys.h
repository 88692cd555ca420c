// CurveKeys: a client's CURVE settings (docs/security.md): its key pair and
// the workers' public keys, per endpoint (from Consul Meta curve_key) or one
// for all (--worker-key / SHOVEL_WORKER_KEY).
//
// HandshakeError turns what a socket monitor reports about a failed CURVE
// handshake into the one-line error the user reads.
//
// Thread-safety: ServerKey and SetServerKey may be called from any thread
// (the I/O thread and DirectCalls read, the Consul watch writes).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "shovel/keys.h"
#include "shovel/status.h"

namespace zmq {
class socket_t;
}  // namespace zmq

namespace shovel::client {

class CurveKeys {
 public:
  CurveKeys(KeyPair client, std::string default_server_key)
      : client_(std::move(client)), default_server_key_(std::move(default_server_key)) {}
  const KeyPair& client() const { return client_; }
  // The worker's key at `endpoint`: its own if known, else the default
  // (empty when neither is known).
  std::string ServerKey(const std::string& endpoint) const;
  // A key that differs from the one known before bumps generation(), so
  // connections made with the old key are made again (a worker restarted
  // with a new key pair: docs/security.md, Key rotation).
  void SetServerKey(const std::string& endpoint, const std::string& key);
  // Counts the changes of any worker's key; a relaxed load.
  uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }

 private:
  const KeyPair client_;
  const std::string default_server_key_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> by_endpoint_;  // guarded by mu_
  std::atomic<uint64_t> generation_{0};
};

// Resolves ClientOptions::key_file / worker_key with the environment
// (SHOVEL_KEY_FILE, SHOVEL_WORKER_KEY; not when `use_environment` is
// false). Null without a key file;
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
Status HandshakeError(const std::string& endpoint, uint16_t event, uint32_t value,
                      bool have_key);

}  // namespace shovel::client
