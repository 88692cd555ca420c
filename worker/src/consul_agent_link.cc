#include "shovel/worker/consul_agent_link.h"

#include <algorithm>
#include <utility>

#include "shovel/consul/service_entry.h"
#include "shovel/size.h"

namespace shovel::worker {
namespace {

using consul::CheckStatus;
using std::chrono::milliseconds;

std::string Describe(const WorkerConfig& c) {
  return "max-memory " + FormatSize(c.max_memory) + ", compression-level " +
         std::to_string(c.compression_level) + ", chunk-size " +
         FormatSize(c.chunk_size) + ", eviction " + (c.eviction ? "on" : "off") +
         ", handover-rate " + FormatSize(c.handover_rate) + "/s, decoded-cache " +
         (c.decoded_cache_percent > 0 ? std::to_string(c.decoded_cache_percent) + "%"
                                      : FormatSize(c.decoded_cache_bytes));
}

bool SameConfig(const WorkerConfig& a, const WorkerConfig& b) {
  return a.max_memory == b.max_memory && a.compression_level == b.compression_level &&
         a.chunk_size == b.chunk_size && a.eviction == b.eviction &&
         a.handover_rate == b.handover_rate &&
         a.decoded_cache_percent == b.decoded_cache_percent &&
         a.decoded_cache_bytes == b.decoded_cache_bytes;
}

std::string PeersLine(const std::vector<Peer>& peers) {
  std::string out;
  for (const auto& p : peers) {
    if (!out.empty()) out += ", ";
    out += p.node_id + " " + std::string(consul::CheckStatusName(p.status));
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Result<std::unique_ptr<ConsulAgentLink>> ConsulAgentLink::Start(
    std::shared_ptr<consul::Client> client, ConsulLinkOptions o, ApplyFn apply,
    LogFn log) {
  if (o.node_id.empty())
    return Status::InvalidArgument("consul: the worker needs a node id");
  if (o.port <= 0 || o.port > 65535) {
    return Status::InvalidArgument("consul: the advertised port must be 1..65535");
  }
  if (o.heartbeat.count() <= 0) o.heartbeat = o.ttl / 3;
  if (o.ttl < milliseconds(100) || o.heartbeat >= o.ttl) {
    return Status::InvalidArgument(
        "consul-ttl must be at least 100ms and longer than the heartbeat interval");
  }
  std::unique_ptr<ConsulAgentLink> link(new ConsulAgentLink(
      std::move(client), std::move(o), std::move(apply), std::move(log)));
  ConsulAgentLink* self = link.get();
  consul::WatchOptions wo;
  wo.wait = self->options_.watch_wait;
  wo.backoff_max = self->options_.retry_max;
  auto kv_watch = [self, wo](bool node_layer) {
    std::string prefix =
        node_layer ? NodeConfigPrefix(self->options_.node_id, self->options_.kv_prefix)
                   : ClusterConfigPrefix(self->options_.kv_prefix);
    return consul::MakeWatch<std::vector<consul::KvPair>>(
        [self, prefix](const consul::QueryOptions& q) {
          return self->client_->KvList(prefix, q);
        },
        [self, node_layer](const std::vector<consul::KvPair>& pairs, uint64_t) {
          self->OnKv(node_layer, pairs);
        },
        [self, prefix](const Status& s) { self->ReportDown("watching " + prefix, s); },
        wo);
  };
  link->cluster_watch_ = kv_watch(false);
  link->node_watch_ = kv_watch(true);
  link->health_watch_ = consul::MakeWatch<std::vector<consul::HealthEntry>>(
      [self](const consul::QueryOptions& q) {
        return self->client_->HealthService(self->options_.service_name, false, q);
      },
      [self](const std::vector<consul::HealthEntry>& e, uint64_t) { self->OnHealth(e); },
      [self](const Status& s) { self->ReportDown("watching the peers", s); }, wo);
  link->heartbeat_ = std::thread([self] { self->HeartbeatLoop(); });
  link->cluster_watch_->Start();
  link->node_watch_->Start();
  link->health_watch_->Start();
  return link;
}

ConsulAgentLink::ConsulAgentLink(std::shared_ptr<consul::Client> client,
                                 ConsulLinkOptions options, ApplyFn apply, LogFn log)
    : client_(std::move(client)),
      options_(std::move(options)),
      service_id_(options_.service_name + "-" + options_.node_id),
      apply_(std::move(apply)),
      log_(std::move(log)),
      applied_(options_.flags) {}

ConsulAgentLink::~ConsulAgentLink() { Stop(false); }

void ConsulAgentLink::Stop(bool deregister) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (cluster_watch_) cluster_watch_->Stop();
  if (node_watch_) node_watch_->Stop();
  if (health_watch_) health_watch_->Stop();
  if (heartbeat_.joinable()) heartbeat_.join();
  if (!deregister) return;
  Status s = client_->DeregisterService(service_id_);
  if (s.ok()) {
    log_(log::Level::kInfo, "consul: deregistered " + service_id_);
  } else {
    log_(log::Level::kWarn,
         "consul: could not deregister " + service_id_ + " (" + s.ToString() +
             "); Consul removes it after its check has been critical for " +
             consul::WaitParam(options_.deregister_after));
  }
}

bool ConsulAgentLink::registered() const {
  std::lock_guard<std::mutex> l(mu_);
  return registered_;
}

std::vector<Peer> ConsulAgentLink::Peers() const {
  std::lock_guard<std::mutex> l(mu_);
  return peers_;
}

uint32_t ConsulAgentLink::replicas() const {
  std::lock_guard<std::mutex> l(mu_);
  if (node_.overrides.replicas) return *node_.overrides.replicas;
  return cluster_.overrides.replicas.value_or(0);
}

WorkerConfig ConsulAgentLink::config() const {
  std::lock_guard<std::mutex> l(mu_);
  return applied_;
}

consul::ServiceRegistration ConsulAgentLink::Registration() const {
  consul::ServiceRegistration r;
  r.id = service_id_;
  r.name = options_.service_name;
  r.address = options_.advertise_host;
  r.port = options_.port;
  uint64_t max_memory;
  {
    std::lock_guard<std::mutex> l(mu_);
    max_memory = applied_.max_memory;
  }
  r.meta = {{"node_id", options_.node_id},
            {"cores", std::to_string(options_.cores)},
            {"max_memory", std::to_string(max_memory)},
            {"version", options_.version},
            {"endpoint", options_.endpoint}};
  // Prometheus's consul_sd finds the scrape port here (docs/operations.md).
  if (options_.metrics_port > 0) {
    r.meta["metrics_port"] = std::to_string(options_.metrics_port);
  }
  if (!options_.curve_key.empty()) r.meta["curve_key"] = options_.curve_key;
  consul::TtlCheck check;
  check.id = check_id();
  check.name = "shoveling worker " + options_.node_id + " heartbeat";
  check.ttl = options_.ttl;
  check.deregister_critical_after = options_.deregister_after;
  check.initial_status = CheckStatus::kPassing;
  check.notes =
      "TTL check: the worker passes it every " + consul::WaitParam(options_.heartbeat);
  r.check = std::move(check);
  return r;
}

void ConsulAgentLink::HeartbeatLoop() {
  bool need_register = true;
  milliseconds backoff(250);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (need_register || meta_dirty_) {
      meta_dirty_ = false;
      lock.unlock();
      Status s = client_->RegisterService(Registration());
      lock.lock();
      if (!s.ok()) {
        registered_ = false;
        lock.unlock();
        ReportDown("registering " + service_id_, s);
        lock.lock();
        meta_dirty_ = true;
        cv_.wait_for(lock, backoff, [&] { return stopping_; });
        backoff = std::min(backoff * 2, options_.retry_max);
        continue;
      }
      bool was_registered = registered_;
      registered_ = true;
      need_register = false;
      backoff = milliseconds(250);
      lock.unlock();
      ReportUp();
      if (!was_registered) {
        log_(log::Level::kInfo, "consul: registered " + service_id_ + " (" +
                                    options_.endpoint + ") with agent " +
                                    client_->config().address + ", TTL " +
                                    consul::WaitParam(options_.ttl));
      }
      lock.lock();
    }
    cv_.wait_for(lock, options_.heartbeat, [&] { return stopping_ || meta_dirty_; });
    if (stopping_ || meta_dirty_) continue;
    lock.unlock();
    Status s = client_->PassTtl(check_id());
    lock.lock();
    if (s.ok()) continue;
    // Whatever went wrong (agent away, or back without our check after a
    // restart), registering again is the cure; it is idempotent.
    need_register = true;
    registered_ = false;
    lock.unlock();
    if (s.IsNotFound() || s.message().find("nknown check") != std::string::npos ||
        s.message().find("does not have associated TTL") != std::string::npos) {
      log_(log::Level::kWarn, "consul: agent does not know check " + check_id() +
                                  " (agent restarted?); registering again");
    } else {
      ReportDown("heartbeat", s);
    }
    lock.lock();
  }
}

void ConsulAgentLink::ReportDown(const std::string& what, const Status& s) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (down_ || stopping_) return;
    down_ = true;
  }
  log_(log::Level::kWarn,
       "consul: " + what + " failed: " + s.ToString() +
           "; the worker keeps serving and retries with backoff (logged once until the "
           "agent answers again)");
}

