#include "lease_keeper.h"

#include <algorithm>
#include <utility>

#include "replicator.h"

namespace shovel::worker {

LeaseTable::Ns LeaseKeeper::Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

LeaseTable::Ns LeaseKeeper::WallNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

LeaseKeeper::LeaseKeeper(Replicator* replicator, std::string endpoint,
                         std::string node_id, Hooks hooks)
    : replicator_(replicator),
      endpoint_(std::move(endpoint)),
      node_id_(std::move(node_id)),
      hooks_(std::move(hooks)),
      table_(Now()) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaseKeeper::Start() {
  thread_ = std::thread([this] { Run(); });
}

Result<LeaseKeeper::Asked> LeaseKeeper::Ask(const std::string& peer, uint64_t* epoch,
                                            std::string* busy, bool in_place_of) {
  wire::Header h;
  h.op = wire::Op::kLease;
  h.aux = *epoch = hooks_.epoch();
  std::string body = wire::EncodeLease({endpoint_, node_id_});
  const LeaseTable::Ns sent = Now();
  LeaseTable::AskedFor in_place;
  {
    std::lock_guard<std::mutex> l(mu_);
    in_place = table_.AskList(peer, sent, in_place_of);
  }
  // The ask's number: the replica keeps the list of its latest ask.
  h.version_no = in_place.seq;
  std::string list = in_place.list.empty() ? "" : wire::EncodeStrings(in_place.list);
  std::vector<std::string_view> payload{body};
  if (!in_place.list.empty()) payload.emplace_back(list);
  SHOVEL_ASSIGN_OR_RETURN(Replicator::Answer a,
                          replicator_->Call(peer, h, "", payload, kAskTimeout));
  if (a.header.status == Code::kConflict) return Asked::kFenced;
  if (a.header.status == Code::kRedirect) {
    // Not now: the worker named may serve in this one's place, or this one
    // may not yet serve in its place.
    if (busy) *busy = a.message;
    return Asked::kBusy;
  }
  if (a.header.status != Code::kOk) {
    return Status(a.header.status, "worker " + peer + " answered LEASE: " + a.message);
  }
  bool rejoined = false;
  uint64_t fence = 0;
  std::vector<std::pair<std::string, std::string>> members;
  {
    std::lock_guard<std::mutex> l(mu_);
    table_.Granted(peer, sent, in_place.list, in_place.seq);
    table_.SetNode(peer, a.message);
    // The others that hold its lease: this worker does not serve an id one
    // of them comes before it for (it joined, and clients may not know it).
    if (!a.more.empty()) {
      if (auto list = wire::DecodeStrings(a.more[0]); list.ok()) {
        std::vector<std::pair<std::string, std::string>> holders;
        for (size_t i = 0; i + 1 < list->size(); i += 2) {
          holders.emplace_back((*list)[i], (*list)[i + 1]);
        }
        table_.SetHolders(peer, holders, Now());
      }
    }
    rejoined = table_.Answered(peer, a.header.aux, Now(), &fence);
    if (rejoined) {
      members = table_.Recent(Now(), LeaseTable::kKeep);
      members.emplace_back(endpoint_, node_id_);
    }
  }
  if (rejoined) {
    Log(log::Level::kDebug, peer + " is new or back under epoch " +
                                std::to_string(a.header.aux) + ": handing its ids over");
    if (hooks_.handover) hooks_.handover(peer, std::move(members));
  } else if (fence != 0) {
    // Fenced, and back without having rejoined (it asked this worker for
    // no lease): told to rejoin, a new epoch past the fence.
    wire::Header e;
    e.op = wire::Op::kEpoch;
    e.aux = std::max<uint64_t>(fence + 1, static_cast<uint64_t>(WallNow()));
    auto r = replicator_->Call(peer, e, "", {}, kAskTimeout);
    if (r.ok() && r->header.status == Code::kOk) {
      Log(log::Level::kWarn,
          "told " + peer + ", fenced, to rejoin: epoch " + std::to_string(r->header.aux));
    }
  }
  return Asked::kGranted;
}

InPlaceServing::InPlaceServing(InPlaceServing&& o) noexcept
    : keeper_(std::exchange(o.keeper_, nullptr)),
      peers_(std::move(o.peers_)),
      replicas_(std::move(o.replicas_)) {}

InPlaceServing& InPlaceServing::operator=(InPlaceServing&& o) noexcept {
  if (this != &o) {
    InPlaceServing done(std::move(*this));
    keeper_ = std::exchange(o.keeper_, nullptr);
    peers_ = std::move(o.peers_);
    replicas_ = std::move(o.replicas_);
  }
  return *this;
}

InPlaceServing::~InPlaceServing() {
  if (keeper_ == nullptr) return;
  keeper_->EndInPlace(peers_, replicas_);
}

void LeaseKeeper::EndInPlace(const std::vector<std::string>& peers,
                             const std::vector<std::string>& replicas) {
  std::lock_guard<std::mutex> l(mu_);
  table_.EndInPlace(peers, replicas);
}

std::optional<LeaseKeeper::Refusal> LeaseKeeper::CheckPrimary(
    const std::vector<std::string>& replicas, const std::vector<std::string>& passed_over,
    InPlaceServing* serving) {
  // A passed-over worker whose lease may still run: refused at once.
  auto live = [&](LeaseTable::Ns now, bool fence) -> std::optional<Refusal> {
    for (const auto& p : passed_over) {
      if (p == endpoint_) continue;
      bool fenced = false;
      LeaseTable::Ns wait =
          fence ? table_.TakeOver(p, now, WallNow(), &fenced) : table_.Remaining(p, now);
      if (fenced)
        Log(log::Level::kWarn,
            "serving in place of " + p + " (its lease ran out): fenced it");
      if (wait > 0) {
        Refusal r;
        uint64_t ms = static_cast<uint64_t>(wait / 1000000) + 1;
        r.status = Status::Unavailable(
            "worker " + p + ", which comes before " + endpoint_ +
            " in the id's order, may still serve it for " + std::to_string(ms) +
            " ms (it held a lease from " + endpoint_ + "): ask it, or again after that");
        r.live_primary = p;
        return r;
      }
    }
    return std::nullopt;
  };
  // Rounds: a renewal may narrow what a lease covers between the asks and
  // the start of serving in place (LeaseTable::AskList); then ask again.
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> ask;
    {
      std::lock_guard<std::mutex> l(mu_);
      const LeaseTable::Ns now = Now();
      if (auto refused = live(now, false)) return refused;
      for (const auto& r : replicas) {
        if (r == endpoint_) continue;
        table_.Want(r, now);
        for (const auto& p : passed_over) {
          if (p != endpoint_ && p != r) table_.WantInPlace(r, p, now);
        }
        if (!table_.Covers(r, passed_over, endpoint_, now)) ask.push_back(r);
      }
    }
    // The leases first: a worker that cannot get them (it is cut off, or
    // was replaced itself) must not fence the ones it would serve in place
    // of.
    for (const auto& r : ask) {
      if (auto refused = AskAsPrimary(r)) return refused;
    }
    if (passed_over.empty()) return std::nullopt;
    // Served in their place from here until `serving` is done, under
    // leases that cover them now.
    InPlaceServing begun;
    {
      std::lock_guard<std::mutex> l(mu_);
      const LeaseTable::Ns now = Now();
      bool covered = true;
      for (const auto& r : replicas) {
        covered =
            covered && (r == endpoint_ || table_.Covers(r, passed_over, endpoint_, now));
      }
      if (!covered) continue;
      if (auto refused = live(now, true)) return refused;
      for (const auto& p : passed_over) {
        if (p != endpoint_) begun.peers_.push_back(p);
      }
      for (const auto& r : replicas) {
        if (r != endpoint_) begun.replicas_.push_back(r);
      }
      table_.BeginInPlace(begun.peers_, begun.replicas_);
      begun.keeper_ = this;
    }
    if (serving) *serving = std::move(begun);
    return std::nullopt;
  }
  Refusal out;
  out.status = Status::Unavailable("worker " + endpoint_ +
                                   " could not keep its replicas' leases in place of " +
                                   passed_over.front() + ": again shortly");
  out.live_primary = passed_over.front();
  return out;
}

