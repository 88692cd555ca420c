#include "consul_membership.h"

#include <algorithm>

#include "curve_keys.h"
#include "shovel/consul/coordinate.h"
#include "shovel/consul/service_entry.h"

namespace shovel::client {
namespace {

bool SameMembers(const std::vector<Member>& a, const std::vector<Member>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].node_id != b[i].node_id || a[i].endpoint != b[i].endpoint ||
        a[i].healthy != b[i].healthy || a[i].critical != b[i].critical ||
        a[i].consul_node != b[i].consul_node ||
        a[i].consul_health != b[i].consul_health) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<Member> MembersFromHealth(const std::vector<consul::HealthEntry>& entries) {
  std::vector<Member> out;
  for (auto& w : consul::WorkersOf(entries)) {  // sorted by node id
    Member m;
    m.node_id = std::move(w.node_id);
    m.endpoint = std::move(w.endpoint);
    m.consul_node = std::move(w.consul_node);
    m.critical = w.status == consul::CheckStatus::kCritical ||
                 w.status == consul::CheckStatus::kMaintenance;
    m.healthy = !m.critical;
    m.consul_health = std::string(consul::CheckStatusName(w.status));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::shared_ptr<ConsulMembership>> ConsulMembership::Start(
    std::shared_ptr<consul::Client> client, Options options, LogFn log) {
  std::shared_ptr<ConsulMembership> m(
      new ConsulMembership(std::move(client), std::move(options), std::move(log)));
  auto first = m->client_->HealthService(m->options_.service_name, false);
  if (!first.ok()) {
    // A TLS or ACL setting that is wrong (a CA that does not match, a
    // refused token, an unreadable file) keeps its code: no retry fixes it.
    const Code code = first.status().code();
    if (code == Code::kPermissionDenied || code == Code::kInvalidArgument) {
      return Status(code,
                    "cannot read the workers from Consul: " + first.status().message());
    }
    return Status::Unavailable("cannot read the workers from Consul: " +
                               first.status().ToString());
  }
  m->Update(first->value);
  const std::string replicas_key = m->options_.kv_prefix + "/config/replicas";
  if (auto r = m->client_->KvGet(replicas_key); r.ok()) m->UpdateReplicas(r->value);
  consul::WatchOptions wo;
  wo.wait = m->options_.wait;
  wo.backoff_max = m->options_.backoff_max;
  ConsulMembership* self = m.get();
  m->watch_ = consul::MakeWatch<std::vector<consul::HealthEntry>>(
      [self](const consul::QueryOptions& q) { return self->Read(q); },
      [self](const std::vector<consul::HealthEntry>& e, uint64_t) { self->Update(e); },
      [self](const Status& s) {
        size_t n;
        {
          std::lock_guard<std::mutex> l(self->mu_);
          if (self->down_ || s.message().find("cancelled") != std::string::npos) return;
          self->down_ = true;
          n = self->set_.members.size();
        }
        self->log_("Consul at " + self->client_->config().address + " is unreachable (" +
                   s.ToString() + "); keeping the last known " + std::to_string(n) +
                   " worker(s) and retrying with backoff");
      },
      wo);
  m->watch_->Start();
  // Its outages are those of the health watch, reported there.
  m->replicas_watch_ = consul::MakeWatch<std::optional<consul::KvPair>>(
      [self, replicas_key](const consul::QueryOptions& q) {
        return self->client_->KvGet(replicas_key, q);
      },
      [self](const std::optional<consul::KvPair>& p, uint64_t) {
        self->UpdateReplicas(p);
      },
      [](const Status&) {}, wo);
  m->replicas_watch_->Start();
  return m;
}

Result<uint32_t> ParseReplicasSetting(std::string_view value) {
  std::string_view t = value;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\n')) {
    t.remove_suffix(1);
  }
  uint32_t n = 0;
  bool digits = !t.empty() && t.size() <= 2;
  for (char c : t) {
    digits = digits && c >= '0' && c <= '9';
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!digits || n < 1 || n > ClientOptions::kMaxReplicas) {
    return Status::InvalidArgument("replicas = '" + std::string(value) +
                                   "' is not a number of copies from 1 to " +
                                   std::to_string(ClientOptions::kMaxReplicas));
  }
  return n;
}

ConsulMembership::ConsulMembership(std::shared_ptr<consul::Client> client,
                                   Options options, LogFn log)
    : client_(std::move(client)), options_(std::move(options)), log_(std::move(log)) {}

ConsulMembership::~ConsulMembership() {
  if (replicas_watch_) replicas_watch_->Stop();
  if (watch_) watch_->Stop();
}

void ConsulMembership::UpdateReplicas(const std::optional<consul::KvPair>& pair) {
  uint32_t n = 0;
  std::string bad;
  if (pair) {
    auto parsed = ParseReplicasSetting(pair->value);
    if (parsed.ok()) {
      n = *parsed;
    } else {
      bad = parsed.status().message();
    }
  }
  uint64_t generation = 0;
  std::vector<Listener> listeners;
  bool log_bad = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    log_bad = !bad.empty() && bad != bad_replicas_;
    bad_replicas_ = bad;
    // A bad value keeps the last good one, as workers do with their keys.
    if (!bad.empty() || n == set_.replicas) {
      if (!log_bad) return;
    } else {
      set_.replicas = n;
      generation = ++set_.generation;
      listeners = listeners_;
    }
  }
  if (log_bad) {
    log_("ignoring Consul KV " + options_.kv_prefix + "/config/" + bad +
         "; keeping the current setting");
  }
  for (auto& f : listeners) f(generation);
}

Result<consul::Indexed<std::vector<consul::HealthEntry>>> ConsulMembership::Read(
    const consul::QueryOptions& q) {
  auto r = client_->HealthService(options_.service_name, false, q);
  if (r.ok()) {
    bool was_down;
    {
      std::lock_guard<std::mutex> l(mu_);
      was_down = down_;
      down_ = false;
    }
    if (was_down) log_("Consul at " + client_->config().address + " answers again");
  }
  return r;
}

void ConsulMembership::Update(const std::vector<consul::HealthEntry>& entries) {
  std::vector<Member> members = MembersFromHealth(entries);
  if (options_.curve) {
    for (const auto& w : consul::WorkersOf(entries)) {
      options_.curve->SetServerKey(w.endpoint, w.curve_key);
    }
  }
  uint64_t generation = 0;
  std::vector<Listener> listeners;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (set_.generation != 0 && SameMembers(members, set_.members)) return;
    set_.members = std::move(members);
    generation = ++set_.generation;
    listeners = listeners_;
  }
  for (auto& f : listeners) f(generation);
}

