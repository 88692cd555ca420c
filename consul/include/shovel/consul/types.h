// Value types of the Consul API as the shovel_consul Client sees them:
// service registrations, health entries, KV pairs, sessions, query options.
// Plain structs; thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/consul/http_transport.h"
#include "shovel/status.h"

namespace shovel::consul {

// Ordered from best to worst, so the aggregate of several is the max.
enum class CheckStatus { kPassing = 0, kWarning = 1, kCritical = 2, kMaintenance = 3 };

std::string_view CheckStatusName(CheckStatus status);  // "passing", ...
// kProtocol for anything but passing/warning/critical/maintenance.
Result<CheckStatus> ParseCheckStatus(std::string_view name);

// A TTL check attached to a service registration.
struct TtlCheck {
  std::string id;    // default "service:<service id>"
  std::string name;  // default "Service '<name>' check"
  std::chrono::milliseconds ttl{10000};
  // When > 0: Consul removes the service after its check has been critical
  // this long (Consul's reaper may take up to ~30 s more; the test agent
  // reacts within 100 ms).
  std::chrono::milliseconds deregister_critical_after{0};
  CheckStatus initial_status = CheckStatus::kPassing;
  std::string notes;
};

struct ServiceRegistration {
  std::string id;       // unique on the agent; default: name
  std::string name;     // the service name clients look up
  std::string address;  // empty: the agent node's address
  int port = 0;
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
  std::optional<TtlCheck> check;
};

// One service as /v1/agent/services shows it.
struct AgentService {
  std::string id;
  std::string name;
  std::string address;
  int port = 0;
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
};

struct AgentSelf {
  std::string node_name;    // Config.NodeName
  std::string datacenter;   // Config.Datacenter
  std::string member_addr;  // Member.Addr (gossip address)
};

struct HealthCheck {
  std::string node;
  std::string check_id;
  std::string name;
  CheckStatus status = CheckStatus::kCritical;
  std::string output;
  std::string service_id;  // empty for node checks (serfHealth)
};

// One entry of /v1/health/service/:name.
struct HealthEntry {
  std::string node;          // Node.Node
  std::string node_address;  // Node.Address
  AgentService service;
  std::vector<HealthCheck> checks;
  CheckStatus aggregated = CheckStatus::kPassing;  // worst of `checks`

  // service.address, or the node address when the service has none.
  const std::string& Host() const {
    return service.address.empty() ? node_address : service.address;
  }
};

struct KvPair {
  std::string key;
  std::string value;  // decoded bytes
  uint64_t flags = 0;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  uint64_t lock_index = 0;
  std::string session;  // holder of the lock, if any
};

struct KvPutOptions {
  std::optional<uint64_t> cas;  // 0: only if absent; N: only if ModifyIndex == N
  std::optional<uint64_t> flags;
  std::string acquire;  // session id: take the lock
  std::string release;  // session id: give the lock up
};

struct KvDeleteOptions {
  bool recurse = false;  // every key with this prefix
  std::optional<uint64_t> cas;
};

struct SessionOptions {
  std::string name;
  std::chrono::milliseconds ttl{0};  // 0: no TTL; Consul takes 10 s .. 24 h
  std::string behavior = "release";  // or "delete"
  std::chrono::milliseconds lock_delay{15000};
  std::string node;  // default: the agent's node
  // Node checks the session depends on; Consul defaults to ["serfHealth"].
  std::optional<std::vector<std::string>> node_checks;
};

struct SessionInfo {
  std::string id;
  std::string name;
  std::string node;
  std::string ttl;  // as Consul reports it, e.g. "15s"
  std::string behavior;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
};

// Options of a read. index > 0 makes it a blocking query: Consul answers
// when the result's index passes `index` or after `wait` (+ up to wait/16).
struct QueryOptions {
  uint64_t index = 0;
  std::chrono::milliseconds wait{0};  // 0: Consul's default (5 min)
  const CancelToken* cancel = nullptr;
};

// A read's value with the X-Consul-Index it was read at.
template <typename T>
struct Indexed {
  T value;
  uint64_t index = 0;
};

}  // namespace shovel::consul
