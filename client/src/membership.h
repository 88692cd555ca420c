// Membership: where the client learns the set of workers.
//
// A Membership reports the placement set (every registered worker, healthy
// or not) and tells subscribers when it changes. Two sources:
// StaticMembership (ClientOptions.workers or SHOVEL_WORKERS) here, and
// ConsulMembership (consul_membership.h: the service's health entries).
//
// Thread-safety: implementations are thread-safe. Subscriber callbacks run on
// whatever thread noticed the change and must not call back into the
// Membership (they should only mark caches stale).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shovel/status.h"

namespace shovel::client {

struct Member {
  std::string node_id;      // placeholder = endpoint until the worker answers
  std::string endpoint;     // ZeroMQ endpoint, e.g. tcp://10.0.0.5:7070
  bool healthy = true;      // false: unreachable / Consul check critical
  std::string consul_node;  // empty without Consul
  // Consul's verdict: its check is critical (or in maintenance). Routing
  // avoids such members; placement still counts them (docs/cache.md, "Placement").
  bool critical = false;
  std::string consul_health;  // "passing", "warning", ...; empty without Consul
};

// A consistent snapshot: members sorted by node id, and a generation that
// changes whenever the set or any member's health/node id changes.
struct MemberSet {
  uint64_t generation = 0;
  std::vector<Member> members;
  // The cluster's `replicas` setting (Consul KV <prefix>/config/replicas),
  // 0 when it is not set (or not valid) or there is no Consul.
  uint32_t replicas = 0;
};

class Membership {
 public:
  virtual ~Membership() = default;
  virtual MemberSet Snapshot() = 0;
  // Re-checks members that are unhealthy (may block up to a deadline).
  virtual void Refresh() = 0;
  using Listener = std::function<void(uint64_t generation)>;
  virtual void Subscribe(Listener listener) = 0;
};

// Asks a worker for its node id (a PING); used by StaticMembership.
using PingFn = std::function<std::vector<Result<std::string>>(
    const std::vector<std::string>& endpoints)>;

// A fixed list of endpoints. Node ids are learned by PING at construction;
// workers that do not answer stay in the set, unhealthy, named by endpoint,
// and are pinged again by Refresh, which a background thread calls every
// `retry` while any member is unhealthy (retry 0: no thread).
class StaticMembership : public Membership {
 public:
  StaticMembership(std::vector<std::string> endpoints, PingFn ping,
                   std::chrono::milliseconds retry = std::chrono::milliseconds(1000));
  ~StaticMembership() override;
  MemberSet Snapshot() override;
  void Refresh() override;
  void Subscribe(Listener listener) override;
  // Marks an endpoint unhealthy/healthy after a failed/successful request.
  void ReportHealth(const std::string& endpoint, bool healthy);

 private:
  void Publish(uint64_t generation);

  const PingFn ping_;
  // Lock order: refresh_mu_ before mu_. mu_ is never held while pinging or
  // while calling listeners.
  std::mutex refresh_mu_;
  std::mutex mu_;
  MemberSet set_;                    // guarded by mu_
  std::vector<Listener> listeners_;  // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  std::condition_variable stop_cv_;  // with mu_
  std::thread retry_thread_;
};

// Splits "tcp://a:1,tcp://b:2" (commas, spaces allowed) into endpoints;
// kInvalidArgument names an entry that is not a ZeroMQ endpoint.
// CheckEndpoint: one endpoint: SCHEME://ADDRESS, and for tcp:// a
// HOST:PORT with a port of 1 to 65535.
Status CheckEndpoint(std::string_view endpoint);
Result<std::vector<std::string>> ParseWorkerList(std::string_view text);

}  // namespace shovel::client
