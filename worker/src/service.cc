#include "service.h"

#include <algorithm>
#include <thread>

#include "chunk.h"
#include "handover.h"
#include "large_copy.h"
#include "lease_keeper.h"
#include "replicator.h"
#include "service_internal.h"
#include "shovel/hrw.h"
#include "shovel/text.h"
#include "shovel/version.h"
#include "watches.h"

namespace shovel::worker {
namespace {

using internal::Joined;
using internal::Ok;
using internal::Options;
using internal::Written;

bool UsesPointer(wire::Op op) {
  switch (op) {
    case wire::Op::kPing:
    case wire::Op::kNodeStats:
    case wire::Op::kList:
    case wire::Op::kPutPointer:
    case wire::Op::kRenewWatches:
    case wire::Op::kUploadData:
    case wire::Op::kUploadCommit:
    case wire::Op::kUploadAbort:
      return false;
    default:
      return true;
  }
}

}  // namespace

Service::Service(Store* store, ServiceCounters* counters, std::string endpoint,
                 Replicator* replicator)
    : store_(store),
      counters_(counters),
      replicator_(replicator),
      endpoint_(std::move(endpoint)),
      epoch_(static_cast<uint64_t>(NowNs())) {
  CatchUpFor(kCatchUpAtStart);
}

bool Service::CatchingUp() const {
  return std::chrono::steady_clock::now().time_since_epoch().count() <
         catch_up_until_ns_.load(std::memory_order_relaxed);
}

void Service::CatchUpFor(std::chrono::nanoseconds d) {
  const int64_t until = (std::chrono::steady_clock::now().time_since_epoch() + d).count();
  int64_t cur = catch_up_until_ns_.load(std::memory_order_relaxed);
  while (cur < until && !catch_up_until_ns_.compare_exchange_weak(cur, until)) {
  }
}

void Service::PullIfCatchingUp(const wire::Request& req) {
  if (!CatchingUp() || req.id.empty() || replicator_ == nullptr || !MissingHere(req.id)) {
    return;
  }
  std::vector<std::string> others = OtherReplicas(req);
  if (others.empty()) return;
  // Not there, or no answer: the client asks the other copies itself.
  auto got = replicator_->Fetch(others, req.id);
  if (got.ok()) KeepFetched(req.id, got->bytes, got->version);
}

bool Service::MissingHere(std::string_view id) {
  // Deleted here: an older copy must not come back.
  return tombstones_.Get(id) == 0 && store_->Stat(id).status().IsNotFound();
}

void Service::KeepFetched(std::string_view id, std::string_view bytes, uint64_t version) {
  WriteOptions o;
  o.version = version;
  o.if_version = true;  // unless written here meanwhile
  o.expected_version = 0;
  (void)store_->Set(id, bytes, o);
}

ServiceReply Service::Error(const wire::Header& req, const Status& st) {
  ServiceReply out{wire::ReplyHeader(req, st.code()), {}};
  out.payload.push_back({st.message(), {}});
  return out;
}

ServiceReply Service::Handle(const wire::Request& req, std::shared_ptr<const void> keep) {
  const auto start = std::chrono::steady_clock::now();
  ServiceReply out = Serve(req, std::move(keep));
  Count(req, out, start);
  return out;
}

void Service::Count(const wire::Request& req, const ServiceReply& out,
                    std::chrono::steady_clock::time_point start) {
  uint64_t in = 0, sent = 0;
  // A BATCH's items count their own bytes; an error's text is not data.
  if (req.header.op != wire::Op::kBatch) {
    for (std::string_view p : req.payload) in += p.size();
    if (out.header.status == Code::kOk) {
      for (const Frame& f : out.payload)
        sent += f.slice.owner ? f.slice.size : f.bytes.size();
    }
  }
  counters_->requests.Record(req.header.op, out.header.status, in, sent,
                             std::chrono::steady_clock::now() - start);
  if (counters_->errors != nullptr && RequestErrorLog::Logged(out.header.status)) {
    counters_->errors->Report(
        wire::OpName(req.header.op), req.id,
        Status(out.header.status, out.payload.empty() ? "" : out.payload[0].bytes));
  }
}

ServiceReply Service::Serve(const wire::Request& req, std::shared_ptr<const void> keep) {
  const wire::Header& h = req.header;
  // A replica's write applies here: it follows no pointer (a pinned id
  // handed to its home replaces the home's pointer).
  if (UsesPointer(h.op) && !(h.flags & (wire::kFlagNoRedirect | wire::kFlagReplica))) {
    if (auto p = store_->FindPointer(req.id)) {
      // DELETE at the home drops the pointer; the client follows the
      // redirect to delete the data where it lives.
      if (h.op == wire::Op::kDelete) store_->RemovePointer(req.id);
      ServiceReply out{wire::ReplyHeader(h, Code::kRedirect), {}};
      out.payload.push_back({p->endpoint, {}});
      out.payload.push_back({p->node_id, {}});
      return out;
    }
    if (moved_count_.load(std::memory_order_relaxed) != 0) {
      if (auto to = MovedTo(req.id)) {
        ServiceReply out{wire::ReplyHeader(h, Code::kRedirect), {}};
        out.payload.push_back({to->first, {}});
        out.payload.push_back({to->second, {}});
        return out;
      }
    }
  }
  if (h.flags & wire::kFlagReplicas) return AsPrimary(req, std::move(keep));
  if (h.flags & wire::kFlagReplica) return AsReplica(req, std::move(keep));
  if (joining_.load(std::memory_order_relaxed)) PullIfJoining(req);
  switch (h.op) {
    case wire::Op::kEpoch:
      return Epoch(h);
    case wire::Op::kLease:
      return Lease(req);
    case wire::Op::kRenewWatches: {
      ServiceReply out = Ok(h);
      if (watches_ != nullptr)
        out.header.aux = watches_->Renew(SteadyNowNs()) / 1'000'000;
      return out;
    }
    case wire::Op::kHandover: {
      if (handover_ == nullptr) {
        return Error(h, Status::Protocol("worker " + endpoint_ + " does not hand over"));
      }
      auto body = wire::DecodeHandover(req.payload[0]);
      if (!body.ok()) return Error(h, body.status());
      // Only a joiner asks (workers exchanging leases start their own).
      const bool move = body->replicas == 1;
      handover_->Start(*std::move(body), move);
      return Ok(h);
    }
    case wire::Op::kDrain: {
      if (!drain_) {
        return Error(h, Status::InvalidArgument(
                            "worker " + endpoint_ +
                            " cannot be drained: it runs inside another program "
                            "(a mount's embedded worker); stop that program"));
      }
      auto body = wire::DecodeHandover(req.payload[0]);
      if (!body.ok()) return Error(h, body.status());
      Status s = drain_(*body);
      if (!s.ok()) return Error(h, s);
      return Ok(h);
    }
    case wire::Op::kPing: {
      ServiceReply out = Ok(h);
      out.header.aux = epoch_.load();
      out.payload.push_back({store_->node_id(), {}});
      return out;
    }
    case wire::Op::kGet:
      return Get(req);
    case wire::Op::kSet:
    case wire::Op::kAppend:
    case wire::Op::kCreate:
      return Write(req, std::move(keep));
    case wire::Op::kUploadBegin:
    case wire::Op::kUploadData:
    case wire::Op::kUploadCommit:
    case wire::Op::kUploadAbort:
      return Upload(req);
    case wire::Op::kList:
      return List(req);
    case wire::Op::kNodeStats: {
      ServiceReply out = Ok(h);
      out.payload.push_back({wire::EncodeNodeStats(Stats()), {}});
      return out;
    }
    case wire::Op::kTransfer:
      return Error(h, Status::Protocol("TRANSFER is reserved and not served by "
                                       "this worker version"));
    case wire::Op::kBatch:
      return Batch(req);
    default:
      return Meta(req);
  }
}

void Service::SetJoining(std::shared_ptr<const JoinPlan> plan) {
  std::lock_guard<std::mutex> l(join_mu_);
  joining_.store(plan != nullptr);
  join_ = std::move(plan);
}

void Service::MarkMoved(const std::string& id, const std::string& endpoint,
                        const std::string& node) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(moved_mu_);
  if (moved_.size() % 4096 == 0) {  // now and then, the expired go
    std::erase_if(moved_, [&](const auto& m) { return m.second.until <= now; });
  }
  moved_[id] = Moved{endpoint, node, now + kMovedFor};
  moved_count_.store(moved_.size());
}