std::optional<LeaseKeeper::Refusal> LeaseKeeper::AskAsPrimary(const std::string& r) {
  uint64_t asked = 0;
  std::string busy;
  Result<Asked> got = Ask(r, &asked, &busy, /*in_place_of=*/true);
  if (got.ok() && *got == Asked::kBusy) {
    // Clients disagree about who is up: the replica does not let this
    // worker and the one named serve the same ids at once.
    Refusal out;
    out.status = Status::Unavailable(
        busy == r ? "replica " + r + " grants worker " + endpoint_ +
                        " no lease for a moment (it still serves a request in its "
                        "place, or the workers that hold its lease have not yet "
                        "heard that " +
                        endpoint_ + " joined): again shortly"
                  : "replica " + r + " may still let worker " + busy +
                        " serve in place of " + endpoint_ + ", or " + busy +
                        " may still serve itself (clients disagree about who is "
                        "up): ask it, or again shortly");
    out.live_primary = busy;
    return out;
  }
  if (!got.ok()) {
    Refusal out;
    out.status = Status::Unavailable("replica " + r + " did not grant worker " +
                                     endpoint_ + " a lease: " + got.status().message() +
                                     "; nothing was served");
    out.replica_at_fault = r;
    return out;
  }
  if (*got == Asked::kFenced) {
    // Another worker served in this one's place: what it holds may be
    // old. It rejoins (a new epoch, nothing held), and the request is
    // sent again.
    Refusal out;
    out.epoch = hooks_.rejoin(asked);
    Log(log::Level::kWarn,
        r +
            " refused a lease (another worker served in this one's place): rejoined "
            "under epoch " +
            std::to_string(out.epoch) + ", nothing held");
    out.status = Status::Conflict("worker " + endpoint_ + " was replaced while away (" +
                                  r + " refused it a lease); it rejoined under epoch " +
                                  std::to_string(out.epoch) + ": send it again");
    return out;
  }
  return std::nullopt;
}

