#include "shovel/worker/consul_setup.h"

#include <unistd.h>

#include <algorithm>

#include "shovel/consul/duration.h"

namespace shovel::worker {
namespace {

Status Flag(std::string_view flag, const Status& s) {
  return Status::InvalidArgument("--" + std::string(flag) + ": " + s.message());
}

}  // namespace

Result<ConsulSetup> ResolveConsulFlags(const ConsulFlags& flags,
                                       const consul::Config::Getenv& getenv) {
  ConsulSetup out;
  out.flags = flags;
  auto env_addr = getenv("CONSUL_HTTP_ADDR");
  bool have_env = env_addr && !env_addr->empty();
  if (flags.consul.empty()) {
    if (have_env) {
      out.hint =
          "CONSUL_HTTP_ADDR is set but --consul was not given: not registering "
          "in Consul (pass --consul env to use it)";
    }
    return out;
  }
  out.enabled = true;
  if (flags.consul == "env") {
    if (!have_env) {
      return Status::InvalidArgument("--consul env: CONSUL_HTTP_ADDR is not set");
    }
    auto c = consul::Config::FromEnvironment(getenv);
    if (!c.ok()) return Flag("consul", c.status());
    out.config = *c;
  } else {
    // The explicit address wins; the environment still gives the token.
    auto hide_addr = [&getenv](const char* name) -> std::optional<std::string> {
      if (std::string_view(name) == "CONSUL_HTTP_ADDR") return std::nullopt;
      return getenv(name);
    };
    auto c = consul::Config::FromEnvironment(hide_addr);
    if (!c.ok()) return Flag("consul", c.status());
    out.config = *c;
    out.config.address = flags.consul;
  }
  if (auto e = consul::ParseAddress(out.config.address); !e.ok()) {
    return Flag("consul", e.status());
  }
  if (flags.service_name.empty()) {
    return Status::InvalidArgument("--service-name must not be empty");
  }
  if (flags.kv_prefix.empty() || flags.kv_prefix.find("//") != std::string::npos) {
    return Status::InvalidArgument("--kv-prefix must be a non-empty KV path");
  }
  auto dur = [](std::string_view flag, const std::string& text,
                std::chrono::milliseconds& to) -> Status {
    auto d = consul::ParseDuration(text);
    if (!d.ok()) return Flag(flag, d.status());
    to = *d;
    return Status::Ok();
  };
  SHOVEL_RETURN_IF_ERROR(dur("consul-ttl", flags.ttl, out.ttl));
  if (!flags.heartbeat.empty()) {
    SHOVEL_RETURN_IF_ERROR(dur("consul-heartbeat", flags.heartbeat, out.heartbeat));
  } else {
    out.heartbeat = out.ttl / 3;
  }
  SHOVEL_RETURN_IF_ERROR(
      dur("consul-deregister-after", flags.deregister_after, out.deregister_after));
  SHOVEL_RETURN_IF_ERROR(dur("consul-retry-max", flags.retry_max, out.retry_max));
  if (out.ttl < std::chrono::milliseconds(100)) {
    return Status::InvalidArgument("--consul-ttl must be at least 100ms");
  }
  if (out.heartbeat.count() <= 0 || out.heartbeat >= out.ttl) {
    return Status::InvalidArgument(
        "--consul-heartbeat must be positive and shorter than --consul-ttl");
  }
  if (out.retry_max < std::chrono::milliseconds(100)) {
    return Status::InvalidArgument("--consul-retry-max must be at least 100ms");
  }
  // Each request (a heartbeat above all) must end well before the TTL does.
  out.config.timeout =
      std::clamp(out.heartbeat, std::chrono::milliseconds(500),
                 std::min(out.config.timeout, std::chrono::milliseconds(10000)));
  return out;
}

std::string DefaultAdvertiseHost(std::string_view endpoint, std::string_view hostname) {
  std::string_view rest = endpoint;
  if (size_t p = rest.find("://"); p != std::string_view::npos) rest = rest.substr(p + 3);
  size_t colon = rest.rfind(':');
  std::string_view host = colon == std::string_view::npos ? rest : rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "0.0.0.0" || host == "*" || host == "::") {
    return std::string(hostname);
  }
  return std::string(host);
}