void Service::UnmarkMoved(const std::string& id) {
  std::lock_guard<std::mutex> l(moved_mu_);
  moved_.erase(id);
  moved_count_.store(moved_.size());
}

std::optional<std::pair<std::string, std::string>> Service::MovedTo(std::string_view id) {
  std::lock_guard<std::mutex> l(moved_mu_);
  auto it = moved_.find(id);
  if (it == moved_.end()) return std::nullopt;
  if (it->second.until <= std::chrono::steady_clock::now()) {
    moved_.erase(it);
    moved_count_.store(moved_.size());
    return std::nullopt;
  }
  return std::make_pair(it->second.endpoint, it->second.node);
}

void Service::PullIfJoining(const wire::Request& req) {
  switch (req.header.op) {
    case wire::Op::kGet:
    case wire::Op::kStat:
    case wire::Op::kAppend:
    case wire::Op::kCreate:
    case wire::Op::kSetAttrs:
    case wire::Op::kRename:
    case wire::Op::kDelete:
    case wire::Op::kUploadBegin:
      break;
    default:
      return;  // SET replaces it: its version is newer than any copy
  }
  std::shared_ptr<const JoinPlan> plan;
  {
    std::lock_guard<std::mutex> l(join_mu_);
    plan = join_;
  }
  if (plan == nullptr || req.id.empty() || replicator_ == nullptr ||
      !MissingHere(req.id)) {
    return;
  }
  std::vector<size_t> ranked = RankNodes(req.id, plan->nodes);
  if (ranked.size() < 2 || ranked[0] != plan->self) return;  // not moving here
  auto got = replicator_->Fetch({plan->endpoints[ranked[1]]}, req.id);
  if (got.ok()) KeepFetched(req.id, got->bytes, got->version);
  // Deleted here: the hand-over's copy (older) must not bring it back.
  if (req.header.op == wire::Op::kDelete) tombstones_.Put(req.id, store_->TakeVersion());
}

