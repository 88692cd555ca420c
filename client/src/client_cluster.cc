// Cluster-wide parts of ClientImpl: Init, Members, List, NodeIds/NodeId,
// NodeCacheScore and the pipelined Multi* calls.
#include <algorithm>
#include <deque>
#include <set>

#include "client_impl.h"
#include "placement.h"
#include "shovel/ids.h"

namespace shovel::client {
namespace {

using wire::Op;
constexpr size_t kInitWindow = 256;

using MakeFn = std::function<std::pair<std::string, OutRequest>(size_t)>;
using DoneFn = std::function<Status(size_t, Result<ResponsePtr>)>;

// Runs `n` requests with at most `window` in flight; `done` sees the results
// in order on the calling thread. Stops at the first error `done` returns.
Status Windowed(Transport& t, size_t n, size_t window, const MakeFn& make,
                const DoneFn& done) {
  std::deque<std::shared_ptr<PendingCall>> inflight;
  size_t next = 0, finished = 0;
  Status first_error;
  while (finished < n) {
    while (first_error.ok() && next < n && inflight.size() < window) {
      auto [endpoint, req] = make(next++);
      inflight.push_back(t.Start(endpoint, req));
    }
    if (inflight.empty()) break;
    auto r = inflight.front()->Wait();
    inflight.pop_front();
    Status s = done(finished++, std::move(r));
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

}  // namespace

Result<std::vector<NodeInfo>> ClientImpl::Stats(const PlacementView& view) {
  std::vector<std::pair<std::string, OutRequest>> reqs;
  for (size_t k = 0; k < view.members.size(); ++k) {
    const Member& m = view.members[k];
    OutRequest r = MakeRequest(Op::kNodeStats, "");
    // Consul says it is down, or this client found it down: ask briefly,
    // so `members` and statfs stay quick.
    if (Avoid(view, k))
      r.deadline = std::min(r.deadline, std::chrono::milliseconds(1000));
    reqs.emplace_back(m.endpoint, r);
  }
  auto replies = transport_->CallMany(reqs);
  std::vector<NodeInfo> out;
  for (size_t i = 0; i < view.members.size(); ++i) {
    const Member& m = view.members[i];
    NodeInfo n;
    n.healthy = false;
    if (replies[i].ok() && ReplyError(**replies[i]).ok() &&
        !(*replies[i])->reply.payload.empty()) {
      auto st = wire::DecodeNodeStats((*replies[i])->reply.payload[0]);
      if (st.ok()) {
        static_cast<wire::NodeStats&>(n) = std::move(*st);
        // It left: it answers NODE_STATS only, and serves nothing.
        n.healthy = !m.critical && (m.healthy || m.node_id == m.endpoint) &&
                    n.leave_state != "left";
      }
    }
    // Membership names the worker; the worker's own node id only stands in
    // for a placeholder (a static list knows endpoints alone).
    if (m.node_id != m.endpoint || n.node_id.empty()) n.node_id = m.node_id;
    n.endpoint = m.endpoint;
    n.consul_node = m.consul_node;
    n.consul_health = m.consul_health;
    out.push_back(std::move(n));
  }
  return out;
}

Result<std::vector<NodeInfo>> ClientImpl::Members() {
  auto view = View();
  return Stats(*view);
}

Status ClientImpl::Drain(std::string_view node) {
  auto view = View();
  size_t k = 0;
  while (k < view->members.size() && view->members[k].node_id != node &&
         view->members[k].endpoint != node) {
    ++k;
  }
  if (k == view->members.size()) {
    return Status::InvalidArgument("no worker '" + std::string(node) +
                                   "' in the cluster (shovelctl members lists them)");
  }
  const Member& leaving = view->members[k];
  wire::HandoverBody body;
  body.replicas = static_cast<uint32_t>(view->replicas);
  body.target = leaving.endpoint;
  for (size_t i = 0; i < view->members.size(); ++i) {
    // The live workers take its ids (and it is among them).
    if (i != k && Avoid(*view, i)) continue;
    body.members.push_back({view->members[i].node_id, view->members[i].endpoint});
  }
  std::string encoded = wire::EncodeHandover(body);
  OutRequest req = MakeRequest(Op::kDrain, "");
  req.payload.push_back(encoded);
  auto r = transport_->Call(leaving.endpoint, req);
  if (!r.ok()) return r.status().WithContext("drain " + leaving.node_id);
  return ReplyError(**r);
}

Status ClientImpl::Init(const std::vector<std::string>& ids_in, InitStrategy strategy,
                        const ProgressFn& progress) {
  std::vector<std::string> ids;
  std::set<std::string_view> seen;
  for (const auto& id : ids_in) {
    SHOVEL_RETURN_IF_ERROR(ValidateId(id));
    if (seen.insert(id).second) ids.push_back(id);
  }
  auto view = View();
  if (view->members.empty()) return Status::Unavailable("no workers are known");
  const uint64_t total = ids.size();
  uint64_t done_count = 0;
  auto report = [&](uint64_t k) {
    done_count += k;
    if (progress) progress(done_count, total);
  };
  if (progress) progress(0, total);
  // 1. Which ids exist already? STAT at the home, without following pointers.
  std::vector<size_t> home(ids.size());
  auto critical = [&](size_t k) { return Avoid(*view, k); };
  for (size_t i = 0; i < ids.size(); ++i) {
    home[i] = RouteNode(ids[i], view->node_ids, critical);
  }
  std::vector<size_t> fresh, at_home;
  SHOVEL_RETURN_IF_ERROR(Windowed(
      *transport_, ids.size(), kInitWindow,
      [&](size_t i) {
        return std::make_pair(view->members[home[i]].endpoint,
                              MakeRequest(Op::kStat, ids[i]));
      },
      [&](size_t i, Result<ResponsePtr> r) -> Status {
        if (!r.ok()) return r.status();
        Code c = (*r)->reply.header.status;
        if (c == Code::kNotFound) {
          fresh.push_back(i);
        } else if (c == Code::kOk) {
          at_home.push_back(i);
        } else if (c == Code::kRedirect) {
          report(1);  // already pinned elsewhere: left as it is
        } else {
          return ReplyError(**r).WithContext("init '" + ids[i] + "'");
        }
        return Status::Ok();
      }));
  // 2. Exact quotas over the live workers for the new ids.
  std::vector<size_t> live;
  std::vector<QuotaInput> weights;
  if (!fresh.empty()) {
    SHOVEL_ASSIGN_OR_RETURN(std::vector<NodeInfo> stats, Stats(*view));
    for (size_t k = 0; k < stats.size(); ++k) {
      if (!stats[k].healthy) continue;
      uint64_t w = 1;
      if (strategy == InitStrategy::kUniformCpu) w = stats[k].cores;
      if (strategy == InitStrategy::kUniformMemory) {
        w = stats[k].mem_limit > stats[k].mem_used
                ? stats[k].mem_limit - stats[k].mem_used
                : 0;
      }
      live.push_back(k);
      weights.push_back({view->members[k].node_id, w});
    }
    if (live.empty()) return Status::Unavailable("init: no worker is reachable");
  }
  SHOVEL_ASSIGN_OR_RETURN(std::vector<uint64_t> quotas,
                          ComputeQuotas(weights, fresh.size()));
  std::vector<size_t> order = AssignmentOrder(quotas);
  // 3. CREATE(pinned) on the target; existing ids at home just get pinned.
  struct Job {
    size_t id_index;
    size_t target;  // member index
  };
  std::vector<Job> jobs;
  for (size_t i : at_home) jobs.push_back({i, home[i]});
  for (size_t k = 0; k < fresh.size(); ++k) jobs.push_back({fresh[k], live[order[k]]});
  std::vector<size_t> pointers;  // jobs whose target is not the home
  SHOVEL_RETURN_IF_ERROR(Windowed(
      *transport_, jobs.size(), kInitWindow,
      [&](size_t j) {
        const Job& job = jobs[j];
        return std::make_pair(view->members[job.target].endpoint,
                              MakeRequest(Op::kCreate, ids[job.id_index],
                                          wire::kFlagPinned | wire::kFlagNoRedirect));
      },
      [&](size_t j, Result<ResponsePtr> r) -> Status {
        if (!r.ok())
          return r.status().WithContext("init '" + ids[jobs[j].id_index] + "'");
        Status s = ReplyError(**r);
        if (!s.ok() && s.code() != Code::kAlreadyExists) {
          return s.WithContext("init '" + ids[jobs[j].id_index] + "'");
        }
        if (jobs[j].target != home[jobs[j].id_index]) {
          pointers.push_back(j);
        } else {
          report(1);
        }
        return Status::Ok();
      }));
  // 4. Pointer records at the homes.
  return Windowed(
      *transport_, pointers.size(), kInitWindow,
      [&](size_t p) {
        const Job& job = jobs[pointers[p]];
        const Member& t = view->members[job.target];
        OutRequest req = MakeRequest(Op::kPutPointer, ids[job.id_index]);
        req.payload = {t.endpoint, t.node_id};
        return std::make_pair(view->members[home[job.id_index]].endpoint, req);
      },
      [&](size_t p, Result<ResponsePtr> r) -> Status {
        const std::string& id = ids[jobs[pointers[p]].id_index];
        if (!r.ok()) return r.status().WithContext("init '" + id + "' (pointer)");
        SHOVEL_RETURN_IF_ERROR(
            ReplyError(**r).WithContext("init '" + id + "' (pointer)"));
        report(1);
        return Status::Ok();
      });
}

Result<std::vector<std::string>> ClientImpl::NodeIds(std::string_view id) {
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, Stat(id));
  return st.holders;
}

Result<std::string> ClientImpl::NodeId(std::string_view id, std::string_view strategy) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  if (strategy == "default" || strategy.empty()) {
    SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> holders, NodeIds(id));
    return holders.front();
  }
  if (strategy == "least_loaded") {
    SHOVEL_ASSIGN_OR_RETURN(std::vector<NodeInfo> stats, Stats(*View()));
    const NodeInfo* best = nullptr;
    for (const auto& n : stats) {
      if (n.healthy && (!best || n.load < best->load)) best = &n;
    }
    if (!best) return Status::Unavailable("no worker is reachable");
    return best->node_id;
  }
  if (strategy == "nearest") {
    if (!distance_) {
      return Status::Unavailable(
          "node_id strategy 'nearest' needs Consul coordinates (connect through Consul)");
    }
    SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> holders, NodeIds(id));
    // Holders with a known distance first, nearest first; unknown ones keep
    // their order (primary first) after them.
    const std::string* best = &holders.front();
    std::optional<double> best_ms;
    for (const auto& h : holders) {
      auto d = distance_->RttFromCallerMs(h);
      if (d && (!best_ms || *d < *best_ms)) {
        best = &h;
        best_ms = d;
      }
    }
    return *best;
  }
  return Status::InvalidArgument("unknown node_id strategy '" + std::string(strategy) +
                                 "'; valid strategies: default, least_loaded, nearest");
}

Result<std::optional<double>> ClientImpl::NodeCacheScore(std::string_view node,
                                                         std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  auto view = View();
  if (std::find(view->node_ids.begin(), view->node_ids.end(), node) ==
      view->node_ids.end()) {
    return Status::NotFound("node '" + std::string(node) + "' is not a member");
  }
  SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> holders, NodeIds(id));
  std::optional<double> best;
  for (const auto& h : holders) {
    if (h == node) return std::optional<double>(0.0);
    if (!distance_) continue;
    auto d = distance_->RttMs(node, h);
    if (d && (!best || *d < *best)) best = d;
  }
  return best;
}

}  // namespace shovel::client