std::string LeaseKeeper::Outranking(std::string_view id, std::string_view node,
                                    const std::vector<std::string>& passed_over) {
  std::lock_guard<std::mutex> l(mu_);
  return table_.OutrankedBy(id, node, {}, passed_over, Now());
}

size_t LeaseKeeper::FirstOutranked(std::span<const std::string_view> ids, size_t from,
                                   const std::vector<std::string>& replicas,
                                   const std::vector<std::string>& passed_over,
                                   std::string* who) {
  std::lock_guard<std::mutex> l(mu_);
  const LeaseTable::Ns now = Now();
  for (size_t i = from; i < ids.size(); ++i) {
    if (std::string before =
            table_.OutrankedBy(ids[i], node_id_, replicas, passed_over, now);
        !before.empty()) {
      *who = std::move(before);
      return i;
    }
  }
  return ids.size();
}

bool LeaseKeeper::HoldsAll(const std::vector<std::string>& replicas) {
  std::lock_guard<std::mutex> l(mu_);
  return HoldsAllLocked(replicas, Now());
}

bool LeaseKeeper::HoldsAllLocked(const std::vector<std::string>& replicas,
                                 LeaseTable::Ns now) {
  for (const auto& r : replicas) {
    if (r == endpoint_) continue;
    table_.Want(r, now);
    if (!table_.Holds(r, now)) return false;
  }
  return true;
}

