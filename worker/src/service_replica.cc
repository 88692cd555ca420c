// The Service's replicated writes: as the id's primary (kFlagReplicas) and as
// one of its replicas (kFlagReplica). See Replicator for the forwarding.
#include "replicator.h"
#include "service.h"
#include "service_internal.h"

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
  // What the write depends on is checked here, before any replica has it.
  // Writes of one id are served one at a time (their lane), so what is
  // checked stays true until the write is applied below.
  auto cur = store_->Stat(req.id);
  if (!cur.ok() && !cur.status().IsNotFound()) return Error(h, cur.status());
  const uint64_t have = cur.ok() ? cur->version : 0;
  const uint64_t size = cur.ok() ? cur->size : 0;
  WriteOptions o = Options(h);
  if (o.if_version && have != o.expected_version) {
    return Error(h, Status::Conflict("id '" + std::string(req.id) + "' is at version " +
                                     std::to_string(have) + ", not " +
                                     std::to_string(o.expected_version)));
  }
  if (h.op == wire::Op::kCreate && (h.flags & wire::kFlagExclusive) && cur.ok()) {
    return Error(
        h, Status::AlreadyExists("id '" + std::string(req.id) + "' already exists"));
  }
  // A pinned id lives where init put it, with no replicas (yet): applied
  // here alone. The list never names this worker itself.
  wire::Request fwd = req;
  fwd.replicas.clear();
  if (!(cur.ok() && cur->pinned)) {
    for (const auto& e : req.replicas) {
      if (e != endpoint_) fwd.replicas.push_back(e);
    }
  }
  const uint64_t version = store_->TakeVersion();
  RepairFn repair = [&]() -> Result<RepairValue> {
    auto r = store_->Read(req.id, 0, wire::kToEnd, wire::kMaxMessageBytes - (1 << 20));
    if (!r.ok()) return r.status();
    if (r->more) {
      return Status::NoSpace("id '" + std::string(req.id) +
                             "' is too large to repair a replica in one message");
    }
    return RepairValue{std::string(r->bytes.data, r->bytes.size), r->version};
  };
  ForwardError fe;
  if (!fwd.replicas.empty()) fe = replicator_->Forward(fwd, version, size, repair);
  if (!fe.status.ok()) {
    ServiceReply out = Error(h, fe.status);
    // The replica at fault, for the client to route around.
    if (!fe.endpoint.empty()) out.payload.push_back({fe.endpoint, {}});
    return out;
  }
  o.version = version;
  std::string tmp;
  switch (h.op) {
    case wire::Op::kSet:
      if (req.payload.size() != 1) keep.reset();
      return Written(h, store_->Set(req.id, Joined(req, tmp), o, std::move(keep)));
    case wire::Op::kAppend:
      o.if_size = true;
      o.expected_size = size;
      return Written(h, store_->Append(req.id, Joined(req, tmp), o));
    case wire::Op::kCreate:
      return Written(h, store_->Create(req.id, o.pinned, false, version));
    case wire::Op::kDelete: {
      o.if_version = false;
      Status st = store_->Delete(req.id, o);
      if (st.IsNotFound() && store_->RemovePointer(req.id)) st = Status::Ok();
      return Done(h, st);
    }
    default:
      return Meta(req);  // SET_ATTRS
  }
}

ServiceReply Service::AsReplica(const wire::Request& req,
                                std::shared_ptr<const void> keep) {
  const wire::Header& h = req.header;
  WriteOptions o;
  o.pinned = (h.flags & wire::kFlagPinned) != 0;
  o.version = h.version_no;
  std::string tmp;
  switch (h.op) {
    case wire::Op::kSet: {
      // A write the primary numbered before one this replica already has
      // (a repair racing a newer write) changes nothing.
      auto cur = store_->Stat(req.id);
      if (cur.ok() && cur->version >= h.version_no) {
        ServiceReply out = Ok(h);
        out.header.version_no = cur->version;
        out.header.length = cur->size;
        return out;
      }
      if (req.payload.size() != 1) keep.reset();
      return Written(h, store_->Set(req.id, Joined(req, tmp), o, std::move(keep)));
    }
    case wire::Op::kAppend:
      o.if_size = true;
      o.expected_size = h.offset;
      return Written(h, store_->Append(req.id, Joined(req, tmp), o));
    case wire::Op::kCreate:
      return Written(h, store_->Create(req.id, o.pinned, false, h.version_no));
    case wire::Op::kDelete: {
      Status st = store_->Delete(req.id, {});
      return Done(h, st.IsNotFound() ? Status::Ok() : st);
    }
    default:
      return Meta(req);  // SET_ATTRS
  }
}

}  // namespace shovel::worker
