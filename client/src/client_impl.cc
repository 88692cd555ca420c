#include "client_impl.h"

#include <algorithm>
#include <cstdlib>

#include "placement.h"
#include "shovel/ids.h"

namespace shovel::client {

using wire::Op;

Status ReplyError(const Response& r) {
  Status s = wire::ReplyStatus(r.reply);
  if (s.ok() || !s.message().empty()) return s;
  return Status(s.code(),
                "worker " + r.endpoint + " answered " + std::string(CodeName(s.code())));
}

ClientImpl::ClientImpl(ClientDeps deps)
    : options_(std::move(deps.options)),
      transport_(std::move(deps.transport)),
      membership_(std::move(deps.membership)),
      distance_(std::move(deps.distance)) {
  keyed_ = deps.curve != nullptr;
  OnMembershipChange();
  // The membership may outlive this object (another thread can hold it a
  // moment longer): its listener reaches this object only through `alive_`,
  // which the destructor clears, waiting for a call in progress.
  membership_->Subscribe([alive = alive_](uint64_t) {
    std::lock_guard<std::mutex> lock(alive->mu);
    if (alive->self) alive->self->OnMembershipChange();
  });
}

ClientImpl::~ClientImpl() {
  {
    std::lock_guard<std::mutex> lock(alive_->mu);
    alive_->self = nullptr;
  }
  membership_.reset();
}

void ClientImpl::OnMembershipChange() {
  auto view = std::make_shared<PlacementView>();
  MemberSet set = membership_->Snapshot();
  view->generation = set.generation;
  view->members = std::move(set.members);
  for (const auto& m : view->members) {
    view->node_ids.push_back(m.node_id);
    view->node_of_endpoint[m.endpoint] = m.node_id;
  }
  // The caller's choice, else the cluster's (Consul KV), else the default;
  // never more than there are workers.
  size_t want = options_.replicas != 0 ? options_.replicas
                : set.replicas != 0    ? set.replicas
                                       : ClientOptions::kDefaultReplicas;
  view->replicas = std::max<size_t>(1, std::min<size_t>(want, view->members.size()));
  std::lock_guard<std::mutex> lock(mu_);
  if (!view_ || view_->generation <= view->generation) view_ = std::move(view);
}

std::shared_ptr<const PlacementView> ClientImpl::View() {
  std::lock_guard<std::mutex> lock(mu_);
  return view_;
}

std::string ClientImpl::NodeOf(const std::string& endpoint) {
  auto view = View();
  auto it = view->node_of_endpoint.find(endpoint);
  return it == view->node_of_endpoint.end() ? endpoint : it->second;
}

OutRequest ClientImpl::MakeRequest(Op op, std::string_view id, uint16_t flags) const {
  OutRequest r;
  r.header.op = op;
  r.header.flags = flags;
  r.id = id;
  r.deadline = options_.deadline;
  switch (op) {
    case Op::kGet:
    case Op::kStat:
    case Op::kList:
    case Op::kPing:
    case Op::kNodeStats:
      r.idempotent = true;
      break;
    case Op::kCreate:
      r.idempotent = !(flags & wire::kFlagExclusive);
      break;
    default:
      r.idempotent = false;
  }
  return r;
}

Result<std::string> ClientImpl::HomeEndpoint(std::string_view id) {
  return HomeEndpoint(id, *View());
}

Result<std::string> ClientImpl::HomeEndpoint(std::string_view id,
                                             const PlacementView& view) {
  if (view.members.empty()) return Status::Unavailable("no workers are known");
  size_t i = RouteNode(id, view.node_ids, [&](size_t k) { return Avoid(view, k); });
  return view.members[i].endpoint;
}

Result<std::string> ClientImpl::FirstEndpoint(std::string_view id,
                                              const PlacementView& view) {
  if (auto cached = redirects_.Lookup(id, view.generation)) return cached->endpoint;
  return HomeEndpoint(id, view);
}

Result<ResponsePtr> ClientImpl::CallIdOnce(const OutRequest& req, std::string endpoint,
                                           uint64_t generation, PrimaryNotes* notes) {
  constexpr int kMaxRedirects = 3;
  // A redirect leads to a pinned id's holder, which has no replicas: the
  // write follows it without the replica list.
  OutRequest unlisted;
  const OutRequest* send = &req;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    SHOVEL_ASSIGN_OR_RETURN(ResponsePtr r, transport_->Call(endpoint, *send));
    if (send->header.flags & wire::kFlagReplicas) {
      if (r->reply.header.status == Code::kUnavailable && r->reply.payload.size() >= 2 &&
          !r->reply.payload[1].empty()) {
        transport_->MarkDown(std::string(r->reply.payload[1]));
        if (notes) notes->replica_failed = true;
      }
      if (r->reply.header.status == Code::kUnavailable && r->reply.payload.size() >= 3 &&
          notes) {
        notes->live_primary = std::string(r->reply.payload[2]);
      }
      if (notes) notes->epoch = r->reply.header.aux;
    }
    if (notes) notes->version = r->reply.header.version_no;
    if (r->reply.header.status != Code::kRedirect) {
      SHOVEL_RETURN_IF_ERROR(ReplyError(*r));
      return r;
    }
    if (r->reply.payload.empty() || r->reply.payload[0].empty()) {
      return Status::Protocol("worker " + endpoint +
                              " sent a redirect without an endpoint");
    }
    Redirect to{std::string(r->reply.payload[0]),
                r->reply.payload.size() > 1 ? std::string(r->reply.payload[1]) : ""};
    if (to.endpoint == endpoint) break;
    endpoint = to.endpoint;
    if ((send->header.flags & wire::kFlagReplicas) && send == &req) {
      unlisted = req;
      unlisted.header.flags &= ~wire::kFlagReplicas;
      unlisted.payload.pop_back();
      send = &unlisted;
    }
    redirects_.Put(req.id, std::move(to), generation);
  }
  return Status::Unavailable("id '" + std::string(req.id) +
                             "' was redirected too many times (pointer loop at " +
                             endpoint + ")");
}

