// RequestErrorLog: the worker's per-request failures, written to its log,
// at most kPerSecond lines a second for each kind of failure; the lines held
// back are counted on the next line of that kind ("; 12 similar
// suppressed"), or by Flush once their second has passed ("12 similar
// malformed requests suppressed"), so a flood of bad requests costs a few
// lines a second and its end is still reported.
//
// Which failures: internal and corruption (error: the worker lost service
// or data), protocol, i.e. malformed requests, and no space (warn). Not
// found, conflict, redirect and the like are a client's everyday answers and
// are not logged; refused peers are logged by the Authorizer, once a minute
// per peer.
//
// Thread-safe (one mutex, taken only for a request that failed in one of
// these ways). The LogFn is called with the mutex released.
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <string_view>

#include "rate_limiter.h"
#include "shovel/log.h"
#include "shovel/status.h"

namespace shovel::worker {

class RequestErrorLog {
 public:
  using Clock = RateLimiter::Clock;
  static constexpr uint32_t kPerSecond = 5;

  // `log` may be null (nothing is written).
  explicit RequestErrorLog(log::LogFn log);

  // True for the codes Report writes.
  static bool Logged(Code code);

  // A request for `op` on `id` (empty when unknown: a request too malformed
  // to name it) was answered with `status`. Codes Logged() rejects are
  // ignored.
  void Report(std::string_view op, std::string_view id, const Status& status,
              Clock::time_point now = Clock::now());

  // Writes one line per kind whose held-back failures' second has passed
  // and that no later line reported. The worker calls it every second.
  void Flush(Clock::time_point now = Clock::now());

 private:
  enum Kind { kInternal, kCorruption, kProtocol, kNoSpace, kKinds };
  const log::LogFn log_;
  std::mutex mu_;
  std::array<RateLimiter, kKinds> limiters_;  // guarded by mu_
};

}  // namespace shovel::worker
