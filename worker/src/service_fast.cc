// The Service's fast path for a primary's small writes: the server's I/O
// thread forwards them to the replicas without a handler (server_forward.h)
// and applies them once every replica answered OK. Only the common case is
// prepared here; whatever needs a wait, a repair or a refusal is left to
// AsPrimary on the id's lane handler (service_replica.cc), which also takes
// every write whose fast forward failed.
#include "chunk.h"
#include "lease_keeper.h"
#include "service.h"
#include "service_internal.h"

namespace shovel::worker {

using internal::Joined;
using internal::Options;
using internal::Written;

std::optional<Service::FastWrite> Service::PrepareFastWrite(const wire::Request& req) {
  const wire::Header& h = req.header;
  const bool append = h.op == wire::Op::kAppend;
  if (!(h.flags & wire::kFlagReplicas) || (h.op != wire::Op::kSet && !append) ||
      (append && req.token == 0) || !req.passed_over.empty() ||
      (h.flags & wire::kFlagExclusive) || replicator_ == nullptr || leases_ == nullptr ||
      req.id.empty()) {
    return std::nullopt;
  }
  // Applied on the I/O thread: only what Cheap lets it store (no copy of a
  // large value, no compression on the way in).
  if (!CheapToStore(req)) return std::nullopt;
  // What Serve and AsPrimary would answer otherwise: a redirect, a stale
  // epoch, a deadline passed, a join in progress.
  if (moved_count_.load(std::memory_order_relaxed) != 0 ||
      joining_.load(std::memory_order_relaxed) || StaleEpoch(h) || PastDeadline(h)) {
    return std::nullopt;
  }
  if (!(h.flags & wire::kFlagNoRedirect) && store_->FindPointer(req.id)) {
    return std::nullopt;
  }
  FastWrite w;
  w.replicas = OtherReplicas(req);
  if (w.replicas.empty()) return std::nullopt;
  // Every replica granted this worker a lease: a worker that answers, not
  // an endpoint a client made up (the I/O thread keeps a connection to each).
  if (!leases_->MayServeRead(IdList(req.id), req.replicas)) return std::nullopt;
  if (append && append_tokens_.Has(req.id, req.token)) return std::nullopt;
  auto cur = store_->Stat(req.id);
  if (!cur.ok()) {
    // An append to an id this primary lacks may have to take it from a
    // replica first (AsPrimary does).
    if (!cur.status().IsNotFound() || append) return std::nullopt;
  } else if (cur->pinned) {
    return std::nullopt;
  }
  w.have = cur.ok() ? cur->version : 0;
  w.size = cur.ok() ? cur->size : 0;
  WriteOptions o = Options(h);
  if (o.if_version && w.have != o.expected_version) return std::nullopt;
  SawCopies(static_cast<uint32_t>(1 + req.replicas.size()));
  w.version = store_->TakeVersion();
  return w;
}

ServiceReply Service::FinishFastWrite(const wire::Request& req, const FastWrite& w,
                                      std::shared_ptr<const void> keep,
                                      std::chrono::steady_clock::time_point start) {
  const wire::Header& h = req.header;
  WriteOptions o = Options(h);
  o.version = w.version;
  std::string tmp;
  ServiceReply out;
  if (h.op == wire::Op::kAppend) {
    o.if_size = true;
    o.expected_size = w.size;
    auto r = store_->Append(req.id, Joined(req, tmp), o);
    if (r.ok()) append_tokens_.Put(req.id, req.token);
    out = Written(h, r);
  } else {
    if (req.payload.size() != 1) keep.reset();
    out = Written(h, store_->Set(req.id, Joined(req, tmp), o, keep));
  }
  out.header.aux = epoch_.load();
  Count(req, out, start);
  return out;
}

}  // namespace shovel::worker