Result<ResponsePtr> ClientImpl::CallId(const OutRequest& req) {
  auto view = View();
  if (auto cached = redirects_.Lookup(req.id, view->generation)) {
    // Stale when the id is not there (it moved home again) or its holder is
    // gone (a worker that leaves hands its pinned ids to their home).
    auto gone = [&](const Status& st) {
      return st.code() == Code::kUnavailable &&
             (transport_->IsDown(cached->endpoint) ||
              st.message().find(" is shutting down") != std::string::npos);
    };
    if (!transport_->IsDown(cached->endpoint)) {
      auto r = CallIdOnce(req, cached->endpoint, view->generation);
      if (r.ok() || !(r.status().IsNotFound() || gone(r.status()))) return r;
    }
    redirects_.Erase(req.id);
  }
  return CallPrimary(req, std::move(view));
}

Result<uint64_t> ClientImpl::WriteSmall(Op op, std::string_view id,
                                        std::string_view data) {
  OutRequest req = MakeRequest(op, id);
  req.payload.push_back(data);
  // A large value is lent, not copied: wait until the transport gave it back.
  if (data.size() >= PayloadLoan::kLendAbove) req.loan = std::make_shared<PayloadLoan>();
  auto r = CallId(req);
  if (req.loan) req.loan->WaitReturned();
  if (!r.ok()) return r.status();
  return (*r)->reply.header.version_no;
}

Result<uint64_t> ClientImpl::Set(std::string_view id, std::string_view data) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  if (data.size() <= options_.stream_chunk) return WriteSmall(Op::kSet, id, data);
  auto w = NewUploadWriter(this, std::string(id), WriteMode::kSet, data.size());
  SHOVEL_RETURN_IF_ERROR(w->Write(data));
  return w->Commit();
}