bool LeaseKeeper::MayServeRead(std::span<const std::string_view> ids,
                               const std::vector<std::string>& replicas) {
  std::lock_guard<std::mutex> l(mu_);
  const LeaseTable::Ns now = Now();
  if (!HoldsAllLocked(replicas, now)) return false;
  for (std::string_view id : ids) {
    if (!table_.OutrankedBy(id, node_id_, replicas, {}, now).empty()) return false;
  }
  return true;
}

LeaseTable::Answer LeaseKeeper::OnLease(const wire::LeaseBody& from, uint64_t epoch,
                                        const std::vector<std::string>& in_place_of,
                                        uint64_t ask) {
  LeaseTable::Answer a;
  std::vector<std::pair<std::string, std::string>> members;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (epoch == 0) {  // it is leaving
      table_.Release(from.endpoint);
      a.granted = true;
      return a;
    }
    const LeaseTable::Ns now = Now();
    a = table_.Request(from.endpoint, from.node_id, epoch, now, in_place_of, ask);
    if (!a.granted && a.busy.empty() && a.wait > 0) a.busy = endpoint_;  // this one
    if (a.granted) a.holders = table_.Holders(from.endpoint, now);
    if (a.rejoined) {
      members = table_.Recent(now, LeaseTable::kKeep);
      members.emplace_back(endpoint_, node_id_);
    }
  }
  if (a.rejoined) {
    Log(log::Level::kDebug, from.endpoint + " is new or back under epoch " +
                                std::to_string(epoch) + ": handing its ids over");
    if (hooks_.handover) hooks_.handover(from.endpoint, std::move(members));
  }
  return a;
}

void LeaseKeeper::FenceReplica(const std::string& peer) {
  bool newly;
  {
    std::lock_guard<std::mutex> l(mu_);
    newly = table_.Fence(peer, WallNow());
  }
  if (newly)
    Log(log::Level::kWarn,
        "replica " + peer + " missed a write: fenced it until it rejoins");
}

void LeaseKeeper::ReleaseAll() {
  std::vector<std::string> peers;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
    stop_ = true;  // no more renewals
    peers = table_.Renewals(Now(), LeaseTable::kKeep);
    table_.DropHeld();
  }
  cv_.notify_all();
  wire::Header h;
  h.op = wire::Op::kLease;
  h.aux = 0;
  std::string body = wire::EncodeLease({endpoint_, node_id_});
  for (const auto& p : peers) (void)replicator_->Call(p, h, "", {body}, kAskTimeout);
}

void LeaseKeeper::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, kRenewEvery);
    if (stop_) break;
    // Renewed ahead of expiry by more than a renewal round and an ask.
    const LeaseTable::Ns now = Now();
    std::vector<std::string> due = table_.Renewals(
        now, std::chrono::nanoseconds(kRenewEvery + kAskTimeout * 2).count());
    // Fenced peers are asked too, at most once a second: one that came
    // back is told to rejoin, or handed its ids when it has.
    if (now - fenced_checked_ >= LeaseTable::kLease) {
      fenced_checked_ = now;
      for (auto& p : table_.FencedPeers()) {
        if (std::find(due.begin(), due.end(), p) == due.end())
          due.push_back(std::move(p));
      }
    }
    l.unlock();
    for (const auto& peer : due) {
      uint64_t asked = 0;
      Result<Asked> got = Ask(peer, &asked);
      if (got.ok() && *got == Asked::kFenced) {
        uint64_t e = hooks_.rejoin(asked);
        Log(log::Level::kWarn,
            peer +
                " refused a lease (another worker served in this one's place): "
                "rejoined under epoch " +
                std::to_string(e) + ", nothing held");
      }
    }
    l.lock();
  }
}

std::vector<std::pair<std::string, std::string>> LeaseKeeper::Members() {
  std::lock_guard<std::mutex> l(mu_);
  auto members = table_.Recent(Now(), LeaseTable::kKeep);
  members.emplace_back(endpoint_, node_id_);
  return members;
}

}  // namespace shovel::worker
