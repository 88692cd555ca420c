// The Service's replicated writes: as the id's primary (kFlagReplicas) and as
// one of its replicas (kFlagReplica). See Replicator for the forwarding.
#include "chunk.h"
#include "handover.h"
#include "large_copy.h"
#include "lease_keeper.h"
#include "replicator.h"
#include "service.h"
#include "service_internal.h"
#include "shovel/text.h"

namespace shovel::worker {

using internal::Joined;
using internal::Ok;
using internal::Options;
using internal::Written;

namespace {

// The Status of a write applied here that returns no WriteResult.
ServiceReply Done(const wire::Header& h, const Status& st) {
  return st.ok() ? Ok(h) : Service::Error(h, st);
}

}  // namespace

ServiceReply Service::AsPrimary(const wire::Request& req,
                                std::shared_ptr<const void> keep) {
  const wire::Header& h = req.header;
  if (replicator_ == nullptr) {
    return Error(h, Status::Protocol("worker " + endpoint_ +
                                     " does not forward writes to replicas"));
  }
  const bool read =
      h.op == wire::Op::kGet || h.op == wire::Op::kStat || h.op == wire::Op::kBatch;
  if (!read) {
    if (auto stale = StaleEpoch(h)) return *stale;
    if (auto late = PastDeadline(h)) return *late;
  }
  SawCopies(static_cast<uint32_t>(1 + req.replicas.size()));
  // Until the reply is made here, no passed-over worker gets a lease.
  InPlaceServing serving;
  if (h.op == wire::Op::kBatch) {
    if (auto refused =
            LeaseRefused(h, req.replicas, req.passed_over, BatchIds(req), &serving)) {
      return *refused;
    }
    return Batch(req);
  }
  if (auto refused =
          LeaseRefused(h, req.replicas, req.passed_over, IdList(req.id), &serving)) {
    return *refused;
  }
  if (read) {
    PullIfCatchingUp(req);
    return h.op == wire::Op::kGet ? Get(req) : Meta(req);
  }
  ServiceReply out = Primary(req, std::move(keep));
  out.header.aux = epoch_.load();
  return out;
}

std::string Service::OutrankedBy(std::span<const std::string_view> ids,
                                 const std::vector<std::string>& replicas,
                                 const std::vector<std::string>& passed_over) {
  if (leases_ == nullptr) return "";
  std::string before;
  for (size_t i = 0;; ++i) {
    i = leases_->FirstOutranked(ids, i, replicas, passed_over, &before);
    if (i == ids.size()) return "";
    auto st = store_->Stat(ids[i]);
    if (!(st.ok() && st->pinned)) return before;  // a pinned id keeps its holder
  }
}

std::vector<std::string_view> Service::BatchIds(const wire::Request& req) {
  std::vector<std::string_view> ids;
  if (req.payload.empty() || !wire::CheckBatchBody(req.payload[0], req.header.aux).ok()) {
    return ids;
  }
  wire::BatchReader reader(req.payload[0], req.header.aux);
  wire::Frames frames;
  ids.reserve(req.header.aux);
  for (uint64_t i = 0; i < req.header.aux && reader.Next(&frames).ok(); ++i) {
    if (frames.size() >= 2 && !frames[1].empty()) ids.push_back(frames[1]);
  }
  return ids;
}

std::optional<ServiceReply> Service::LeaseRefused(
    const wire::Header& h, const std::vector<std::string>& replicas,
    const std::vector<std::string>& passed_over, std::span<const std::string_view> ids,
    InPlaceServing* serving) {
  if (leases_ == nullptr) return std::nullopt;
  if (std::string before = OutrankedBy(ids, replicas, passed_over); !before.empty()) {
    // Clients that know `before` (it just joined or came back) send it
    // this id, and it serves under a lease from this worker.
    return Outranked(h, before,
                     "worker " + before + ", which comes before " + endpoint_ +
                         " in the id's order, is up and may serve it: ask it (this "
                         "client's view of the workers is behind)");
  }
  auto refused = leases_->CheckPrimary(replicas, passed_over, serving);
  if (!refused) return std::nullopt;
  ServiceReply out = Error(h, refused->status);
  // payload[1]: a replica at fault; payload[2]: a passed-over worker that
  // is up (the client should ask it).
  out.payload.push_back({refused->replica_at_fault, {}});
  if (!refused->live_primary.empty()) out.payload.push_back({refused->live_primary, {}});
  out.header.aux = epoch_.load();
  return out;
}

ServiceReply Service::Outranked(const wire::Header& h, const std::string& before,
                                const std::string& why) {
  // payload[1]: no replica at fault; payload[2]: the worker to ask.
  ServiceReply out = Error(h, Status::Unavailable(why));
  out.payload.push_back({"", {}});
  out.payload.push_back({before, {}});
  out.header.aux = epoch_.load();
  return out;
}

ServiceReply Service::Lease(const wire::Request& req) {
  const wire::Header& h = req.header;
  if (leases_ == nullptr) {
    return Error(h, Status::Protocol("worker " + endpoint_ + " grants no leases"));
  }
  auto from = wire::DecodeLease(req.payload[0]);
  if (!from.ok()) return Error(h, from.status());
  std::vector<std::string> in_place_of;
  if (req.payload.size() > 1) {
    auto list = wire::DecodeStrings(req.payload[1]);
    if (!list.ok()) return Error(h, list.status());
    in_place_of = std::move(*list);
  }
  LeaseTable::Answer a = leases_->OnLease(*from, h.aux, in_place_of, h.version_no);
  if (!a.busy.empty()) {
    // Not now, and not fenced: payload[0] names the worker in the way.
    ServiceReply out = Error(h, Status(Code::kRedirect, a.busy));
    out.header.aux = epoch_.load();
    return out;
  }
  if (!a.granted) {
    ServiceReply out =
        Error(h, Status::Conflict("worker " + endpoint_ + " served writes in place of " +
                                  from->endpoint +
                                  " or applied one it missed: it must rejoin "
                                  "(a new epoch, nothing held) before it gets a lease"));
    out.header.aux = epoch_.load();
    return out;
  }
  ServiceReply out = Ok(h);
  out.header.aux = epoch_.load();
  out.payload.push_back({store_->node_id(), {}});
  if (!a.holders.empty()) {
    std::vector<std::string> list;
    for (auto& [endpoint, node] : a.holders) {
      list.push_back(std::move(endpoint));
      list.push_back(std::move(node));
    }
    out.payload.push_back({wire::EncodeStrings(list), {}});
  }
  return out;
}

uint64_t Service::Rejoin(uint64_t refused) {
  uint64_t cur = refused;
  const uint64_t next = std::max<uint64_t>(refused + 1, static_cast<uint64_t>(NowNs()));
  if (epoch_.compare_exchange_strong(cur, next)) {
    store_->DropUnpinned();
    CatchUpFor(kCatchUpAtStart);
    return next;
  }
  return cur;  // rejoined already
}

void Service::HandOverTo(
    const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& members) {
  if (handover_ == nullptr) return;
  wire::HandoverBody b;
  b.replicas = replicas_seen_.load();
  b.target = target;
  for (const auto& [endpoint, node] : members) {
    if (!node.empty()) b.members.push_back({node, endpoint});
  }
  handover_->Start(std::move(b));
}

ServiceReply Service::Primary(const wire::Request& req,
                              std::shared_ptr<const void> keep) {
  const wire::Header& h = req.header;
  if (h.op == wire::Op::kAppend && append_tokens_.Has(req.id, req.token)) {
    return AppliedBefore(h, req.id);  // its answer was lost; sent again
  }
  // The replicas to forward to: never this worker itself; none for a pinned
  // id (it lives where init put it, applied here alone).
  wire::Request fwd = req;
  fwd.replicas = OtherReplicas(req);
  std::string unanswered;
  auto take_over = [&](const std::vector<std::string>& from) -> Status {
    return TakeFrom(from, req.id, &unanswered);
  };
  RepairFn repair = [&](const std::string& endpoint) -> Result<RepairValue> {
    auto r = store_->ReadIfFits(req.id, 0, wire::kToEnd, Replicator::kMaxFetch);
    if (!r.ok()) return r.status();
    if (r->more) {
      // Over one message: part by part (the id's writes wait in its lane).
      ForwardError fe = CopyLargeValue(*replicator_, *store_, {endpoint}, req.id,
                                       r->version, r->size, false);
      if (!fe.status.ok()) return fe.status;
      return RepairValue{{}, r->version, true};
    }
    return RepairValue{std::string(r->bytes.data, r->bytes.size), r->version};
  };
  // A write that builds on what the id holds (not SET, not DELETE), on a
  // primary that lacks it (it dropped what it held on rejoining): the id is
  // taken from a replica first, so the write lands on the same bytes
  // everywhere.
  const bool builds = h.op != wire::Op::kSet && h.op != wire::Op::kDelete;
  if (builds && !fwd.replicas.empty() && store_->Stat(req.id).status().IsNotFound()) {
    Status st = take_over(fwd.replicas);
    if (!st.ok() && !st.IsNotFound()) {
      ServiceReply out = Error(h, st);
      // The replica that did not answer, for the client to route around.
      if (!unanswered.empty()) out.payload.push_back({unanswered, {}});
      return out;
    }
  }
  WriteOptions o = Options(h);
  uint64_t version = 0, size = 0;
  for (int attempt = 0;; ++attempt) {
    // What the write depends on is checked here, before any replica has
    // it. Writes of one id are served one at a time (their lane), so what
    // is checked stays true until the write is applied below.
    auto cur = store_->Stat(req.id);
    if (!cur.ok() && !cur.status().IsNotFound()) return Error(h, cur.status());
    const uint64_t have = cur.ok() ? cur->version : 0;
    size = cur.ok() ? cur->size : 0;
    if (o.if_version && have != o.expected_version) {
      return Error(h, Status::Conflict("id " + QuoteForMessage(req.id) +
                                       " is at version " + std::to_string(have) +
                                       ", not " + std::to_string(o.expected_version)));
    }
    if (h.op == wire::Op::kCreate && (h.flags & wire::kFlagExclusive) && cur.ok()) {
      return Error(
          h, Status::AlreadyExists("id " + QuoteForMessage(req.id) + " already exists"));
    }
    if (cur.ok() && cur->pinned) fwd.replicas.clear();
    version = store_->TakeVersion();
    if (fwd.replicas.empty()) break;
    ForwardError fe =
        replicator_->Forward(fwd, version, size, have, repair, store_->node_id());
    if (fe.status.ok()) break;
    if (fe.applied) {
      // A replica applied this very append before (its answer was lost on
      // the way here): its copy holds it, so this worker takes that copy
      // rather than apply the append a second time.
      Status st = take_over({fe.endpoint});
      if (!st.ok()) return Error(h, st);
      append_tokens_.Put(req.id, req.token);
      return AppliedBefore(h, req.id);
    }
    if (fe.newer_version != 0 && attempt == 0) {
      // This primary is behind a replica (it was away and has not rejoined
      // yet): it takes the newer copy, then the write goes out again.
      Status st = take_over({fe.endpoint});
      if (!st.ok()) return Error(h, st);
      continue;
    }
    if (!fe.outranked_by.empty()) {
      // A replica lets a worker before this one serve the id (it joined,
      // and this client does not know it yet): the client asks that one.
      return Outranked(h, fe.outranked_by, fe.status.message());
    }
    ServiceReply out = Error(h, fe.status);
    // The replica at fault, for the client to route around. (Sent again,
    // the write passes it over, which fences it; fenced here, a primary
    // that is itself cut off would fence every replica.)
    if (!fe.endpoint.empty() && fe.newer_version == 0) {
      out.payload.push_back({fe.endpoint, {}});
    }
    return out;
  }
  o.version = version;
  std::string tmp;
  switch (h.op) {
    case wire::Op::kSet:
      if (req.payload.size() != 1) keep.reset();
      return Written(h, store_->Set(req.id, Joined(req, tmp), o, keep));
    case wire::Op::kAppend: {
      o.if_size = true;
      o.expected_size = size;
      auto r = store_->Append(req.id, Joined(req, tmp), o);
      if (r.ok()) append_tokens_.Put(req.id, req.token);
      return Written(h, r);
    }
    case wire::Op::kCreate:
      return Written(h, store_->Create(req.id, o.pinned, false, version));
    case wire::Op::kDelete: {
      o.if_version = false;
      tombstones_.Put(req.id, version);
      Status st = store_->Delete(req.id, o);
      if (st.IsNotFound() && store_->RemovePointer(req.id)) st = Status::Ok();
      return Done(h, st);
    }
    default:
      return Meta(req);  // SET_ATTRS
  }
}

Status Service::TakeFrom(const std::vector<std::string>& from, std::string_view id,
                         std::string* unanswered) {
  std::string small;    // a value that fits one message: set at once
  uint64_t handle = 0;  // a larger one: a streamed write here, part by part
  auto abort = [&] {
    if (handle != 0) (void)store_->UploadAbort(handle);
    handle = 0;
  };
  auto got = replicator_->FetchParts(
      from, id,
      [&](std::string_view bytes, uint64_t offset, uint64_t size,
          uint64_t version) -> Status {
        if (offset == 0) {
          small.clear();
          abort();
        }
        if (size <= Replicator::kMaxFetch) {
          small.append(bytes);
          return Status::Ok();
        }
        if (handle == 0) {
          WriteOptions o;
          o.version = version;
          auto h = store_->UploadBegin(id, false, o, size);
          if (!h.ok()) return h.status();
          handle = *h;
        }
        return store_->UploadData(handle, offset, {bytes});
      },
      unanswered);
  Status st = got.status();
  if (st.ok() && tombstones_.Get(id) >= *got) {
    st = Status::NotFound("id " + QuoteForMessage(id) + " was deleted here later");
  }
  if (!st.ok()) {
    abort();
    return st;
  }
  const std::string context = "taking id " + QuoteForMessage(id) + " over from a replica";
  if (handle != 0) return store_->UploadCommit(handle).status().WithContext(context);
  WriteOptions o;
  o.version = *got;
  return store_->Set(id, small, o).status().WithContext(context);
}

ServiceReply Service::AppliedBefore(const wire::Header& h, std::string_view id) {
  auto cur = store_->Stat(id);
  if (!cur.ok()) return Ok(h);  // applied, and deleted since
  return Written(h, WriteResult{cur->version, cur->size});
}

ServiceReply Service::Epoch(const wire::Header& h) {
  uint64_t cur = epoch_.load();
  bool raised = false;
  while (h.aux > cur && !(raised = epoch_.compare_exchange_weak(cur, h.aux))) {
  }
  // Writes sent for the old epoch are refused from here on; what was held
  // before goes (a value the others overwrote while this worker was away
  // must not be served).
  if (raised) {
    store_->DropUnpinned();
    CatchUpFor(kCatchUpAtStart);
  }
  ServiceReply out = Ok(h);
  out.header.aux = epoch_.load();
  return out;
}

std::optional<ServiceReply> Service::StaleEpoch(const wire::Header& h) const {
  uint64_t now = epoch_.load();
  if (h.aux == 0 || h.aux == now) return std::nullopt;
  ServiceReply out = Error(
      h, Status::Conflict("worker " + endpoint_ + " is at epoch " + std::to_string(now) +
                          "; the write was sent for epoch " + std::to_string(h.aux) +
                          " (it rejoined since): send it again"));
  out.header.aux = now;
  return out;
}

std::optional<ServiceReply> Service::PastDeadline(const wire::Header& h) const {
  if (h.length == 0) return std::nullopt;
  uint64_t now_ms = static_cast<uint64_t>(NowNs()) / 1000000;
  if (now_ms <= h.length) return std::nullopt;
  ServiceReply out =
      Error(h, Status::Timeout(
                   "the write reached worker " + endpoint_ + " " +
                   std::to_string(now_ms - h.length) +
                   " ms after its sender's deadline (the sender gave up): not applied"));
  out.header.aux = epoch_.load();
  return out;
}

ServiceReply Service::AsReplica(const wire::Request& req,
                                std::shared_ptr<const void> keep) {
  const wire::Header& h = req.header;
  switch (h.op) {
    case wire::Op::kUploadBegin:
    case wire::Op::kUploadData:
    case wire::Op::kUploadCommit:
    case wire::Op::kUploadAbort:
      return ReplicaUpload(req);  // aux is a handle; length a size hint
    default:
      break;
  }
  if (auto stale = StaleEpoch(h)) return *stale;
  if (auto late = PastDeadline(h)) return *late;
  if (!req.sender.empty() && leases_ != nullptr) {
    // Forwarded by a primary that a worker holding this one's lease comes
    // before (it joined or came back, and the primary's client does not
    // know it yet): that worker may serve the id now, from a copy this
    // write would miss.
    if (std::string before = leases_->Outranking(req.id, req.sender, req.passed_over);
        !before.empty()) {
      return Outranked(h, before,
                       "worker " + before + ", which comes before the primary (node " +
                           req.sender +
                           ") in the id's order, holds a lease from replica " +
                           endpoint_ + " and may serve it: ask it (the client's view " +
                           "of the workers is behind)");
    }
  }
  SawCopies(2);  // a replica's write: its id has two copies at least
  if (req.sender.empty() && h.op == wire::Op::kSet) CatchUpFor(kCatchUpAfterCopy);
  ServiceReply out = Replica(req, std::move(keep));
  out.header.aux = epoch_.load();
  return out;
}

ServiceReply Service::ReplicaUpload(const wire::Request& req) {
  const wire::Header& h = req.header;
  auto take = [&](uint64_t handle) -> std::optional<ReplicaUploadInfo> {
    std::lock_guard<std::mutex> l(uploads_mu_);
    auto it = replica_uploads_.find(handle);
    if (it == replica_uploads_.end()) return std::nullopt;
    ReplicaUploadInfo info = std::move(it->second);
    replica_uploads_.erase(it);
    return info;
  };
  ServiceReply out;
  switch (h.op) {
    case wire::Op::kUploadBegin: {
      if (auto stale = StaleEpoch(h)) return *stale;
      if (auto have = NewerHere(req.id, h.version_no)) {
        out = Ok(h);
        out.header.version_no = have->version;
        out.header.offset = 0;  // nothing to send
        break;
      }
      WriteOptions o;
      o.pinned = (h.flags & wire::kFlagPinned) != 0;
      o.version = h.version_no;
      auto r = store_->UploadBegin(req.id, false, o, h.length);
      if (!r.ok()) return Error(h, r.status());
      {
        std::lock_guard<std::mutex> l(uploads_mu_);
        if (replica_uploads_.size() >= kMaxUploadReplicas) {
          replica_uploads_.erase(replica_uploads_.begin());  // expired ones, oldest
        }
        replica_uploads_[*r] = {std::string(req.id), h.version_no, epoch_.load(),
                                o.pinned};
      }
      out = Ok(h);
      out.header.offset = *r;
      break;
    }
    case wire::Op::kUploadData: {
      Status st = store_->UploadData(h.aux, h.offset, req.payload);
      out = st.ok() ? Ok(h) : Error(h, st);
      break;
    }
    case wire::Op::kUploadCommit: {
      auto info = take(h.aux);
      if (!info) {
        (void)store_->UploadAbort(h.aux);
        return Error(h, Status::NotFound("no replica upload " + std::to_string(h.aux) +
                                         " on worker " + endpoint_ +
                                         " (it expired or the worker restarted)"));
      }
      if (info->epoch != epoch_.load()) {
        (void)store_->UploadAbort(h.aux);
        out = Error(h, Status::Conflict(
                           "worker " + endpoint_ + " rejoined since the copy of id " +
                           QuoteForMessage(info->id) + " began: not applied"));
        break;
      }
      if (auto have = NewerHere(info->id, info->version)) {
        (void)store_->UploadAbort(h.aux);
        out = Ok(h);
        out.header.version_no = have->version;
        break;
      }
      auto w = store_->UploadCommit(h.aux);
      if (w.ok() && info->pinned) store_->RemovePointer(info->id);
      out = Written(h, w);
      break;
    }
    default:
      take(h.aux);
      (void)store_->UploadAbort(h.aux);
      out = Ok(h);
      break;
  }
  out.header.aux = epoch_.load();
  return out;
}

std::optional<Service::Held> Service::NewerHere(std::string_view id, uint64_t version) {
  auto cur = store_->Stat(id);
  if (cur.ok()) {
    if (cur->version >= version) return Held{cur->version, cur->size};
    return std::nullopt;
  }
  if (tombstones_.Get(id) >= version) return Held{};
  return std::nullopt;
}

ServiceReply Service::Replica(const wire::Request& req,
                              std::shared_ptr<const void> keep) {
  const wire::Header& h = req.header;
  WriteOptions o;
  o.pinned = (h.flags & wire::kFlagPinned) != 0;
  o.version = h.version_no;
  std::string tmp;
  switch (h.op) {
    case wire::Op::kSet: {
      // The later write wins (versions are hybrid clocks): a copy this
      // replica already has at that version or a newer one stays.
      if (auto have = NewerHere(req.id, h.version_no)) {
        ServiceReply out = Ok(h);
        if (have->version != 0) {  // 0: deleted here after that copy was made
          out.header.version_no = have->version;
          out.header.length = have->size;
        }
        return out;
      }
      if (req.payload.size() != 1) keep.reset();
      auto w = store_->Set(req.id, Joined(req, tmp), o, keep);
      // A pinned id handed to its home (its holder left): it lives here
      // now, not where the pointer said.
      if (w.ok() && o.pinned) store_->RemovePointer(req.id);
      return Written(h, w);
    }
    case wire::Op::kAppend: {
      if (append_tokens_.Has(req.id, req.token)) {
        // Applied here before; the primary did not hear so. It takes this
        // copy rather than send the append again.
        ServiceReply out =
            Error(h, Status::AlreadyExists("the append to id " + QuoteForMessage(req.id) +
                                           " with this token was applied on replica " +
                                           endpoint_ + " before"));
        if (auto cur = store_->Stat(req.id); cur.ok()) {
          out.header.version_no = cur->version;
          out.header.length = cur->size;
        }
        return out;
      }
      o.if_size = true;
      o.expected_size = h.offset;
      auto r = store_->Append(req.id, Joined(req, tmp), o);
      if (r.ok()) append_tokens_.Put(req.id, req.token);
      ServiceReply out = Written(h, r);
      if (out.header.status == Code::kConflict) {
        // What this copy is, so the primary can tell which side is behind.
        auto cur = store_->Stat(req.id);
        if (cur.ok()) {
          out.header.version_no = cur->version;
          out.header.length = cur->size;
        }
      }
      return out;
    }
    case wire::Op::kCreate:
      return Written(h, store_->Create(req.id, o.pinned, false, h.version_no));
    case wire::Op::kDelete: {
      tombstones_.Put(req.id, h.version_no);
      Status st = store_->Delete(req.id, {});
      return Done(h, st.IsNotFound() ? Status::Ok() : st);
    }
    default:
      return Meta(req);  // SET_ATTRS
  }
}

}  // namespace shovel::worker