Result<uint64_t> ClientImpl::Append(std::string_view id, std::string_view data) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  if (data.size() <= options_.stream_chunk) return WriteSmall(Op::kAppend, id, data);
  auto w = NewUploadWriter(this, std::string(id), WriteMode::kAppend, data.size());
  SHOVEL_RETURN_IF_ERROR(w->Write(data));
  return w->Commit();
}

Result<std::unique_ptr<Writer>> ClientImpl::OpenWriter(std::string_view id,
                                                       WriteMode mode,
                                                       uint64_t size_hint) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  return NewUploadWriter(this, std::string(id), mode, size_hint);
}

Status ClientImpl::ReadRange(std::string_view id, uint64_t offset, uint64_t length,
                             std::string* out, GetInfo* info, ResponsePtr* whole) {
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    out->clear();
    bool sunk = false;
    last = StreamGet(
        id, offset, length,
        [&](std::string_view piece) {
          // One allocation for a bounded range (pieces appended one by one
          // would grow the string and copy what it holds each time).
          if (out->empty() && length <= kReserveUpTo) out->reserve(length);
          out->append(piece);
          return Status::Ok();
        },
        &sunk, info, whole);
    if (last.code() != Code::kConflict) return last;
  }
  return last;
}

Result<std::string> ClientImpl::Get(std::string_view id, uint64_t offset,
                                    uint64_t length) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  std::string out;
  SHOVEL_RETURN_IF_ERROR(ReadRange(id, offset, length, &out));
  return out;
}

Result<Bytes> ClientImpl::GetBytes(std::string_view id, uint64_t offset,
                                   uint64_t length) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  std::string out;
  ResponsePtr whole;
  SHOVEL_RETURN_IF_ERROR(ReadRange(id, offset, length, &out, nullptr, &whole));
  if (whole == nullptr) return Bytes(std::move(out));
  if (whole->reply.payload.empty()) return Bytes();
  std::string_view p = whole->reply.payload[0];
  // A small frame may share ZeroMQ's receive buffer with other messages
  // (held, it would pin the whole buffer): copy it. A large one, or any
  // frame of an in-process reply, is its own allocation: the Bytes keeps
  // the reply.
  if (p.size() < kZeroCopyAbove && !whole->frames_own_memory)
    return Bytes(std::string(p));
  return Bytes(std::shared_ptr<const Response>(std::move(whole)), p.data(), p.size());
}

Status ClientImpl::GetTo(std::string_view id, uint64_t offset, uint64_t length,
                         const std::function<Status(std::string_view)>& sink) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    bool sunk = false;
    last = StreamGet(id, offset, length, sink, &sunk);
    if (last.code() != Code::kConflict || sunk) return last;
  }
  return last;
}

Status ClientImpl::Delete(std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  SHOVEL_ASSIGN_OR_RETURN(ResponsePtr r, CallId(MakeRequest(Op::kDelete, id)));
  redirects_.Erase(id);
  SHOVEL_ASSIGN_OR_RETURN(std::string home, HomeEndpoint(id));
  if (r->endpoint != home) {
    // The data lived away from its home: drop the pointer record there too.
    auto p = transport_->Call(home, MakeRequest(Op::kDelete, id, wire::kFlagNoRedirect));
    if (!p.ok()) return p.status().WithContext("deleting the pointer record");
    Status s = ReplyError(**p);
    if (!s.ok() && !s.IsNotFound()) return s.WithContext("deleting the pointer record");
  }
  return Status::Ok();
}