void ConsulAgentLink::ReportUp() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!down_) return;
    down_ = false;
  }
  log_(log::Level::kInfo,
       "consul: agent " + client_->config().address + " answers again");
}

void ConsulAgentLink::OnKv(bool node_layer, const std::vector<consul::KvPair>& pairs) {
  std::string prefix = node_layer ? NodeConfigPrefix(options_.node_id, options_.kv_prefix)
                                  : ClusterConfigPrefix(options_.kv_prefix);
  std::map<std::string, std::string> listing;
  for (const auto& p : pairs) {
    if (!p.key.starts_with(prefix) || p.key.size() == prefix.size()) continue;
    listing[p.key.substr(prefix.size())] = p.value;
  }
  std::lock_guard<std::mutex> apply_lock(apply_mu_);
  std::vector<std::string> messages;
  WorkerConfig next;
  bool changed = false, memory_changed = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    messages = UpdateLayer(node_layer ? node_ : cluster_, listing, prefix);
    next = MergeConfig(options_.flags, cluster_.overrides, node_.overrides);
    changed = !SameConfig(next, applied_);
    memory_changed = next.max_memory != applied_.max_memory;
    applied_ = next;
  }
  for (const auto& m : messages) log_(log::Level::kWarn, "consul: " + m);
  if (!changed) return;
  apply_(next);
  log_(log::Level::kInfo, "consul: applied config from KV: " + Describe(next));
  if (memory_changed) {
    {
      std::lock_guard<std::mutex> l(mu_);
      meta_dirty_ = true;  // Meta max_memory follows the live limit
    }
    cv_.notify_all();
  }
}

void ConsulAgentLink::OnHealth(const std::vector<consul::HealthEntry>& entries) {
  std::vector<Peer> peers = PeersOf(entries);
  bool changed;
  {
    std::lock_guard<std::mutex> l(mu_);
    changed = PeersLine(peers) != PeersLine(peers_);
    peers_ = peers;
  }
  if (changed) log_(log::Level::kInfo, "consul: peers: " + PeersLine(peers));
  if (options_.peer_key) {
    for (const auto& p : peers) {
      if (p.curve_key.empty()) continue;
      std::string before;
      {
        std::lock_guard<std::mutex> l(mu_);
        before = std::exchange(peer_keys_[p.endpoint], p.curve_key);
      }
      // A restarted peer with a new key pair (docs/security.md, Key
      // rotation): from here on it is reached with the new key.
      if (!before.empty() && before != p.curve_key && p.endpoint != options_.endpoint) {
        log_(log::Level::kInfo, "consul: peer " + p.node_id + " (" + p.endpoint +
                                    ") has a new CURVE key " + p.curve_key);
      }
      options_.peer_key(p.endpoint, p.curve_key);
    }
  }
}

}  // namespace shovel::worker