bool Service::CheapToStore(const wire::Request& req) const {
  if (req.payload_bytes <= kCheapBytes) return true;
  // A large value in one frame is kept as it arrived (Server hands the
  // frame over): storing it is a probe and a table insert.
  return req.header.op == wire::Op::kSet && req.payload.size() == 1 &&
         store_->CheapSet(req.payload_bytes);
}

void Service::SawCopies(uint32_t copies) {
  uint32_t seen = replicas_seen_.load(std::memory_order_relaxed);
  while (copies > seen && !replicas_seen_.compare_exchange_weak(seen, copies)) {
  }
}

std::vector<std::string> Service::OtherReplicas(const wire::Request& req) const {
  std::vector<std::string> out;
  for (const auto& e : req.replicas) {
    if (e != endpoint_) out.push_back(e);
  }
  return out;
}

bool Service::Cheap(const wire::Request& req) {
  if (joining_.load(std::memory_order_relaxed) && !req.id.empty() &&
      !(req.header.flags & (wire::kFlagReplica | wire::kFlagReplicas)) &&
      store_->Stat(req.id).status().IsNotFound()) {
    return false;  // may take the id from its previous holder first
  }
  if (req.header.flags & wire::kFlagReplicas) {
    // A primary waits for its replicas: never on the I/O thread. A read
    // as the primary may be, under leases it holds already.
    const bool read = req.header.op == wire::Op::kGet ||
                      req.header.op == wire::Op::kStat ||
                      req.header.op == wire::Op::kBatch;
    if (!read || leases_ == nullptr || !req.passed_over.empty() ||
        !(req.header.op == wire::Op::kBatch
              ? leases_->MayServeRead(BatchIds(req), req.replicas)
              : leases_->MayServeRead(IdList(req.id), req.replicas))) {
      return false;
    }
    // Catching up: an id missing here is taken from a replica first.
    if (req.header.op != wire::Op::kBatch && CatchingUp() &&
        store_->Stat(req.id).status().IsNotFound()) {
      return false;
    }
  }
  switch (req.header.op) {
    case wire::Op::kLease:
    case wire::Op::kPing:
    case wire::Op::kStat:
    case wire::Op::kCreate:
    case wire::Op::kBatch:
    case wire::Op::kRenewWatches:
      return true;
    case wire::Op::kSet:
    case wire::Op::kAppend:
      return CheapToStore(req);
    case wire::Op::kList:
      // A few names (a lookup's one-name LIST): a walk of the sorted index.
      return req.header.aux != 0 && req.header.aux <= kCheapListNames;
    case wire::Op::kGet:
      // Small, or a zero-copy slice of one raw chunk (any size): no
      // decompression and no copy on this thread.
      return store_->CheapRead(req.id, req.header.offset, req.header.length,
                               kMaxReplyBytes, kCheapBytes);
    default:
      return false;
  }
}

