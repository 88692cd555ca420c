// Routing around failed workers and replica sets: which members a request
// avoids, where an id's copies live, and the call to an id's primary that
// moves on to the next primary when a worker fails.
#include <algorithm>
#include <random>
#include <thread>

#include "client_impl.h"
#include "placement.h"
#include "reachability.h"
#include "shovel/text.h"

namespace shovel::client {

using wire::Op;

namespace {

// A safety net for CallPrimary's loop, which the deadline ends: every
// attempt that does not wait moves to another primary or a new epoch.
constexpr int kMaxPrimaryAttempts = 4096;

// A read: answered the same by any copy that has the id.
bool IsRead(Op op) { return op == Op::kGet || op == Op::kStat; }

// A random append token, never 0.
uint64_t NewToken() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  uint64_t t = 0;
  while (t == 0) t = gen();
  return t;
}

}  // namespace

bool ClientImpl::Avoid(const PlacementView& view, size_t k) {
  const Member& m = view.members[k];
  if (m.critical) return true;
  if (transport_->IsDown(m.endpoint)) {
    Probe(m.endpoint);
    return true;
  }
  return false;
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

bool ClientImpl::Probe(const std::string& endpoint, bool now, bool wait) {
  {
    std::lock_guard<std::mutex> lock(probe_mu_);
    auto t = std::chrono::steady_clock::now();
    auto [it, fresh] = probed_.try_emplace(endpoint, t);
    if (!fresh && !now && t - it->second < kProbeEvery) return false;
    it->second = t;
  }
  // The transport takes the worker to be up again when this is answered.
  OutRequest ping = MakeRequest(Op::kPing, "");
  ping.deadline = wait ? kProbeWait : std::chrono::milliseconds(1000);
  if (!wait) {
    transport_->Send(endpoint, ping, [](Result<ResponsePtr>) {});
    return false;
  }
  return transport_->Call(endpoint, ping).ok();
}

std::vector<size_t> ClientImpl::ReplicaSet(std::string_view id, const PlacementView& view,
                                           std::vector<size_t>* passed) {
  auto avoid = [&](size_t k) { return Avoid(view, k); };
  if (view.replicas <= 1) return {RouteNode(id, view.node_ids, avoid)};
  std::vector<size_t> ranked = RankNodes(id, view.node_ids);
  std::vector<size_t> out;
  for (size_t k : ranked) {
    if (avoid(k)) {
      if (passed) passed->push_back(k);
      continue;
    }
    out.push_back(k);
    if (out.size() == view.replicas) break;
  }
  if (out.empty()) out.push_back(ranked[0]);
  return out;
}

Result<ResponsePtr> ClientImpl::CallPrimary(
    const OutRequest& req, std::shared_ptr<const PlacementView> current) {
  const PlacementView* at = current.get();
  if (at->members.empty()) return Status::Unavailable("no workers are known");
  const PlacementView& first = *at;
  const bool replicate = first.replicas > 1 &&
                         (wire::ReplicatedOp(req.header.op) || IsRead(req.header.op)) &&
                         !(req.header.flags & wire::kFlagNoRedirect);
  const auto give_up = std::chrono::steady_clock::now() + req.deadline;
  Result<ResponsePtr> r = Status::Unavailable("no workers are known");
  std::string failed;  // the primary of the first attempt, when it failed
  // An append carries one token on every attempt (kFlagToken): a worker
  // that applied it already does not apply it again, so it may be sent
  // again when its answer was lost.
  const std::string token =
      replicate && req.header.op == Op::kAppend ? wire::EncodeToken(NewToken()) : "";
  // Bounded by the deadline, not by a count: a refused attempt waits
  // 15-100 ms, and a lease of a worker that left may hold for a second or
  // more under load. The count only guards against a loop that never waits.
  for (int attempt = 0; attempt < kMaxPrimaryAttempts; ++attempt) {
    // The next primary is always tried once; waiting out a lease only
    // within the deadline.
    if (attempt > 1 && std::chrono::steady_clock::now() >= give_up) return r;
    const PlacementView& view = *current;
    std::vector<size_t> passed;
    std::vector<size_t> set = ReplicaSet(req.id, view, &passed);
    const std::string& primary = view.members[set[0]].endpoint;
    if (primary == failed) return r;  // every worker is avoided
    const OutRequest* send = &req;
    OutRequest with_list;
    std::string list;
    if (replicate && (set.size() > 1 || !passed.empty())) {
      // The other copies, and the workers passed over ('!'): the primary
      // serves in their place only once their leases ran out.
      std::vector<std::string> others;
      for (size_t i = 1; i < set.size(); ++i)
        others.push_back(view.members[set[i]].endpoint);
      for (size_t k : passed) others.push_back("!" + view.members[k].endpoint);
      list = wire::EncodeStrings(others);
      with_list = req;
      with_list.header.flags |= wire::kFlagReplicas;
      if (!IsRead(req.header.op)) {
        with_list.header.aux = KnownEpoch(primary);
        // The deadline as a wall-clock time: a worker refuses the write
        // after it (it sat in the queue of a paused worker).
        with_list.header.length = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(
                (std::chrono::system_clock::now() + req.deadline).time_since_epoch())
                .count());
      }
      with_list.payload.push_back(list);
      if (!token.empty()) {
        with_list.header.flags |= wire::kFlagToken;
        with_list.payload.push_back(token);
      }
      send = &with_list;
    }
    PrimaryNotes notes;
    r = CallIdOnce(*send, primary, view.generation, &notes);
    const bool replica_failed = notes.replica_failed;
    if (send == &with_list) {
      // The primary's epoch, from any reply: a refusal for a stale one
      // (it rejoined since this client last heard from it) is sent again.
      uint64_t sent_epoch = with_list.header.aux;
      SetKnownEpoch(primary, notes.epoch);
      if (!r.ok() && r.status().code() == Code::kConflict && notes.epoch != 0 &&
          notes.epoch != sent_epoch) {
        continue;
      }
      if (!notes.live_primary.empty()) {
        // A worker this client passed over, or does not know yet (it just
        // joined), is up for the primary: ask it whether it is up for this
        // client too, or wait out its lease; then try again with the
        // latest view.
        const bool known = view.node_of_endpoint.count(notes.live_primary) > 0;
        bool was_passed = false;
        for (size_t k : passed)
          was_passed |= view.members[k].endpoint == notes.live_primary;
        // Never past the deadline: the last attempt is made before it.
        auto pause = [&](std::chrono::milliseconds ms) {
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              give_up - std::chrono::steady_clock::now());
          std::this_thread::sleep_for(std::clamp(left - std::chrono::milliseconds(5),
                                                 std::chrono::milliseconds(0), ms));
        };
        if (!known || !Probe(notes.live_primary, true, true)) {
          pause(std::chrono::milliseconds(known ? 100 : 20));
        } else if (!was_passed) {
          // Up, and used already: another client's choice is in the way
          // for a lease's time at most.
          pause(std::chrono::milliseconds(15));
        }
        if (auto latest = View(); latest->generation > current->generation) {
          current = std::move(latest);
        }
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
    // A worker that is shutting down refuses what it did not start: not
    // applied, and it is leaving.
    const bool leaving =
        r.status().message().find("worker " + primary + " is shutting down") == 0;
    if (leaving) transport_->MarkDown(primary);
    const bool down = transport_->IsDown(primary);
    const bool unsent =
        leaving || r.status().message().find("no connection") != std::string::npos;
    const bool repeatable =
        req.idempotent || req.header.op == Op::kSet || req.header.op == Op::kDelete ||
        req.header.op == Op::kSetAttrs || (send == &with_list && !token.empty());
    if (!(replica_failed || (down && (unsent || repeatable)))) return r;
    if (down) failed = primary;
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
  std::vector<std::string> down_endpoints;
  for (size_t i = 0; i < ranked.size() && i < view.replicas; ++i) {
    const Member& m = view.members[ranked[i]];
    if (!m.critical && !transport_->IsDown(m.endpoint)) return miss;
    down += (down.empty() ? "" : ", ") + m.node_id;
    if (!m.critical) down_endpoints.push_back(m.endpoint);
  }
  // Taken to be down, but something listens there again: a worker
  // restarted with a key pair this client's worker key file does not list
  // (or that refuses its key) answers no request, and the PING's error
  // names that cause (docs/security.md, Errors) rather than "cannot be
  // reached". A worker that is gone refuses the TCP connection at once.
  // Only with keys: the look costs a TCP connect (and a paused worker the
  // PING's wait), which a client without keys does not pay.
  for (const std::string& endpoint :
       keyed_ ? down_endpoints : std::vector<std::string>{}) {
    if (!CheckReachable(endpoint, kCauseConnectWait).ok()) continue;
    OutRequest ping = MakeRequest(Op::kPing, "");
    ping.deadline = kCauseWait;
    auto pong = transport_->Call(endpoint, ping);
    if (!pong.ok() && pong.status().code() == Code::kPermissionDenied)
      return pong.status();
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
