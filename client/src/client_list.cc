// List (merge of sorted pages from every worker) and the pipelined MultiSet /
// MultiGet of ClientImpl.
#include <optional>
#include <set>
#include <unordered_map>

#include "client_impl.h"
#include "shovel/ids.h"

namespace shovel::client {

using wire::Op;

Result<ListPage> ClientImpl::List(std::string_view prefix, std::string_view cursor,
                                  uint32_t limit, bool delimiter) {
  SHOVEL_RETURN_IF_ERROR(ValidatePrefix(prefix));
  if (delimiter && !prefix.empty() && prefix.back() != '/') {
    return Status::InvalidArgument(
        "list with a delimiter needs a prefix that is empty "
        "or ends in '/' (got '" +
        std::string(prefix) + "')");
  }
  if (limit == 0) limit = 1000;
  limit = std::min<uint32_t>(limit, wire::kMaxListEntries);
  auto view = View();
  if (view->members.empty()) return Status::Unavailable("no workers are known");
  std::vector<std::pair<std::string, OutRequest>> reqs;
  for (const auto& m : view->members) {
    if (m.critical) continue;  // Consul says it is down: route around it
    OutRequest req = MakeRequest(Op::kList, prefix, delimiter ? wire::kFlagDelimiter : 0);
    req.payload = {cursor};
    req.header.aux = limit;
    reqs.emplace_back(m.endpoint, req);
  }
  auto replies = transport_->CallMany(reqs);
  // Each worker returned its first `limit` names after the cursor, so the
  // first `limit` of the union are the global first `limit`.
  std::set<std::string> merged;
  bool more = false;
  for (auto& r : replies) {
    if (!r.ok()) return r.status().WithContext("list");
    SHOVEL_RETURN_IF_ERROR(ReplyError(**r).WithContext("list"));
    const Response& resp = **r;
    if (resp.reply.header.flags & wire::kFlagMore) more = true;
    if (resp.reply.payload.empty()) continue;
    SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            wire::DecodeStrings(resp.reply.payload[0]));
    for (auto& n : names) merged.insert(std::move(n));
  }
  ListPage page;
  for (auto& n : merged) {
    if (page.ids.size() == limit) {
      more = true;
      break;
    }
    page.ids.push_back(n);
  }
  if (more && !page.ids.empty()) page.next_cursor = page.ids.back();
  return page;
}

// MultiSet/MultiGet send the requests for one worker as BATCH messages (one
// message and one reply per up to kMaxBatchItems ids) and wait once for all
// the replies; what needs more than one round trip (redirects, large values)
// then takes the single-id path.
namespace {

constexpr size_t kBatchBodyBytes = 4 << 20;  // one BATCH message's body, about

bool Batchable(const OutRequest& r) {
  uint64_t bytes = 0;
  for (auto p : r.payload) bytes += p.size();
  return wire::BatchableOp(r.header.op) && bytes <= wire::kMaxBatchItemBytes;
}

}  // namespace

Status ClientImpl::ItemReply::Error() const {
  Status s = wire::ReplyStatus(reply);
  if (s.ok() || !s.message().empty()) return s;
  return Status(s.code(), "worker " + whole->endpoint + " answered " +
                              std::string(CodeName(s.code())));
}

std::vector<Result<ClientImpl::ItemReply>> ClientImpl::CallBatched(
    const RequestBatch& requests) {
  std::vector<Result<ItemReply>> out(requests.size(), Status::Internal("not sent"));
  // Messages to send: each is the requests[k] it carries (one = as it is).
  std::vector<std::vector<size_t>> messages;
  std::unordered_map<std::string_view, size_t> open;  // endpoint -> messages[i]
  std::vector<size_t> open_bytes;
  for (size_t k = 0; k < requests.size(); ++k) {
    const auto& [endpoint, req] = requests[k];
    if (!Batchable(req)) {
      messages.push_back({k});
      open_bytes.push_back(0);
      continue;
    }
    uint64_t bytes = wire::kHeaderSize + req.id.size() + 16;
    for (auto p : req.payload) bytes += p.size() + 4;
    auto it = open.find(endpoint);
    if (it == open.end() || messages[it->second].size() == wire::kMaxBatchItems ||
        open_bytes[it->second] + bytes > kBatchBodyBytes) {
      messages.emplace_back();
      open_bytes.push_back(0);
      it = open.insert_or_assign(endpoint, messages.size() - 1).first;
    }
    messages[it->second].push_back(k);
    open_bytes[it->second] += bytes;
  }
  RequestBatch sends;
  std::vector<std::string> bodies(messages.size());
  sends.reserve(messages.size());
  for (size_t m = 0; m < messages.size(); ++m) {
    const auto& ks = messages[m];
    if (ks.size() == 1) {
      sends.push_back(requests[ks[0]]);
      continue;
    }
    wire::BatchWriter w;
    bool idempotent = true;
    for (size_t k : ks) {
      const OutRequest& r = requests[k].second;
      w.AddRequest(r.header, r.id, r.payload);
      idempotent = idempotent && r.idempotent;
    }
    bodies[m] = w.Take();
    OutRequest b = MakeRequest(Op::kBatch, {});
    b.header.aux = ks.size();
    b.payload = {bodies[m]};
    b.idempotent = idempotent;
    sends.emplace_back(requests[ks[0]].first, std::move(b));
  }
  auto replies = transport_->CallMany(sends);
  RequestBatch again;  // items of a BATCH an old worker refused
  std::vector<size_t> again_index;
  for (size_t m = 0; m < messages.size(); ++m) {
    const auto& ks = messages[m];
    auto& r = replies[m];
    if (!r.ok()) {
      for (size_t k : ks) out[k] = r.status();
      continue;
    }
    std::shared_ptr<const Response> whole(std::move(*r));
    if (ks.size() == 1) {
      out[ks[0]] = ItemReply{whole, whole->reply};
      continue;
    }
    if (whole->reply.header.status == Code::kProtocol) {
      for (size_t k : ks) {
        again.push_back(requests[k]);
        again_index.push_back(k);
      }
      continue;
    }
    Status st = ReplyError(*whole);
    Result<std::vector<wire::Frames>> items = st;
    if (st.ok()) {
      items = whole->reply.payload.size() == 1
                  ? wire::DecodeBatchBody(whole->reply.payload[0], ks.size())
                  : Status::Protocol("BATCH reply needs one body frame");
    }
    for (size_t j = 0; j < ks.size(); ++j) {
      if (!items.ok()) {
        out[ks[j]] = items.status().WithContext("batch reply from " + whole->endpoint);
        continue;
      }
      auto reply = wire::DecodeReply((*items)[j]);
      if (!reply.ok()) {
        out[ks[j]] = reply.status().WithContext("batch reply from " + whole->endpoint);
      } else {
        out[ks[j]] = ItemReply{whole, std::move(*reply)};
      }
    }
  }
  if (!again.empty()) {
    auto singles = transport_->CallMany(again);
    for (size_t j = 0; j < again.size(); ++j) {
      auto& r = singles[j];
      if (!r.ok()) {
        out[again_index[j]] = r.status();
        continue;
      }
      std::shared_ptr<const Response> whole(std::move(*r));
      out[again_index[j]] = ItemReply{whole, whole->reply};
    }
  }
  return out;
}

