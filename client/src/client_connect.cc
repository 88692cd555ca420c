// Client::Connect: builds the object graph (transport, membership, client).
#include <cstdlib>

#include "client_impl.h"

namespace shovel {

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options_in) {
  ClientOptions options = options_in;
  if (options.stream_chunk == 0) options.stream_chunk = 4ull << 20;
  if (options.stream_chunk > (32ull << 20)) options.stream_chunk = 32ull << 20;
  if (options.deadline.count() <= 0) {
    return Status::InvalidArgument("deadline must be positive");
  }
  std::vector<std::string> endpoints = options.workers;
  if (endpoints.empty() && options.consul_addr.empty()) {
    if (const char* env = std::getenv("SHOVEL_WORKERS"); env && *env) {
      SHOVEL_ASSIGN_OR_RETURN(endpoints, client::ParseWorkerList(env));
    } else if (const char* c = std::getenv("CONSUL_HTTP_ADDR"); c && *c) {
      options.consul_addr = c;
    }
  }
  if (endpoints.empty() && !options.consul_addr.empty()) {
    return Status::Unavailable("Consul membership (" + options.consul_addr +
                               ") is not available in this build; pass --workers "
                               "or set SHOVEL_WORKERS");
  }
  if (endpoints.empty()) {
    return Status::InvalidArgument(
        "no workers given: pass --workers tcp://HOST:PORT,... or set SHOVEL_WORKERS");
  }
  for (const auto& e : endpoints) {
    if (e.find("://") == std::string::npos) {
      return Status::InvalidArgument(
          "worker '" + e + "' is not a ZeroMQ endpoint (expected tcp://HOST:PORT)");
    }
  }
  client::ClientDeps deps;
  deps.transport = client::NewZmqTransport({});
  client::Transport* transport = deps.transport.get();
  const auto deadline = options.deadline;
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
