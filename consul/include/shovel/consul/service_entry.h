// How a shoveling worker appears in Consul's catalog, read the same way by
// the worker (its peers) and the client (its membership): the ZeroMQ
// endpoint is tcp://<service address or node address>:<port>, the node id
// is Meta "node_id" (else the service id). Pure functions; thread-safe.
#pragma once

#include <string>

#include "shovel/consul/types.h"

namespace shovel::consul {

// "tcp://HOST:PORT" (an IPv6 HOST in brackets).
std::string ServiceEndpoint(const HealthEntry& entry);
// Meta node_id, else the service id.
std::string ServiceNodeId(const HealthEntry& entry);

}  // namespace shovel::consul
