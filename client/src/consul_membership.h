// ConsulMembership: the workers registered in Consul under a service name,
// followed with a blocking watch on /v1/health/service/<name> (every entry,
// passing or not: the placement set is the registered workers; members whose
// check is critical are marked so routing avoids them).
//
// It also follows the cluster-wide `replicas` setting, the KV key
// <kv_prefix>/config/replicas (MemberSet::replicas; a change is a new
// generation).
//
// When Consul cannot be reached the last known membership stays in force;
// the watch retries with backoff and the outage is logged once (and its end
// once). ConsulDistance answers network distances from Consul's coordinates.
//
// Thread-safety: both classes are thread-safe. Listener callbacks run on the
// watch thread. Ownership: the membership owns its watch thread; Stop (or
// the destructor) ends it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client_impl.h"
#include "membership.h"
#include "shovel/consul/client.h"
#include "shovel/consul/watch.h"

namespace shovel::client {

class CurveKeys;

// Members from health entries (node id from Meta node_id, endpoint from the
// service address/port), sorted by node id.
std::vector<Member> MembersFromHealth(const std::vector<consul::HealthEntry>& entries);

class ConsulMembership : public Membership {
 public:
  struct Options {
    std::string service_name = "shoveling";
    std::string kv_prefix = "shoveling";
    std::chrono::milliseconds wait{std::chrono::minutes(5)};  // per blocking query
    std::chrono::milliseconds backoff_max{std::chrono::seconds(5)};
    // Given each worker's Meta curve_key (its CURVE public key); may be null.
    std::shared_ptr<CurveKeys> curve;
  };
  using LogFn = std::function<void(const std::string&)>;

  // Reads the membership once (kUnavailable naming the agent when Consul
  // cannot be reached), then starts the watch.
  static Result<std::shared_ptr<ConsulMembership>> Start(
      std::shared_ptr<consul::Client> client, Options options, LogFn log);
  ~ConsulMembership() override;

  MemberSet Snapshot() override;
  void Refresh() override {}  // the watch keeps the set fresh
  void Subscribe(Listener listener) override;

 private:
  ConsulMembership(std::shared_ptr<consul::Client> client, Options options, LogFn log);
  Result<consul::Indexed<std::vector<consul::HealthEntry>>> Read(
      const consul::QueryOptions& q);
  void Update(const std::vector<consul::HealthEntry>& entries);
  void UpdateReplicas(const std::optional<consul::KvPair>& pair);

  const std::shared_ptr<consul::Client> client_;
  const Options options_;
  const LogFn log_;
  // mu_ is a leaf: never held while calling listeners or Consul.
  std::mutex mu_;
  MemberSet set_;                    // guarded by mu_
  std::vector<Listener> listeners_;  // guarded by mu_
  bool down_ = false;                // guarded by mu_: an outage was logged
  std::string bad_replicas_;         // guarded by mu_: the bad value last logged
  std::unique_ptr<consul::Watch> watch_;
  std::unique_ptr<consul::Watch> replicas_watch_;
};

// The KV value of `replicas`: a whole number of copies from 1 to
// ClientOptions::kMaxReplicas. kInvalidArgument naming the value otherwise.
Result<uint32_t> ParseReplicasSetting(std::string_view value);

// RTTs between workers (through their Consul nodes) from /v1/coordinate/nodes,
// with Serf's formula (consul/coordinate.h). Reads coordinates on each call
// (one request to the local agent).
class ConsulDistance : public DistanceOracle {
 public:
  ConsulDistance(std::shared_ptr<consul::Client> client,
                 const std::shared_ptr<Membership>& membership);  // kept as a weak_ptr
  std::optional<double> RttMs(std::string_view from_node,
                              std::string_view to_node) override;
  std::optional<double> RttFromCallerMs(std::string_view to_node) override;

 private:
  std::optional<double> BetweenConsulNodes(const std::string& a, const std::string& b);
  std::string ConsulNodeOf(std::string_view node_id);

  const std::shared_ptr<consul::Client> client_;
  const std::weak_ptr<Membership> membership_;  // the client owns it
  std::mutex mu_;
  std::string self_node_;  // guarded by mu_: the caller's agent node, once known
};

}  // namespace shovel::client