MemberSet ConsulMembership::Snapshot() {
  std::lock_guard<std::mutex> l(mu_);
  return set_;
}

void ConsulMembership::Subscribe(Listener listener) {
  std::lock_guard<std::mutex> l(mu_);
  listeners_.push_back(std::move(listener));
}

ConsulDistance::ConsulDistance(std::shared_ptr<consul::Client> client,
                               const std::shared_ptr<Membership>& membership)
    : client_(std::move(client)), membership_(membership) {}

std::string ConsulDistance::ConsulNodeOf(std::string_view node_id) {
  auto m = membership_.lock();
  if (!m) return {};
  for (const auto& member : m->Snapshot().members) {
    if (member.node_id == node_id) return member.consul_node;
  }
  return {};
}

std::optional<double> ConsulDistance::BetweenConsulNodes(const std::string& a,
                                                         const std::string& b) {
  if (a.empty() || b.empty()) return std::nullopt;
  auto coords = client_->CoordinateNodes();
  if (!coords.ok()) return std::nullopt;
  const consul::Coordinate *ca = nullptr, *cb = nullptr;
  for (const auto& e : coords->value) {
    if (e.node == a) ca = &e.coord;
    if (e.node == b) cb = &e.coord;
  }
  if (!ca || !cb) return std::nullopt;
  auto rtt = consul::RttSeconds(*ca, *cb);
  if (!rtt.ok()) return std::nullopt;
  return *rtt * 1000.0;
}

std::optional<double> ConsulDistance::RttMs(std::string_view from_node,
                                            std::string_view to_node) {
  return BetweenConsulNodes(ConsulNodeOf(from_node), ConsulNodeOf(to_node));
}

std::optional<double> ConsulDistance::RttFromCallerMs(std::string_view to_node) {
  std::string self;
  {
    std::lock_guard<std::mutex> l(mu_);
    self = self_node_;
  }
  if (self.empty()) {
    auto s = client_->Self();
    if (!s.ok() || s->node_name.empty()) return std::nullopt;
    self = s->node_name;
    std::lock_guard<std::mutex> l(mu_);
    self_node_ = self;
  }
  return BetweenConsulNodes(self, ConsulNodeOf(to_node));
}

}  // namespace shovel::client
