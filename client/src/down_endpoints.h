// DownEndpoints: workers that recently gave no connection for a whole
// deadline.
//
// A request waits for a connection to its worker up to its deadline. Once
// one request waited that long in vain, the worker is taken to be down: the
// next requests to it wait at most kRecheck for a connection (long enough
// for ZeroMQ's next reconnect attempt: at most 500 ms apart), until a
// reply from it arrives. So one command against a dead worker fails after
// about one deadline, not one per request it makes (the client's first PING,
// then the command's own request), as
// memcached clients mark a server dead after a failure and retry it later.
//
// A worker taken to be down is logged (shovel/log.h, warn), at most once a
// minute per worker: a mount whose worker died says so in its log.
//
// Thread-safe. Reached costs one relaxed load while no worker is down, so
// the I/O thread can call it on every reply.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "shovel/log.h"
#include "shovel/status.h"

namespace shovel::client {

class DownEndpoints {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kRecheck{500};

  // Until when a request to `endpoint` that started at `start`, with its
  // deadline at `until`, waits for a connection.
  Clock::time_point ConnectBy(const std::string& endpoint, Clock::time_point start,
                              Clock::time_point until);
  // A request with `deadline` got no connection to `endpoint` within
  // `waited` (its ConnectBy less its start): marks the endpoint down (if it
  // is not yet) and returns the request's kUnavailable error, which names
  // the endpoint and says how long it waited.
  Status NoConnection(const std::string& endpoint, Clock::duration waited,
                      std::chrono::milliseconds deadline);
  // A connection to `endpoint` closed under requests in flight
  // (ConnectionWatch): its process is most likely gone, so it is taken to
  // be down as if a request had waited in vain (the next wait at most
  // kRecheck), until a reply from it arrives.
  void Closed(const std::string& endpoint);
  // A reply came from `endpoint`: it is up, and a refusal of its
  // handshake (Refused) no longer stands.
  void Reached(const std::string& endpoint);
  bool IsDown(const std::string& endpoint);
  // A connection to `endpoint` failed its CURVE handshake with `error`
  // (HandshakeError): for kRecheck from now, requests to it fail at once
  // with that error instead of waiting for a connection that cannot come
  // (after that one waits for the next handshake, so a key the worker
  // authorizes later works). It is not down (see HandshakeFailed).
  void Refused(const std::string& endpoint, const Status& error);
  // A handshake with `endpoint` failed; true when one failed before within
  // kRecheck * 4 with no reply from it since (IsKeyVerdict's `repeated`).
  // Something listens there and answers a handshake, so it is no longer
  // taken to be down: its requests go to it, and wait for the verdict on
  // the keys (the error that names the cause), not for kRecheck only.
  bool HandshakeFailed(const std::string& endpoint);
  std::optional<Status> RefusedError(const std::string& endpoint);
  // The worker at `endpoint` has a new CURVE key: its refusal no longer
  // stands (its past handshake failures do: the next is a verdict).
  void KeyChanged(const std::string& endpoint);

 private:
  static constexpr int64_t kClosed = -1;
  std::mutex mu_;
  // Endpoint -> the deadline (ms) of the request that found it down, or
  // kClosed when a closed connection did.
  std::unordered_map<std::string, int64_t> down_;  // guarded by mu_
  std::atomic<size_t> count_{0};                   // down_.size()
  // Endpoint -> its handshake error and until when it stands; guarded by mu_.
  std::unordered_map<std::string, std::pair<Status, Clock::time_point>> refused_;
  std::atomic<size_t> refused_count_{0};  // refused_.size()
  // Endpoint -> when its last handshake failed; guarded by mu_.
  std::unordered_map<std::string, Clock::time_point> failed_handshakes_;
  std::atomic<size_t> failed_count_{0};             // failed_handshakes_.size()
  log::Limiter down_log_{std::chrono::minutes(1)};  // its own lock, never under mu_

  // Logs that `endpoint` is taken to be down (rate-limited per worker).
  void LogDown(const std::string& endpoint, const std::string& cause);
};

}  // namespace shovel::client
