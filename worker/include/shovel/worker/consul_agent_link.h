// ConsulAgentLink: a worker's presence in Consul.
//
// - Registers the worker as a service (unique id "<service>-<node id>", the
//   advertised address and port of its ZeroMQ endpoint, Meta node_id, cores,
//   max_memory, version, endpoint, metrics_port) with a TTL check created passing and
//   DeregisterCriticalServiceAfter; heartbeats the check every `heartbeat`.
//   Any failed heartbeat (agent away, or restarted and answering "unknown
//   check") makes the next round register again, so a restarted agent
//   learns the worker back by itself. Consul away: the worker keeps serving;
//   retries back off up to `retry_max`; the outage is logged once, and again
//   when the agent is back.
// - Watches the worker's KV configuration with blocking queries (cluster-wide
//   prefix and the per-node prefix, kv_config.h), merges flags < cluster <
//   node and hands every new effective config to `apply`. Bad values are
//   logged with their key and ignored (the last good value stays).
// - Watches the service's health entries: the peers (every registered
//   worker with its check status), for worker-to-worker transfers.
//
// Thread-safety: all public methods are thread-safe. Callbacks (`apply`,
// `log`) run on the link's threads, never two `apply` at once; they must not
// call Stop(). Ownership: the link owns its threads and watches; Stop() (or
// the destructor) ends them and, if asked, deregisters.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shovel/consul/client.h"
#include "shovel/consul/service_entry.h"
#include "shovel/consul/watch.h"
#include "shovel/log.h"
#include "shovel/status.h"
#include "shovel/worker/config.h"
#include "shovel/worker/kv_config.h"

namespace shovel::worker {

struct ConsulLinkOptions {
  std::string service_name = "shoveling";
  std::string kv_prefix = std::string(kDefaultKvPrefix);
  std::string node_id;
  std::string advertise_host;  // Address in the registration
  int port = 0;                // Port in the registration
  std::string endpoint;        // Meta endpoint, tcp://advertise:port
  uint32_t cores = 0;
  std::string version;
  int metrics_port = 0;   // Meta metrics_port when > 0 (--metrics-listen)
  std::string curve_key;  // Meta curve_key: the worker's CURVE public key, if any
  // Given each peer's Meta curve_key (endpoint, key) when the peers change,
  // for the worker's connections to them (Worker::SetPeerKey); may be null.
  std::function<void(const std::string&, const std::string&)> peer_key;
  WorkerConfig flags;  // the configuration the flags gave (lowest layer)
  std::chrono::milliseconds ttl{10000};
  std::chrono::milliseconds heartbeat{0};  // 0: ttl / 3
  std::chrono::milliseconds deregister_after{60000};
  std::chrono::milliseconds retry_max{5000};
  std::chrono::milliseconds watch_wait{std::chrono::minutes(5)};
};

// A peer worker as Consul lists it; PeersOf is consul::WorkersOf (sorted by
// node id), the mapping the client's membership uses too.
using Peer = consul::WorkerEntry;
inline std::vector<Peer> PeersOf(const std::vector<consul::HealthEntry>& entries) {
  return consul::WorkersOf(entries);
}

class ConsulAgentLink {
 public:
  using ApplyFn = std::function<void(const WorkerConfig&)>;
  using LogFn = shovel::log::LogFn;

  // Starts the threads at once and returns; registration and the first KV
  // read happen in the background (Consul may be away). kInvalidArgument for
  // options that cannot work (no node id, port, ttl <= heartbeat).
  static Result<std::unique_ptr<ConsulAgentLink>> Start(
      std::shared_ptr<consul::Client> client, ConsulLinkOptions options, ApplyFn apply,
      LogFn log);
  ~ConsulAgentLink();  // Stop(/*deregister=*/false)
  ConsulAgentLink(const ConsulAgentLink&) = delete;
  ConsulAgentLink& operator=(const ConsulAgentLink&) = delete;

  // Ends the watches and the heartbeat; with `deregister`, removes the
  // service from the agent (bounded by the client's request timeout).
  // Idempotent.
  void Stop(bool deregister);

  const std::string& service_id() const { return service_id_; }
  std::string check_id() const { return "service:" + service_id_; }
  bool registered() const;
  std::vector<Peer> Peers() const;
  WorkerConfig config() const;  // the effective config last applied
  // The cluster's `replicas` setting (KV; the node layer wins); 0: unset.
  uint32_t replicas() const;

 private:
  ConsulAgentLink(std::shared_ptr<consul::Client> client, ConsulLinkOptions options,
                  ApplyFn apply, LogFn log);
  consul::ServiceRegistration Registration() const;
  void HeartbeatLoop();
  // Logs the first failure of an outage (once); `what` names the call.
  void ReportDown(const std::string& what, const Status& s);
  void ReportUp();
  void OnKv(bool node_layer, const std::vector<consul::KvPair>& pairs);
  void OnHealth(const std::vector<consul::HealthEntry>& entries);

  const std::shared_ptr<consul::Client> client_;
  const ConsulLinkOptions options_;
  const std::string service_id_;
  const ApplyFn apply_;
  const LogFn log_;

  // Lock order: apply_mu_ before mu_. Neither is held during HTTP requests;
  // apply_mu_ is held while `apply_` runs (so applies never interleave).
  std::mutex apply_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // with mu_: wakes the heartbeat loop
  bool stopping_ = false;       // guarded by mu_
  bool registered_ = false;     // guarded by mu_
  bool down_ = false;           // guarded by mu_: an outage was logged
  bool meta_dirty_ = false;     // guarded by mu_: re-register with new Meta
  ConfigLayer cluster_, node_;  // guarded by mu_
  WorkerConfig applied_;        // guarded by mu_
  std::vector<Peer> peers_;     // guarded by mu_
  // Each peer's Meta curve_key as last given to peer_key; guarded by mu_.
  std::map<std::string, std::string> peer_keys_;

  std::unique_ptr<consul::Watch> cluster_watch_, node_watch_, health_watch_;
  std::thread heartbeat_;
};

}  // namespace shovel::worker