ServiceReply Service::Batch(const wire::Request& req) {
  const wire::Header& h = req.header;
  // The whole body is checked before any item is served (a BATCH that does
  // not decode touches no id), then read again item by item: neither pass
  // allocates per item.
  if (Status st = wire::CheckBatchBody(req.payload[0], h.aux); !st.ok()) {
    return Error(h, st);
  }
  wire::BatchReader reader(req.payload[0], h.aux);
  wire::BatchWriter out;
  // A little over the last reply's bytes per item: most BATCHes then build
  // their reply without a reallocation. At most 4 MiB on a hint's word (a
  // larger reply grows as it goes).
  uint64_t per_item = batch_item_bytes_.load(std::memory_order_relaxed);
  out.Reserve(std::min<uint64_t>(h.aux * (per_item + per_item / 8 + 16), 4 << 20));
  std::vector<std::string_view> views;
  wire::Frames frames;
  for (uint64_t i = 0; i < h.aux; ++i) {
    (void)reader.Next(&frames);  // checked above
    auto item = wire::DecodeBatchItem(frames);
    if (!item.ok()) {
      counters_->Malformed(item.status());
      auto ih = wire::DecodeHeader(frames.empty() ? std::string_view() : frames[0]);
      AddReply(Error(ih.ok() ? *ih : wire::Header(), item.status()), out, views);
    } else if ((h.flags & wire::kFlagReplicas) && item->header.op != wire::Op::kGet &&
               item->header.op != wire::Op::kStat) {
      // Served under the primary's leases: reads only (a write waits for
      // its replicas, on its own).
      AddReply(Error(item->header,
                     Status::Protocol(std::string(wire::OpName(item->header.op)) +
                                      " cannot be sent in a BATCH to a primary "
                                      "(kFlagReplicas): reads only")),
               out, views);
    } else {
      // Joining: on the I/O thread too (a round trip per id missing here,
      // only while the hand-over runs).
      if (joining_.load(std::memory_order_relaxed)) PullIfJoining(*item);
      AddBatchItem(*item, out, views);
    }
  }
  if (out.count() > 0) {
    batch_item_bytes_.store(static_cast<uint32_t>(out.bytes() / out.count()),
                            std::memory_order_relaxed);
  }
  ServiceReply reply = Ok(h);
  reply.header.aux = out.count();
  reply.payload.push_back({out.Take(), {}});
  return reply;
}

void Service::AddReply(const ServiceReply& rep, wire::BatchWriter& out,
                       std::vector<std::string_view>& views) {
  views.clear();
  for (const Frame& f : rep.payload) {
    views.push_back(f.slice.owner ? std::string_view(f.slice.data, f.slice.size)
                                  : std::string_view(f.bytes));
  }
  out.AddReply(rep.header, views);
}

void Service::AddBatchItem(const wire::Request& req, wire::BatchWriter& out,
                           std::vector<std::string_view>& views) {
  const wire::Header& h = req.header;
  if (h.op != wire::Op::kGet ||
      (!(h.flags & wire::kFlagNoRedirect) &&
       (store_->FindPointer(req.id) ||
        (moved_count_.load(std::memory_order_relaxed) != 0 && MovedTo(req.id))))) {
    return AddReply(Handle(req), out, views);
  }
  // A GET item carries at most kMaxBatchItemBytes; for a larger range it
  // answers with no bytes and kFlagMore (without decompressing anything).
  auto r = store_->ReadIfFits(req.id, h.offset, h.length, wire::kMaxBatchItemBytes);
  if (!r.ok()) {
    ServiceReply miss = Error(h, r.status());
    if (r.status().IsNotFound()) miss.header.version_no = tombstones_.Get(req.id);
    return AddReply(miss, out, views);
  }
  // Written straight into the batch: no ServiceReply (a vector and a frame)
  // made and freed per item.
  wire::Header rh = wire::ReplyHeader(h, Code::kOk);
  rh.offset = r->offset;
  rh.length = r->size;
  rh.version_no = r->version;
  if (r->more) rh.flags |= wire::kFlagMore;
  views.assign(1, std::string_view(r->bytes.data, r->bytes.size));
  out.AddReply(rh, views);
}

