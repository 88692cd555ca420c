// Authorizer: which CURVE client keys a worker serves, and as what role
// (docs/security.md). The key set comes from the --authorized-keys file and
// is replaced as a whole by Reload (SIGHUP); the worker's own public key is
// always there as admin, so workers sharing a key pair reach each other.
//
// Two checks use it: the ZAP handler (zap_handler.h) at the handshake, and
// the server on every request (Allow), by the key ZeroMQ attached to the
// request as its User-Id, so a key removed by a reload is refused on its
// next request on a connection opened before.
//
// Thread-safety: every method may be called from any thread. The key set
// is an immutable map swapped under mu_ (readers copy the shared_ptr);
// refusal bookkeeping is under log_mu_. The two are never held together.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "shovel/keys.h"
#include "shovel/log.h"
#include "shovel/protocol.h"
#include "shovel/status.h"

namespace shovel::worker {

class Authorizer {
 public:
  using Keys = std::map<std::string, Role>;
  using Log = shovel::log::LogFn;

  // Reads `path`; kInvalidArgument naming the file and line when it does
  // not parse. `own_key` (Z85) is added as admin. `log` may be null.
  static Result<std::unique_ptr<Authorizer>> Load(const std::string& path,
                                                  const std::string& own_key, Log log);

  // Reads the file again. On an error the old set stays, and the error is
  // returned (and logged).
  Status Reload();

  // The role of `key` (Z85), nullopt when it is not authorized.
  std::optional<Role> RoleOf(std::string_view key) const;

  // OK when a connection with `key` may send the request whose decoded
  // header is `h` (BATCH: `batch_body` is its payload, every item is
  // checked); kPermissionDenied with the message the client prints.
  Status Allow(std::string_view key, const wire::Header& h,
               std::string_view batch_body) const;

  // A peer was refused (at the handshake or on a request): counted, and
  // logged at most once per `peer` (its address) per minute.
  void Refused(const std::string& peer, std::string_view key, const std::string& why);
  uint64_t refused() const { return refused_.load(); }

 private:
  Authorizer(std::string path, std::string own_key, Log log)
      : path_(std::move(path)), own_key_(std::move(own_key)), log_(std::move(log)) {}

  const std::string path_;
  const std::string own_key_;
  const Log log_;
  mutable std::mutex mu_;
  std::shared_ptr<const Keys> keys_;  // guarded by mu_
  std::mutex log_mu_;
  // Peer address -> when it was last logged; guarded by log_mu_.
  std::map<std::string, std::chrono::steady_clock::time_point> logged_;
  std::atomic<uint64_t> refused_{0};
};

// What role `op` (with `flags`) needs: reads for kReadOnly, the client
// writes for kReadWrite, worker-to-worker requests and DRAIN (a worker
// leaves the cluster) for kAdmin.
Role RequiredRole(wire::Op op, uint16_t flags);

}  // namespace shovel::worker