Result<BlobStat> ClientImpl::StatFromReply(std::string_view id, const Response& r) {
  if (r.reply.payload.empty()) {
    return Status::Protocol("worker " + r.endpoint + " sent STAT without a body");
  }
  SHOVEL_ASSIGN_OR_RETURN(wire::StatBody b, wire::DecodeStat(r.reply.payload[0]));
  BlobStat s;
  s.id = std::string(id);
  s.size = b.size;
  s.stored_bytes = b.stored_bytes;
  s.version = b.version;
  s.ctime_ns = b.ctime_ns;
  s.mtime_ns = b.mtime_ns;
  s.atime_ns = b.atime_ns;
  s.pinned = b.pinned;
  s.attrs = std::move(b.attrs);
  s.holders.push_back(NodeOf(r.endpoint));
  return s;
}

Result<BlobStat> ClientImpl::Stat(std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  SHOVEL_ASSIGN_OR_RETURN(ResponsePtr r, CallId(MakeRequest(Op::kStat, id)));
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, StatFromReply(id, *r));
  // Every copy, the one that answered first: the id's replica set holds it
  // when the answer came from one of its members (a pinned id answered
  // away from its replica set has that one holder).
  auto view = View();
  if (view->replicas > 1) {
    std::vector<size_t> set = ReplicaSet(id, *view);
    bool member = false;
    for (size_t k : set) member = member || view->members[k].endpoint == r->endpoint;
    if (member) {
      for (size_t k : set) {
        if (view->members[k].endpoint != r->endpoint) {
          st.holders.push_back(view->members[k].node_id);
        }
      }
    }
  }
  return st;
}

namespace {
int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

uint16_t ClientImpl::WatchFlag(const PlacementView& view) const {
  // With replicas the primary serves reads under its leases from the
  // others, which a watch does not follow: ask each time.
  if (view.replicas > 1 || watches_refused_.load(std::memory_order_relaxed)) return 0;
  return wire::kFlagWatch;
}

bool ClientImpl::RefusedWatch(const Result<ResponsePtr>& r) {
  if (r.ok() || r.status().code() != Code::kProtocol) return false;
  watches_refused_.store(true);
  return true;
}

void ClientImpl::KeepWatched(std::string_view id, const Response& r,
                             uint64_t generation) {
  if (!r.watch || r.reply.header.status != Code::kOk) return;
  Result<BlobStat> st = StatFromReply(id, r);
  if (st.ok()) watched_.Put(*st, r.watch, generation, SteadyNowNs());
}

Result<BlobStat> ClientImpl::WatchedStat(std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  auto view = View();
  const uint16_t flag = WatchFlag(*view);
  if (flag == 0) return Stat(id);
  if (auto kept = watched_.Find(id, view->generation, SteadyNowNs())) {
    return *std::move(kept);
  }
  Result<ResponsePtr> r = CallId(MakeRequest(Op::kStat, id, flag));
  if (RefusedWatch(r)) return Stat(id);
  SHOVEL_RETURN_IF_ERROR(r.status());
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, StatFromReply(id, **r));
  KeepWatched(id, **r, view->generation);
  return st;
}

Result<NameInfo> ClientImpl::StatName(std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  auto view = View();
  if (view->members.empty()) return Status::Unavailable("no workers are known");
  auto cached = redirects_.Lookup(id, view->generation);
  std::string endpoint;
  if (cached) {
    endpoint = cached->endpoint;
  } else {
    SHOVEL_ASSIGN_OR_RETURN(endpoint, HomeEndpoint(id, *view));
  }
  // The STAT goes out first and travels while the LIST fans out.
  std::shared_ptr<PendingCall> stat =
      transport_->Start(endpoint, MakeRequest(Op::kStat, id));
  Result<ListPage> page = List(std::string(id) + "/", "", 1, false);
  Result<ResponsePtr> r = stat->Wait();
  SHOVEL_RETURN_IF_ERROR(page.status());
  NameInfo out;
  out.has_children = !page->ids.empty();
  Status s = r.ok() ? ReplyError(**r) : r.status();
  bool redirected = r.ok() && (*r)->reply.header.status == Code::kRedirect;
  if (s.ok()) {
    SHOVEL_ASSIGN_OR_RETURN(out.stat, StatFromReply(id, **r));
  } else if (redirected || (cached && s.IsNotFound())) {
    Result<BlobStat> st = Stat(id);  // follows (and caches) the redirect
    if (st.ok()) {
      out.stat = *std::move(st);
    } else if (!st.status().IsNotFound()) {
      return st.status();
    }
  } else if (!s.IsNotFound()) {
    return s;
  }
  return out;
}

