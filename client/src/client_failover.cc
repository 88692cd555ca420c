// Routing around failed workers and replica sets: which members a request
// avoids, where an id's copies live, and the call to an id's primary that
// moves on to the next primary when a worker fails.
#include "client_impl.h"
#include "placement.h"
#include "shovel/text.h"

namespace shovel::client {

using wire::Op;

namespace {

// A read: answered the same by any copy that has the id.
bool IsRead(Op op) { return op == Op::kGet || op == Op::kStat; }

}  // namespace

bool ClientImpl::Avoid(const PlacementView& view, size_t k) {
  const Member& m = view.members[k];
  if (m.critical) {
    if (view.replicas > 1) MarkRejoining(m.endpoint);
    return true;
  }
  if (handovers_count_.load(std::memory_order_relaxed) != 0) SendHandovers();
  if (transport_->IsDown(m.endpoint)) {
    if (view.replicas > 1) MarkRejoining(m.endpoint);
    Probe(m.endpoint);
    return true;
  }
  if (rejoining_count_.load(std::memory_order_relaxed) == 0) return false;
  return Rejoining(view, m.endpoint);
}

void ClientImpl::SendHandovers() {
  std::vector<std::pair<std::string, std::string>> due;  // endpoint, body
  {
    std::lock_guard<std::mutex> lock(epoch_mu_);
    due.swap(handovers_due_);
    handovers_count_.store(0);
  }
  for (const auto& [endpoint, body] : due) {
    OutRequest req = MakeRequest(Op::kHandover, "");
    req.payload = {body};
    req.deadline = std::chrono::milliseconds(1000);
    transport_->Send(endpoint, req, [](Result<ResponsePtr>) {});
  }
}

void ClientImpl::MarkRejoining(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(epoch_mu_);
  if (rejoining_.try_emplace(endpoint).second) rejoining_count_.store(rejoining_.size());
}

bool ClientImpl::Rejoining(const PlacementView& view, const std::string& endpoint) {
  uint64_t propose = 0;
  // Once it rejoined, the live workers hand it the ids it is a replica of:
  // every HANDOVER goes out with the same body.
  wire::HandoverBody handover;
  handover.replicas = static_cast<uint32_t>(view.replicas);
  handover.target = endpoint;
  std::vector<std::string> to;
  {
    std::lock_guard<std::mutex> lock(epoch_mu_);
    auto it = rejoining_.find(endpoint);
    if (it == rejoining_.end()) return false;
    auto now = std::chrono::steady_clock::now();
    if (it->second != std::chrono::steady_clock::time_point() &&
        now - it->second < kProbeEvery) {
      return true;
    }
    it->second = now;
    // Above any epoch it had: a wall-clock time, as workers start with.
    propose =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    auto known = epochs_.find(endpoint);
    if (known != epochs_.end()) propose = std::max(propose, known->second + 1);
    for (const Member& m : view.members) {
      bool live =
          m.endpoint == endpoint || (!m.critical && !transport_->IsDown(m.endpoint) &&
                                     !rejoining_.count(m.endpoint));
      if (!live) continue;
      handover.members.push_back({m.node_id, m.endpoint});
      if (m.endpoint != endpoint) to.push_back(m.endpoint);
    }
  }
  std::string body = wire::EncodeHandover(handover);
  OutRequest req = MakeRequest(Op::kEpoch, "");
  req.header.aux = propose;
  req.deadline = std::chrono::milliseconds(1000);
  transport_->Send(endpoint, req,
                   [this, endpoint, body, to = std::move(to)](Result<ResponsePtr> r) {
                     if (!r.ok() || (*r)->reply.header.status != Code::kOk) return;
                     std::lock_guard<std::mutex> lock(epoch_mu_);
                     epochs_[endpoint] = (*r)->reply.header.aux;
                     if (rejoining_.erase(endpoint) == 0) return;
                     rejoining_count_.store(rejoining_.size());
                     // Sent by the next caller (not from the transport's thread).
                     for (const auto& w : to) handovers_due_.emplace_back(w, body);
                     handovers_count_.store(handovers_due_.size());
                   });
  return true;
}

uint64_t ClientImpl::KnownEpoch(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(epoch_mu_);
  auto it = epochs_.find(endpoint);
  return it == epochs_.end() ? 0 : it->second;
}

void ClientImpl::SetKnownEpoch(const std::string& endpoint, uint64_t epoch) {
  if (epoch == 0) return;
  std::lock_guard<std::mutex> lock(epoch_mu_);
  epochs_[endpoint] = epoch;
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
      with_list.header.aux = KnownEpoch(primary);
      // The deadline as a wall-clock time: a worker refuses the write
      // after it (it sat in the queue of a paused worker).
      with_list.header.length = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              (std::chrono::system_clock::now() + req.deadline).time_since_epoch())
              .count());
      with_list.payload.push_back(list);
      send = &with_list;
    }
    PrimaryNotes notes;
    r = CallIdOnce(*send, primary, view.generation, &notes);
    const bool replica_failed = notes.replica_failed;
    if (send == &with_list) {
      // The primary's epoch, from any reply: a refusal for a stale one
      // (it rejoined since this client last heard from it) is sent again.
      SetKnownEpoch(primary, notes.epoch);
      if (!r.ok() && r.status().code() == Code::kConflict && notes.epoch != 0 &&
          notes.epoch != with_list.header.aux && attempt == 0) {
        continue;
      }
    }
    if (r.ok()) return r;
    if (IsRead(req.header.op) && r.status().IsNotFound()) {
      if (set.size() > 1) r = ReadFromReplicas(req, view, std::move(r), notes.version);
      if (r.ok() || !r.status().IsNotFound()) return r;
      return NotFoundOrDown(req.id, view, std::move(r));
    }
    // Once more, to the next primary, when the write is known not to have
    // been applied (a replica did not answer: the primary applies only
    // after all did; no connection: it was never sent), or may be applied
    // twice without harm.
    // No answer within the deadline (a paused or cut-off worker, whose
    // connection stays open): taken to be down, as a closed connection is.
    if (r.status().code() == Code::kTimeout) transport_->MarkDown(primary);
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

Result<ResponsePtr> ClientImpl::NotFoundOrDown(std::string_view id,
                                               const PlacementView& view,
                                               Result<ResponsePtr> miss) {
  // The workers that would hold the id with everyone up: if all of them are
  // down, "not found" from the others says nothing about it.
  std::vector<size_t> ranked = RankNodes(id, view.node_ids);
  std::string down;
  for (size_t i = 0; i < ranked.size() && i < view.replicas; ++i) {
    const Member& m = view.members[ranked[i]];
    if (!m.critical && !transport_->IsDown(m.endpoint)) return miss;
    down += (down.empty() ? "" : ", ") + m.node_id;
  }
  return Status::Unavailable("id " + QuoteForMessage(id) + " is held by " + down +
                             ", which cannot be reached now");
}

Result<ResponsePtr> ClientImpl::ReadFromReplicas(const OutRequest& req,
                                                 const PlacementView& view,
                                                 Result<ResponsePtr> miss,
                                                 uint64_t deleted_at) {
  std::vector<size_t> set = ReplicaSet(req.id, view);
  for (size_t i = 1; i < set.size(); ++i) {
    auto r = CallIdOnce(req, view.members[set[i]].endpoint, view.generation);
    if (r.ok() && (*r)->reply.header.version_no > deleted_at) return r;
  }
  return miss;
}

}  // namespace shovel::client