int EndpointPort(std::string_view endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return 0;
  int port = 0;
  for (char c : endpoint.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return 0;
    port = port * 10 + (c - '0');
  }
  return port;
}

Result<std::unique_ptr<ConsulAgentLink>> StartConsulLink(const ConsulSetup& setup,
                                                         Worker& worker,
                                                         ConsulAgentLink::LogFn log) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  ConsulLinkOptions o;
  o.service_name = setup.flags.service_name;
  o.kv_prefix = setup.flags.kv_prefix;
  o.node_id = worker.node_id();
  o.advertise_host = setup.flags.advertise.empty()
                         ? DefaultAdvertiseHost(worker.endpoint(), host)
                         : setup.flags.advertise;
  if (o.advertise_host.empty()) {
    return Status::InvalidArgument(
        "--advertise: cannot tell which address to advertise; "
        "pass --advertise HOST");
  }
  o.port = EndpointPort(worker.endpoint());
  o.endpoint = AdvertisedEndpoint(o.advertise_host, o.port);
  auto stats = worker.Stats();
  o.cores = stats.cores;
  o.version = stats.version;
  o.metrics_port = setup.metrics_port;
  o.curve_key = worker.public_key();
  if (!o.curve_key.empty()) {
    o.peer_key = [&worker](const std::string& endpoint, const std::string& key) {
      worker.SetPeerKey(endpoint, key);
    };
  }
  o.flags = worker.config();
  o.ttl = setup.ttl;
  o.heartbeat = setup.heartbeat;
  o.deregister_after = setup.deregister_after;
  o.retry_max = setup.retry_max;
  SHOVEL_ASSIGN_OR_RETURN(std::unique_ptr<consul::Client> client,
                          consul::Client::Create(setup.config));
  return ConsulAgentLink::Start(
      std::shared_ptr<consul::Client>(std::move(client)), o,
      [&worker](const WorkerConfig& c) { worker.ApplyConfig(c); }, std::move(log));
}

Result<wire::HandoverBody> JoinBody(const ConsulSetup& setup, const Worker& self) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string advertise = setup.flags.advertise.empty()
                              ? DefaultAdvertiseHost(self.endpoint(), host)
                              : setup.flags.advertise;
  // Briefly: a Consul that is away delays the start by this much.
  consul::Config config = setup.config;
  config.timeout = std::min(config.timeout, std::chrono::milliseconds(2000));
  SHOVEL_ASSIGN_OR_RETURN(std::unique_ptr<consul::Client> client,
                          consul::Client::Create(config));
  SHOVEL_ASSIGN_OR_RETURN(auto entries,
                          client->HealthService(setup.flags.service_name, false));
  SHOVEL_ASSIGN_OR_RETURN(
      auto kv, client->KvGet(ClusterConfigPrefix(setup.flags.kv_prefix) + "replicas"));
  uint32_t replicas = 1;
  if (kv.value) {
    ConfigOverrides o;
    if (ParseSetting("replicas", kv.value->value, o).ok() && o.replicas) {
      replicas = *o.replicas;
    }
  }
  std::vector<Peer> peers;
  for (auto& p : PeersOf(entries.value)) {
    if (p.node_id != self.node_id()) peers.push_back(std::move(p));
  }
  Peer me;
  me.node_id = self.node_id();
  me.endpoint = AdvertisedEndpoint(advertise, EndpointPort(self.endpoint()));
  me.status = consul::CheckStatus::kPassing;
  peers.push_back(me);
  wire::HandoverBody b = LeaveBody(self, peers, replicas);
  b.target = me.endpoint;
  return b;
}

std::string AdvertisedEndpoint(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

wire::HandoverBody LeaveBody(const Worker& self, const std::vector<Peer>& peers,
                             uint32_t replicas) {
  wire::HandoverBody b = self.LeasePeers();
  if (replicas != 0) b.replicas = replicas;
  b.members.clear();
  bool listed = false;
  for (const auto& p : peers) {
    if (p.status == consul::CheckStatus::kCritical || p.endpoint.empty()) continue;
    listed = listed || p.node_id == self.node_id();
    b.members.push_back({p.node_id, p.endpoint});
  }
  if (!listed) b.members.push_back({self.node_id(), self.endpoint()});
  return b;
}

}  // namespace shovel::worker
