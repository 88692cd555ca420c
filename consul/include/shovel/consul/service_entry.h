// How a shoveling worker appears in Consul's catalog, read the same way by
// the worker (its peers) and the client (its membership): the ZeroMQ
// endpoint is tcp://<service address or node address>:<port>, the node id
// is Meta "node_id" (else the service id). Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "shovel/consul/types.h"

namespace shovel::consul {

// "tcp://HOST:PORT" (an IPv6 HOST in brackets).
std::string ServiceEndpoint(const HealthEntry& entry);
// Meta node_id, else the service id.
std::string ServiceNodeId(const HealthEntry& entry);

// One worker as its health entry describes it.
struct WorkerEntry {
  std::string node_id;                          // ServiceNodeId
  std::string endpoint;                         // ServiceEndpoint
  std::string consul_node;                      // the agent node it is registered on
  CheckStatus status = CheckStatus::kCritical;  // aggregated over its checks
  std::string curve_key;  // Meta curve_key (its CURVE public key); empty if none
};

// The workers of a service's health entries, sorted by node id, then
// endpoint: the one mapping the client's membership and the worker's peer
// list share.
std::vector<WorkerEntry> WorkersOf(const std::vector<HealthEntry>& entries);

}  // namespace shovel::consul