ServiceReply Service::Get(const wire::Request& req, uint64_t max_bytes) {
  const wire::Header& h = req.header;
  auto r = store_->Read(req.id, h.offset, h.length, max_bytes);
  if (!r.ok()) {
    ServiceReply out = Error(h, r.status());
    if (r.status().IsNotFound()) out.header.version_no = tombstones_.Get(req.id);
    return out;
  }
  return ReadReply(h, std::move(*r));
}

ServiceReply Service::ReadReply(const wire::Header& h, ReadResult r) {
  ServiceReply out = Ok(h);
  out.header.offset = r.offset;
  out.header.length = r.size;
  out.header.version_no = r.version;
  if (r.more) out.header.flags |= wire::kFlagMore;
  Frame f;
  f.slice = std::move(r.bytes);
  if (!f.slice.owner) f.slice.owner = std::make_shared<char>(0);
  out.payload.push_back(std::move(f));
  return out;
}

ServiceReply Service::Write(const wire::Request& req, std::shared_ptr<const void> keep) {
  const wire::Header& h = req.header;
  std::string tmp;
  switch (h.op) {
    case wire::Op::kSet: {
      if (req.payload.size() != 1) keep.reset();
      ServiceReply out =
          Written(h, store_->Set(req.id, Joined(req, tmp), Options(h), keep));
      if ((h.flags & wire::kFlagWatch) && out.header.status == Code::kOk) {
        WatchWritten(req, out);
      }
      return out;
    }
    case wire::Op::kAppend:
      return Written(h, store_->Append(req.id, Joined(req, tmp), Options(h)));
    default:
      return Written(h, store_->Create(req.id, (h.flags & wire::kFlagPinned) != 0,
                                       (h.flags & wire::kFlagExclusive) != 0));
  }
}

void Service::WatchWritten(const wire::Request& req, ServiceReply& out) {
  if (watches_ == nullptr) return;
  // Granted after the write (which ended the id's earlier watches), before
  // the read: a later change is recalled.
  const int64_t term = watches_->Grant(req.id, SteadyNowNs());
  if (term <= 0) return;
  auto st = store_->Stat(req.id);
  if (!st.ok()) return;
  out.header.flags |= wire::kFlagWatch;
  out.header.aux = static_cast<uint64_t>(term / 1'000'000);
  out.payload.push_back({wire::EncodeStat(*st), {}});
}

ServiceReply Service::Upload(const wire::Request& req) {
  const wire::Header& h = req.header;
  switch (h.op) {
    case wire::Op::kUploadBegin: {
      std::vector<std::string> replicas;
      if (!req.payload.empty()) {
        auto list = wire::DecodeStrings(req.payload[0]);
        if (!list.ok()) return Error(h, list.status());
        for (auto& e : *list) {
          if (e != endpoint_) replicas.push_back(std::move(e));
        }
        if (!replicas.empty() && replicator_ == nullptr) {
          return Error(h,
                       Status::Protocol("worker " + endpoint_ + " does not replicate"));
        }
      }
      // A streamed write is taken, and committed, only under a lease from
      // each replica (as a single write is served).
      if (!replicas.empty()) {
        if (auto refused = LeaseRefused(h, replicas, {}, IdList(req.id))) return *refused;
      }
      auto r = store_->UploadBegin(req.id, (h.flags & wire::kFlagAppendMode) != 0,
                                   Options(h), h.length);
      if (!r.ok()) return Error(h, r.status());
      if (!replicas.empty()) {
        std::lock_guard<std::mutex> l(uploads_mu_);
        // Uploads that expired leave theirs: bounded, oldest out first.
        if (upload_replicas_.size() >= kMaxUploadReplicas) {
          upload_replicas_.erase(upload_replicas_.begin());
        }
        upload_replicas_[*r] = {std::string(req.id), std::move(replicas)};
      }
      ServiceReply out = Ok(h);
      out.header.aux = *r;
      return out;
    }
    case wire::Op::kUploadData: {
      Status st = store_->UploadData(h.aux, h.offset, req.payload);
      if (!st.ok()) return Error(h, st);
      ServiceReply out = Ok(h);
      out.header.aux = h.aux;
      out.header.offset = h.offset + req.payload_bytes;
      return out;
    }
    case wire::Op::kUploadCommit: {
      UploadReplicas to = TakeUploadReplicas(h.aux);
      if (!to.replicas.empty()) {
        const std::string_view id = to.id;
        if (auto refused = LeaseRefused(h, to.replicas, {}, IdList(id))) {
          (void)store_->UploadAbort(h.aux);  // the client sends it again, whole
          return *refused;
        }
      }
      auto w = store_->UploadCommit(h.aux);
      if (!w.ok() || to.replicas.empty()) return Written(h, w);
      return ForwardCommitted(h, to, *w);
    }
    default: {
      TakeUploadReplicas(h.aux);
      Status st = store_->UploadAbort(h.aux);
      return st.ok() ? Ok(h) : Error(h, st);
    }
  }
}