Result<VersionedBytes> ClientImpl::GetWithVersion(std::string_view id, uint64_t offset,
                                                  uint64_t length) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  VersionedBytes out;
  GetInfo info;
  SHOVEL_RETURN_IF_ERROR(ReadRange(id, offset, length, &out.data, &info));
  out.version = info.version;
  out.size = info.size;
  return out;
}

Result<bool> ClientImpl::Exists(std::string_view id) {
  auto s = Stat(id);
  if (s.ok()) return true;
  if (s.status().IsNotFound()) return false;
  return s.status();
}

Status ClientImpl::SetAttrs(std::string_view id,
                            const std::map<std::string, std::string>& set,
                            const std::vector<std::string>& drop) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  std::string a = wire::EncodeAttrs(set);
  std::string d = wire::EncodeStrings(drop);
  OutRequest req = MakeRequest(Op::kSetAttrs, id);
  req.payload = {a, d};
  return CallId(req).status();
}

Status ClientImpl::Rename(std::string_view from, std::string_view to) {
  SHOVEL_RETURN_IF_ERROR(ValidateId(from));
  SHOVEL_RETURN_IF_ERROR(ValidateId(to));
  if (from == to) return Stat(from).status();
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, Stat(from));
  SHOVEL_ASSIGN_OR_RETURN(std::string from_home, HomeEndpoint(from));
  SHOVEL_ASSIGN_OR_RETURN(std::string to_home, HomeEndpoint(to));
  auto cached_from = redirects_.Lookup(from, View()->generation);
  auto cached_to = redirects_.Lookup(to, View()->generation);
  bool from_at_home = !cached_from && NodeOf(from_home) == st.holders[0];
  // With replicas a rename is a replicated copy and a replicated delete
  // (RENAME itself is applied on one worker).
  if (from_at_home && from_home == to_home && !cached_to && View()->replicas == 1) {
    OutRequest req = MakeRequest(Op::kRename, from, wire::kFlagNoRedirect);
    req.payload = {to};
    auto r = transport_->Call(from_home, req);
    if (!r.ok()) return r.status();
    return ReplyError(**r);
  }
  // Across workers: copy (streamed), then delete the source.
  auto w = NewUploadWriter(this, std::string(to), WriteMode::kSet);
  SHOVEL_RETURN_IF_ERROR(GetTo(from, 0, kWholeBlob,
                               [&](std::string_view piece) { return w->Write(piece); }));
  SHOVEL_RETURN_IF_ERROR(w->Commit().status());
  if (!st.attrs.empty()) SHOVEL_RETURN_IF_ERROR(SetAttrs(to, st.attrs, {}));
  return Delete(from);
}

}  // namespace shovel::client

namespace shovel {

Result<InitStrategy> ParseInitStrategy(std::string_view name) {
  if (name == "uniform_nodes") return InitStrategy::kUniformNodes;
  if (name == "uniform_cpu") return InitStrategy::kUniformCpu;
  if (name == "uniform_memory") return InitStrategy::kUniformMemory;
  return Status::InvalidArgument("unknown init strategy '" + std::string(name) +
                                 "'; valid strategies: uniform_nodes, uniform_cpu, "
                                 "uniform_memory");
}

std::string_view InitStrategyName(InitStrategy s) {
  switch (s) {
    case InitStrategy::kUniformNodes:
      return "uniform_nodes";
    case InitStrategy::kUniformCpu:
      return "uniform_cpu";
    case InitStrategy::kUniformMemory:
      return "uniform_memory";
  }
  return "unknown";
}

}  // namespace shovel
