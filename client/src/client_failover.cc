// Routing around failed workers and replica sets: which members a request
// avoids, where an id's copies live, and the call to an id's primary that
// moves on to the next primary when a worker fails.
#include "client_impl.h"
#include "placement.h"

namespace shovel::client {

using wire::Op;

namespace {

// A read: answered the same by any copy that has the id.
bool IsRead(Op op) { return op == Op::kGet || op == Op::kStat; }

}  // namespace

bool ClientImpl::Avoid(const PlacementView& view, size_t k) {
  const Member& m = view.members[k];
  if (m.critical) return true;
  if (!transport_->IsDown(m.endpoint)) return false;
  Probe(m.endpoint);
  return true;
}

void ClientImpl::Probe(const std::string& endpoint) {
  {
    std::lock_guard<std::mutex> lock(probe_mu_);
    auto now = std::chrono::steady_clock::now();
    auto [it, fresh] = probed_.try_emplace(endpoint, now);
    if (!fresh && now - it->second < kProbeEvery) return;
    it->second = now;
  }
  // The transport takes the worker to be up again when this is answered.
  OutRequest ping = MakeRequest(Op::kPing, "");
  ping.deadline = std::chrono::milliseconds(1000);
  transport_->Send(endpoint, ping, [](Result<ResponsePtr>) {});
}

std::vector<size_t> ClientImpl::ReplicaSet(std::string_view id,
                                           const PlacementView& view) {
  auto avoid = [&](size_t k) { return Avoid(view, k); };
  if (view.replicas <= 1) return {RouteNode(id, view.node_ids, avoid)};
  std::vector<size_t> ranked = RankNodes(id, view.node_ids);
  std::vector<size_t> out;
  for (size_t k : ranked) {
    if (avoid(k)) continue;
    out.push_back(k);
    if (out.size() == view.replicas) break;
  }
  if (out.empty()) out.push_back(ranked[0]);
  return out;
}

Result<ResponsePtr> ClientImpl::CallPrimary(const OutRequest& req,
                                            const PlacementView& view) {
  if (view.members.empty()) return Status::Unavailable("no workers are known");
  const bool replicate = view.replicas > 1 && wire::ReplicatedOp(req.header.op) &&
                         !(req.header.flags & wire::kFlagNoRedirect);
  Result<ResponsePtr> r = Status::Unavailable("no workers are known");
  std::string failed;  // the primary of the first attempt, when it failed
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<size_t> set = ReplicaSet(req.id, view);
    const std::string& primary = view.members[set[0]].endpoint;
    if (primary == failed && set.size() == 1) return r;  // nowhere else to go
    const OutRequest* send = &req;
    OutRequest with_list;
    std::string list;
    if (replicate && set.size() > 1) {
      std::vector<std::string> others;
      for (size_t i = 1; i < set.size(); ++i)
        others.push_back(view.members[set[i]].endpoint);
      list = wire::EncodeStrings(others);
      with_list = req;
      with_list.header.flags |= wire::kFlagReplicas;
      with_list.payload.push_back(list);
      send = &with_list;
    }
    bool replica_failed = false;
    r = CallIdOnce(*send, primary, view.generation, &replica_failed);
    if (r.ok()) return r;
    if (IsRead(req.header.op) && r.status().IsNotFound() && set.size() > 1) {
      return ReadFromReplicas(req, view, std::move(r));
    }
    // Once more, to the next primary, when the write is known not to have
    // been applied (a replica did not answer: the primary applies only
    // after all did; no connection: it was never sent), or may be applied
    // twice without harm.
    const bool down = transport_->IsDown(primary);
    const bool unsent = r.status().message().find("no connection") != std::string::npos;
    const bool repeatable = req.idempotent || req.header.op == Op::kSet ||
                            req.header.op == Op::kDelete ||
                            req.header.op == Op::kSetAttrs;
    if (!(replica_failed || (down && (unsent || repeatable)))) return r;
    failed = primary;
  }
  return r;
}

Result<ResponsePtr> ClientImpl::ReadFromReplicas(const OutRequest& req,
                                                 const PlacementView& view,
                                                 Result<ResponsePtr> miss) {
  std::vector<size_t> set = ReplicaSet(req.id, view);
  for (size_t i = 1; i < set.size(); ++i) {
    auto r = CallIdOnce(req, view.members[set[i]].endpoint, view.generation);
    if (r.ok()) return r;
  }
  return miss;
}

}  // namespace shovel::client