Service::UploadReplicas Service::TakeUploadReplicas(uint64_t handle) {
  std::lock_guard<std::mutex> l(uploads_mu_);
  auto it = upload_replicas_.find(handle);
  if (it == upload_replicas_.end()) return {};
  UploadReplicas out = std::move(it->second);
  upload_replicas_.erase(it);
  return out;
}

ServiceReply Service::ForwardCommitted(const wire::Header& h, const UploadReplicas& to,
                                       const WriteResult& w) {
  // The whole value, as this worker now holds it, with its version: a
  // replica keeps a newer copy it has.
  auto v = store_->ReadIfFits(to.id, 0, wire::kToEnd, Replicator::kMaxFetch);
  if (!v.ok() || v->version != w.version) return Written(h, w);  // changed since
  if (v->more) {
    // Over one message: part by part, to each replica in turn.
    ForwardError fe = CopyLargeValue(*replicator_, *store_, to.replicas, to.id, w.version,
                                     v->size, false);
    if (fe.status.ok()) return Written(h, w);
    if (auto now = store_->Stat(to.id); !now.ok() || now->version != w.version) {
      return Written(h, w);  // changed since: the newer write was replicated
    }
    ServiceReply out = Error(h, fe.status);
    if (!fe.endpoint.empty()) out.payload.push_back({fe.endpoint, {}});
    return out;
  }
  wire::Request fwd;
  fwd.header.op = wire::Op::kSet;
  fwd.id = to.id;
  fwd.payload = {std::string_view(v->bytes.data, v->bytes.size)};
  fwd.replicas = to.replicas;
  ForwardError fe = replicator_->Forward(fwd, w.version, 0, w.version, nullptr, {});
  if (fe.status.ok()) return Written(h, w);
  ServiceReply out = Error(h, fe.status);
  if (!fe.endpoint.empty()) out.payload.push_back({fe.endpoint, {}});
  return out;
}

ServiceReply Service::Meta(const wire::Request& req) {
  const wire::Header& h = req.header;
  Status st;
  switch (h.op) {
    case wire::Op::kDelete:
      st = store_->Delete(req.id, Options(h));
      if (st.IsNotFound() && store_->RemovePointer(req.id)) st = Status::Ok();
      break;
    case wire::Op::kStat: {
      // Granted before the read: a change after it is recalled (watches.h).
      int64_t term = 0;
      if ((h.flags & wire::kFlagWatch) && watches_ != nullptr) {
        term = watches_->Grant(req.id, SteadyNowNs());
      }
      auto r = store_->Stat(req.id);
      if (!r.ok()) {
        ServiceReply out = Error(h, r.status());
        if (r.status().IsNotFound()) out.header.version_no = tombstones_.Get(req.id);
        return out;
      }
      ServiceReply out = Ok(h);
      out.header.length = r->size;
      out.header.version_no = r->version;
      if (term > 0) {
        out.header.flags |= wire::kFlagWatch;
        out.header.aux = static_cast<uint64_t>(term / 1'000'000);
      }
      out.payload.push_back({wire::EncodeStat(*r), {}});
      return out;
    }
    case wire::Op::kSetAttrs: {
      auto set = wire::DecodeAttrs(req.payload[0]);
      if (!set.ok()) return Error(h, set.status());
      std::vector<std::string> drop;
      if (req.payload.size() > 1) {
        auto d = wire::DecodeStrings(req.payload[1]);
        if (!d.ok()) return Error(h, d.status());
        drop = std::move(*d);
      }
      st = store_->SetAttrs(req.id, *set, drop);
      break;
    }
    case wire::Op::kRename:
      st = store_->Rename(req.id, req.payload[0], (h.flags & wire::kFlagExclusive) != 0);
      break;
    case wire::Op::kPutPointer:
      st = store_->PutPointer(req.id,
                              {std::string(req.payload[0]), std::string(req.payload[1])});
      break;
    default:
      st = Status::Protocol("opcode " + std::string(wire::OpName(h.op)) +
                            " is not served");
  }
  return st.ok() ? Ok(h) : Error(h, st);
}