template <typename T, typename MakeFn, typename FinishFn, typename SingleFn>
std::vector<Result<T>> ClientImpl::MultiCall(const std::vector<std::string_view>& ids,
                                             MakeFn make, FinishFn finish,
                                             SingleFn single) {
  std::vector<Result<T>> out(ids.size(), Status::Internal("not sent"));
  RequestBatch batch;
  std::vector<size_t> index;  // batch[k] is ids[index[k]]
  batch.reserve(ids.size());
  index.reserve(ids.size());
  auto view = View();
  std::vector<bool> sent(ids.size(), false);
  for (size_t i = 0; i < ids.size(); ++i) {
    Status v = ValidateId(ids[i]);
    if (!v.ok()) {
      out[i] = v;
      sent[i] = true;
      continue;
    }
    std::optional<OutRequest> req = make(i);
    if (!req) continue;
    auto endpoint = FirstEndpoint(ids[i], *view);
    if (!endpoint.ok()) continue;  // the single-id path reports it
    batch.emplace_back(std::move(*endpoint), std::move(*req));
    index.push_back(i);
  }
  std::vector<Result<ItemReply>> replies;
  if (!batch.empty()) replies = CallBatched(batch);
  for (size_t k = 0; k < index.size(); ++k) {
    size_t i = index[k];
    auto& r = replies[k];
    if (!r.ok()) {
      out[i] = r.status();
      sent[i] = true;
    } else if (r->reply.header.status == Code::kRedirect) {
      // left to the single-id path, which follows and caches it
    } else if (Status e = r->Error(); !e.ok()) {
      out[i] = e;
      sent[i] = true;
    } else if (std::optional<T> v = finish(r->reply)) {
      out[i] = std::move(*v);
      sent[i] = true;
    }
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!sent[i]) out[i] = single(i);
  }
  return out;
}

std::vector<Result<uint64_t>> ClientImpl::MultiSet(
    const std::vector<std::pair<std::string, std::string>>& items) {
  std::vector<std::string_view> ids;
  ids.reserve(items.size());
  for (const auto& item : items) ids.push_back(item.first);
  return MultiCall<uint64_t>(
      ids,
      [&](size_t i) -> std::optional<OutRequest> {
        if (items[i].second.size() > options_.stream_chunk) return std::nullopt;
        OutRequest req = MakeRequest(Op::kSet, items[i].first);
        req.payload = {items[i].second};
        return req;
      },
      [](const wire::Reply& r) -> std::optional<uint64_t> { return r.header.version_no; },
      [&](size_t i) { return Set(items[i].first, items[i].second); });
}

std::vector<Result<std::string>> ClientImpl::MultiGet(
    const std::vector<std::string>& ids) {
  std::vector<std::string_view> views(ids.begin(), ids.end());
  return MultiCall<std::string>(
      views,
      [&](size_t i) -> std::optional<OutRequest> {
        OutRequest req = MakeRequest(Op::kGet, ids[i]);
        req.header.length = wire::kToEnd;
        return req;
      },
      [](const wire::Reply& r) -> std::optional<std::string> {
        if (r.header.flags & wire::kFlagMore) return std::nullopt;  // large: full path
        return r.payload.empty() ? std::string() : std::string(r.payload[0]);
      },
      [&](size_t i) { return Get(ids[i], 0, kWholeBlob); });
}

}  // namespace shovel::client
