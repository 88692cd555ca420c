// From shovel-worker's Consul flags to a running ConsulAgentLink: flag
// resolution (which agent, which token, durations), the advertised address,
// and the wiring to a Worker. Pure functions except StartConsulLink.
// Thread-compatible.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "shovel/consul/config.h"
#include "shovel/status.h"
#include "shovel/worker/consul_agent_link.h"
#include "shovel/worker/worker.h"

namespace shovel::worker {

// The flags as typed.
struct ConsulFlags {
  // "": no Consul (even when CONSUL_HTTP_ADDR is set: registering a process
  // in a service catalog is never implicit). "env": CONSUL_HTTP_ADDR.
  // Anything else: the agent address (host:port, http[s]://, unix://).
  std::string consul;
  std::string advertise;  // "": the listen host, or the hostname for 0.0.0.0
  std::string service_name = "shoveling";
  std::string kv_prefix = "shoveling";
  std::string ttl = "10s";
  std::string heartbeat;  // "": ttl / 3
  std::string deregister_after = "1m";
  std::string retry_max = "5s";
};

struct ConsulSetup {
  bool enabled = false;
  consul::Config config;
  ConsulFlags flags;
  std::chrono::milliseconds ttl{10000}, heartbeat{0}, deregister_after{60000},
      retry_max{5000};
  std::string hint;      // a line worth logging (e.g. CONSUL_HTTP_ADDR ignored)
  int metrics_port = 0;  // advertised in Meta when > 0 (set by main)
};

// Validates the flags; kInvalidArgument names the flag. CONSUL_HTTP_TOKEN /
// CONSUL_HTTP_TOKEN_FILE are read in every case (as Consul's tools do).
Result<ConsulSetup> ResolveConsulFlags(const ConsulFlags& flags,
                                       const consul::Config::Getenv& getenv);

// The host to advertise for a bound ZeroMQ endpoint "tcp://HOST:PORT":
// HOST itself, or `hostname` when HOST is a wildcard (0.0.0.0, *, ::).
std::string DefaultAdvertiseHost(std::string_view endpoint, std::string_view hostname);
// PORT of "tcp://HOST:PORT"; 0 when there is none.
int EndpointPort(std::string_view endpoint);

// Creates the Consul client and starts the link for `worker` (which must
// outlive the link): registration, heartbeat, live config into
// worker.ApplyConfig, peers. kInvalidArgument for bad settings.
Result<std::unique_ptr<ConsulAgentLink>> StartConsulLink(const ConsulSetup& setup,
                                                         Worker& worker,
                                                         ConsulAgentLink::LogFn log);

// "tcp://HOST:PORT" ("[HOST]" for an IPv6 address).
std::string AdvertisedEndpoint(const std::string& host, int port);

// What a worker joins a Consul cluster by (Worker::Join), read before it
// registers: the registered workers Consul does not have as critical, and
// itself at the endpoint it will advertise, with the cluster's `replicas`
// (KV; unset or bad: 1). kUnavailable (and the like) when Consul is away.
Result<wire::HandoverBody> JoinBody(const ConsulSetup& setup, const Worker& self);

// What a worker registered in Consul leaves by (Worker::Leave): the peers
// Consul does not have as critical, `self` among them, with `replicas`
// copies (the cluster setting; 0: the most copies a client asked `self`
// for).
wire::HandoverBody LeaveBody(const Worker& self, const std::vector<Peer>& peers,
                             uint32_t replicas);

}  // namespace shovel::worker
