// Client::Connect: builds the object graph (transport, membership, client).
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "client_impl.h"
#include "consul_membership.h"
#include "curve_keys.h"
#include "local_transport.h"
#include "reachability.h"
#include "shovel/alloc.h"
#include "shovel/consul/config.h"
#include "zmq_transport.h"

namespace shovel {
namespace {

std::optional<std::string> Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>(v) : std::nullopt;
}

// Membership and distances from the Consul agent at `address`.
Status ConnectConsul(const ClientOptions& options, client::ClientDeps& deps) {
  // The explicit address wins; the environment still gives the token.
  auto config = consul::Config::FromEnvironment([](const char* name) {
    return std::string_view(name) == "CONSUL_HTTP_ADDR" ? std::nullopt : Getenv(name);
  });
  if (!config.ok()) return config.status();
  config->address = options.consul_addr;
  auto consul_client = consul::Client::Create(*config);
  if (!consul_client.ok()) return consul_client.status();
  std::shared_ptr<consul::Client> c(std::move(*consul_client));
  client::ConsulMembership::Options mo;
  mo.curve = deps.curve;
  mo.service_name = options.service_name.empty() ? "shoveling" : options.service_name;
  if (!options.kv_prefix.empty()) mo.kv_prefix = options.kv_prefix;
  auto log = [](const std::string& line) {
    std::cerr << "shovel: " << line << std::endl;
  };
  SHOVEL_ASSIGN_OR_RETURN(auto membership, client::ConsulMembership::Start(c, mo, log));
  deps.distance = std::make_shared<client::ConsulDistance>(c, membership);
  deps.membership = std::move(membership);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options_in) {
  ClientOptions options = options_in;
  if (options.tune_allocator) KeepLargeBuffersWarm();
  if (options.stream_chunk == 0) options.stream_chunk = 4ull << 20;
  if (options.stream_chunk > (32ull << 20)) options.stream_chunk = 32ull << 20;
  if (options.deadline.count() <= 0) {
    return Status::InvalidArgument("deadline must be positive");
  }
  for (const auto& w : options.local_workers) {
    if (w.endpoint.empty()) {
      return Status::InvalidArgument("local_workers: an entry has no endpoint");
    }
    if (!w.serve) {
      return Status::InvalidArgument("local_workers: '" + w.endpoint +
                                     "' has no serve function (use Worker::LocalServe)");
    }
  }
  std::vector<std::string> endpoints = options.workers;
  if (endpoints.empty() && options.consul_addr.empty()) {
    for (const auto& w : options.local_workers) endpoints.push_back(w.endpoint);
  }
  if (endpoints.empty() && options.consul_addr.empty()) {
    if (const char* env = std::getenv("SHOVEL_WORKERS"); env && *env) {
      SHOVEL_ASSIGN_OR_RETURN(endpoints, client::ParseWorkerList(env));
    } else if (const char* c = std::getenv("CONSUL_HTTP_ADDR"); c && *c) {
      options.consul_addr = c;
    }
  }
  if (endpoints.empty() && options.consul_addr.empty()) {
    return Status::InvalidArgument(
        "no workers given: pass --workers tcp://HOST:PORT,... or --consul URL, or set "
        "SHOVEL_WORKERS or CONSUL_HTTP_ADDR");
  }
  for (const auto& e : endpoints) SHOVEL_RETURN_IF_ERROR(client::CheckEndpoint(e));
  if (options.check_reachable && !endpoints.empty()) {
    SHOVEL_RETURN_IF_ERROR(client::CheckAnyReachable(
        endpoints, std::min(options.deadline, std::chrono::milliseconds(1000))));
  }
  // Left 0 when neither the caller nor SHOVEL_REPLICAS sets it: the
  // cluster's setting (Consul KV) applies, else kDefaultReplicas.
  if (options.replicas == 0) {
    if (const char* env = std::getenv("SHOVEL_REPLICAS"); env && *env) {
      char* end = nullptr;
      unsigned long n = std::strtoul(env, &end, 10);
      if (*end != '\0' || n == 0 || n > ClientOptions::kMaxReplicas) {
        return Status::InvalidArgument("SHOVEL_REPLICAS='" + std::string(env) +
                                       "' is not a number of copies from 1 to " +
                                       std::to_string(ClientOptions::kMaxReplicas));
      }
      options.replicas = static_cast<uint32_t>(n);
    }
  }
  if (options.replicas > ClientOptions::kMaxReplicas) {
    return Status::InvalidArgument("replicas must be 1 to " +
                                   std::to_string(ClientOptions::kMaxReplicas) +
                                   ", not " + std::to_string(options.replicas));
  }
  if (options.io_threads < 1 || options.io_threads > 16) {
    return Status::InvalidArgument("io_threads must be 1 to 16, not " +
                                   std::to_string(options.io_threads));
  }
  client::ClientDeps deps;
  client::ZmqTransportOptions zo;
  zo.io_threads = options.io_threads;
  SHOVEL_ASSIGN_OR_RETURN(
      zo.curve, client::LoadCurveKeys(options.key_file, options.worker_key,
                                      endpoints.empty(), options.keys_from_environment));
  deps.curve = zo.curve;
  deps.transport = client::NewZmqTransport(zo);
  if (!options.local_workers.empty()) {
    deps.transport =
        client::NewLocalTransport(std::move(deps.transport), options.local_workers);
  }
  if (endpoints.empty()) {
    SHOVEL_RETURN_IF_ERROR(
        ConnectConsul(options, deps).WithContext("Consul at " + options.consul_addr));
    deps.options = std::move(options);
    return std::unique_ptr<Client>(new client::ClientImpl(std::move(deps)));
  }
  client::Transport* transport = deps.transport.get();
  // A worker that does not answer its first PING within a second stays a
  // member (pinged again every second) and is routed around meanwhile, so
  // a client started while a worker is dead does not wait a whole deadline.
  const auto deadline = std::min(options.deadline, std::chrono::milliseconds(1000));
  auto ping = [transport, deadline](const std::vector<std::string>& eps) {
    std::vector<std::pair<std::string, client::OutRequest>> reqs;
    for (const auto& e : eps) {
      client::OutRequest r;
      r.header.op = wire::Op::kPing;
      r.deadline = deadline;
      r.idempotent = true;
      reqs.emplace_back(e, r);
    }
    std::vector<Result<std::string>> out;
    for (auto& r : transport->CallMany(reqs)) {
      if (!r.ok()) {
        out.push_back(r.status());
      } else if (Status s = client::ReplyError(**r); !s.ok()) {
        out.push_back(s);
      } else if ((*r)->reply.payload.empty()) {
        out.push_back(Status::Protocol("PING reply without a node id"));
      } else {
        out.push_back(std::string((*r)->reply.payload[0]));
      }
    }
    return out;
  };
  deps.membership = std::make_shared<client::StaticMembership>(endpoints, ping);
  deps.options = std::move(options);
  return std::unique_ptr<Client>(new client::ClientImpl(std::move(deps)));
}

}  // namespace shovel