ServiceReply Service::List(const wire::Request& req) {
  const wire::Header& h = req.header;
  bool delimiter = (h.flags & wire::kFlagDelimiter) != 0;
  std::string_view cursor = req.payload.empty() ? std::string_view() : req.payload[0];
  size_t limit = h.aux == 0 ? kDefaultListLimit : h.aux;
  ListResult r = store_->List(req.id, cursor, limit, delimiter);
  ServiceReply out = Ok(h);
  out.header.aux = r.names.size();
  if (r.more) out.header.flags |= wire::kFlagMore;
  out.payload.push_back({wire::EncodeStrings(r.names), {}});
  return out;
}

wire::NodeStats Service::Stats() const {
  StoreStats s = store_->Stats();
  wire::NodeStats n;
  n.node_id = store_->node_id();
  n.endpoint = endpoint_;
  n.cores = std::thread::hardware_concurrency();
  n.mem_used = s.mem_used;
  n.mem_limit = s.mem_limit;
  n.ids = s.ids;
  n.pinned_bytes = s.pinned_bytes;
  n.evictions = s.evictions;
  n.malformed = counters_->malformed.load();
  n.load = static_cast<double>(counters_->in_flight.load());
  const WorkerSample sample = Sample();
  n.handover_ids = sample.handover_ids;
  n.handover_bytes = sample.handover_bytes;
  n.handover_jobs = static_cast<uint32_t>(sample.handover_jobs);
  if (leave_ != nullptr) {
    n.leave_state = std::string(LeaveProgress::Name(sample.leave_state));
    n.leave_ids = leave_->ids.load();
    n.leave_failed = leave_->failed.load();
  }
  n.version = "shoveling " + Version();
  n.counters = NamedCounters(sample);
  return n;
}

WorkerSample Service::Sample() const {
  StoreStats st = store_->Stats();
  StoreTotals totals = store_->Totals();
  WorkerSample s;
  s.node_id = store_->node_id();
  s.requests = counters_->requests.Sample();
  s.evictions = st.evictions;
  s.evicted_bytes = st.evicted_bytes;
  s.mem_used = st.mem_used;
  s.mem_limit = st.mem_limit;
  s.raw_bytes = totals.raw_bytes;
  s.stored_bytes = totals.stored_bytes;
  s.pinned_bytes = st.pinned_bytes;
  s.ids = st.ids;
  s.uploads = st.uploads;
  s.decoded_hits = st.decoded_hits;
  s.decoded_misses = st.decoded_misses;
  s.decoded_bytes = st.decoded_bytes;
  s.decoded_capacity = st.decoded_capacity;
  s.in_flight = counters_->in_flight.load();
  // A connection accepted between Bind and Start is seen only closing.
  s.connections = std::max<int64_t>(0, counters_->connections.load());
  s.malformed = counters_->malformed.load();
  if (handover_ != nullptr) {
    s.handover_ids = handover_->ids_copied();
    s.handover_bytes = handover_->bytes_copied();
    s.handover_jobs = handover_->pending();
  }
  if (leave_ != nullptr) {
    s.leave_state = leave_->state.load();
    s.handover_ids += leave_->copied.load();
    s.handover_bytes += leave_->bytes.load();
    if (s.leave_state == LeaveProgress::kCopying ||
        s.leave_state == LeaveProgress::kFinal) {
      ++s.handover_jobs;
    }
  }
  return s;
}

}  // namespace shovel::worker
