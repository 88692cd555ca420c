// List (merge of sorted pages from every worker) and the pipelined MultiSet /
// MultiGet of ClientImpl.
#include <algorithm>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>

#include "client_impl.h"
#include "placement.h"
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
// then takes the single-id path. Small items are the point of a batch, so
// this path avoids work per item: an item is views into the caller's data,
// a body is encoded once into the ZeroMQ message that is sent, and replies
// are decoded in place, one reused Reply at a time.
namespace {

constexpr size_t kBatchBodyBytes = 4 << 20;  // one BATCH message's body, about

size_t ItemBytes(const BatchItem& it) {
  std::string_view p[1] = {it.payload};
  return wire::BatchRequestSize(it.id, std::span(p, it.has_payload ? 1 : 0));
}

bool Batchable(const BatchItem& it) {
  return wire::BatchableOp(it.header.op) && it.payload.size() <= wire::kMaxBatchItemBytes;
}

// requests[ks...] of one message, in order.
struct Message {
  uint32_t endpoint;
  std::vector<uint32_t> ks;
  size_t bytes = 0;
};

// Groups items into messages: per endpoint, batchable items fill BATCH
// messages up to the item and byte limits; the others go alone.
std::vector<Message> Group(const std::vector<BatchItem>& items, size_t endpoints) {
  std::vector<Message> messages;
  std::vector<int64_t> open(endpoints, -1);  // endpoint -> messages[i]
  for (uint32_t k = 0; k < items.size(); ++k) {
    const auto& it = items[k];
    if (!Batchable(it)) {
      messages.push_back({it.endpoint, {k}});
      continue;
    }
    size_t bytes = ItemBytes(it);
    int64_t& m = open[it.endpoint];
    if (m < 0 || messages[m].ks.size() == wire::kMaxBatchItems ||
        messages[m].bytes + bytes > kBatchBodyBytes) {
      messages.push_back({it.endpoint, {}});
      m = static_cast<int64_t>(messages.size() - 1);
    }
    messages[m].ks.push_back(k);
    messages[m].bytes += bytes;
  }
  return messages;
}

// The BATCH body of `msg`, encoded once into the message that is sent.
zmq::message_t EncodeBody(const std::vector<BatchItem>& items, const Message& msg) {
  zmq::message_t body(msg.bytes);
  char* out = static_cast<char*>(body.data());
  for (uint32_t k : msg.ks) {
    const BatchItem& it = items[k];
    std::string_view p[1] = {it.payload};
    out = wire::EncodeBatchRequest(out, it.header, it.id,
                                   std::span(p, it.has_payload ? 1 : 0));
  }
  return body;
}

// The error of a whole BATCH reply (its status, its shape, or a body that
// does not split into `count` items), named by worker; else OK and *body.
// `scratch` is reused for the items' frames.
Status CheckBatchReply(const Response& whole, size_t count, wire::Frames* scratch,
                       std::string_view* body) {
  Status st = ReplyError(whole);
  if (st.ok() && whole.reply.payload.size() != 1) {
    st = Status::Protocol("BATCH reply needs one body frame");
  }
  if (st.ok()) {
    wire::BatchReader reader(whole.reply.payload[0], count);
    st = reader.CheckCount();
    for (size_t j = 0; j < count && st.ok(); ++j) st = reader.Next(scratch);
    if (st.ok()) st = reader.Finish();
  }
  if (!st.ok()) return st.WithContext("batch reply from " + whole.endpoint);
  *body = whole.reply.payload[0];
  return st;
}

}  // namespace

Status ClientImpl::ItemReply::Error() const {
  Status s = wire::ReplyStatus(reply);
  if (s.ok() || !s.message().empty()) return s;
  return Status(s.code(),
                "worker " + *endpoint + " answered " + std::string(CodeName(s.code())));
}

OutRequest ClientImpl::ItemRequest(const BatchItem& item) const {
  OutRequest r = MakeRequest(item.header.op, item.id, item.header.flags);
  r.header = item.header;
  r.idempotent = item.idempotent;
  if (item.has_payload) r.payload.push_back(item.payload);
  return r;
}

std::optional<uint32_t> ClientImpl::EndpointSlot(std::string_view id,
                                                 const PlacementView& view,
                                                 std::vector<std::string>& endpoints,
                                                 std::vector<int32_t>& slots) {
  auto add = [&](const std::string& e) {
    endpoints.push_back(e);
    return static_cast<uint32_t>(endpoints.size() - 1);
  };
  if (auto cached = redirects_.Lookup(id, view.generation)) {
    for (uint32_t i = 0; i < endpoints.size(); ++i) {
      if (endpoints[i] == cached->endpoint) return i;
    }
    return add(cached->endpoint);
  }
  if (view.members.empty()) return std::nullopt;  // the single-id path reports it
  size_t m =
      RouteNode(id, view.node_ids, [&](size_t k) { return view.members[k].critical; });
  if (slots[m] < 0) slots[m] = static_cast<int32_t>(add(view.members[m].endpoint));
  return static_cast<uint32_t>(slots[m]);
}

void ClientImpl::CallBatched(const std::vector<BatchItem>& items,
                             const std::vector<std::string>& endpoints,
                             const ItemSink& sink) {
  std::vector<Message> messages = Group(items, endpoints.size());
  RequestBatch sends;
  sends.reserve(messages.size());
  std::vector<zmq::message_t> bodies(messages.size());
  for (size_t m = 0; m < messages.size(); ++m) {
    const Message& msg = messages[m];
    if (msg.ks.size() == 1) {
      sends.emplace_back(endpoints[msg.endpoint], ItemRequest(items[msg.ks[0]]));
      continue;
    }
    bodies[m] = EncodeBody(items, msg);
    OutRequest b = MakeRequest(Op::kBatch, {});
    b.header.aux = msg.ks.size();
    b.frame = &bodies[m];
    b.idempotent = std::all_of(msg.ks.begin(), msg.ks.end(),
                               [&](uint32_t k) { return items[k].idempotent; });
    sends.emplace_back(endpoints[msg.endpoint], std::move(b));
  }
  auto replies = transport_->CallMany(sends);
  RequestBatch again;  // items of a BATCH an old worker refused
  std::vector<uint32_t> again_index;
  ItemReply item;
  wire::Frames frames;
  for (size_t m = 0; m < messages.size(); ++m) {
    const auto& ks = messages[m].ks;
    auto& r = replies[m];
    if (!r.ok()) {
      for (uint32_t k : ks) sink(k, r.status());
      continue;
    }
    const Response& whole = **r;
    item.endpoint = &whole.endpoint;
    if (ks.size() == 1) {
      item.reply = whole.reply;
      sink(ks[0], &item);
      continue;
    }
    if (whole.reply.header.status == Code::kProtocol) {
      for (uint32_t k : ks) {
        again.emplace_back(endpoints[items[k].endpoint], ItemRequest(items[k]));
        again_index.push_back(k);
      }
      continue;
    }
    std::string_view body;
    Status st = CheckBatchReply(whole, ks.size(), &frames, &body);
    wire::BatchReader reader(body, ks.size());
    for (uint32_t k : ks) {
      Status item_st = st;
      if (item_st.ok()) item_st = reader.Next(&frames);
      if (item_st.ok()) item_st = wire::DecodeReply(frames, &item.reply);
      if (!item_st.ok()) {
        sink(k, st.ok() ? item_st.WithContext("batch reply from " + whole.endpoint) : st);
      } else {
        sink(k, &item);
      }
    }
  }
  if (!again.empty()) {
    auto singles = transport_->CallMany(again);
    for (size_t j = 0; j < again.size(); ++j) {
      auto& r = singles[j];
      if (!r.ok()) {
        sink(again_index[j], r.status());
        continue;
      }
      item.endpoint = &(*r)->endpoint;
      item.reply = (*r)->reply;
      sink(again_index[j], &item);
    }
  }
}

template <typename T, typename MakeFn, typename FinishFn, typename SingleFn>
std::vector<Result<T>> ClientImpl::MultiCall(const std::vector<std::string_view>& ids,
                                             MakeFn make, FinishFn finish,
                                             SingleFn single) {
  std::vector<Result<T>> out(ids.size(), Status::Internal("not sent"));
  std::vector<BatchItem> batch;
  std::vector<uint32_t> index;  // batch[k] is ids[index[k]]
  batch.reserve(ids.size());
  index.reserve(ids.size());
  auto view = View();
  std::vector<std::string> endpoints;
  std::vector<int32_t> slots(view->members.size(), -1);
  std::vector<char> sent(ids.size(), 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    Status v = ValidateId(ids[i]);
    if (!v.ok()) {
      out[i] = std::move(v);
      sent[i] = 1;
      continue;
    }
    std::optional<BatchItem> item = make(i);
    if (!item) continue;
    auto slot = EndpointSlot(ids[i], *view, endpoints, slots);
    if (!slot) continue;  // the single-id path reports it
    item->endpoint = *slot;
    batch.push_back(*item);
    index.push_back(static_cast<uint32_t>(i));
  }
  if (!batch.empty()) {
    CallBatched(batch, endpoints, [&](size_t k, Result<const ItemReply*> r) {
      size_t i = index[k];
      if (!r.ok()) {
        out[i] = r.status();
        sent[i] = 1;
        return;
      }
      const wire::Reply& reply = (*r)->reply;
      if (reply.header.status == Code::kRedirect) {
        return;  // left to the single-id path, which follows and caches it
      } else if (Status e = (*r)->Error(); !e.ok()) {
        out[i] = std::move(e);
        sent[i] = 1;
      } else if (std::optional<T> v = finish(reply)) {
        out[i] = std::move(*v);
        sent[i] = 1;
      }
    });
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
      [&](size_t i) -> std::optional<BatchItem> {
        if (items[i].second.size() > options_.stream_chunk) return std::nullopt;
        BatchItem b;
        b.header.op = Op::kSet;
        b.id = items[i].first;
        b.payload = items[i].second;
        b.has_payload = true;
        b.idempotent = MakeRequest(Op::kSet, {}).idempotent;
        return b;
      },
      [](const wire::Reply& r) -> std::optional<uint64_t> { return r.header.version_no; },
      [&](size_t i) { return Set(items[i].first, items[i].second); });
}

std::vector<Result<std::string>> ClientImpl::MultiGet(
    const std::vector<std::string>& ids) {
  std::vector<std::string_view> views(ids.begin(), ids.end());
  return MultiCall<std::string>(
      views,
      [&](size_t i) -> std::optional<BatchItem> {
        BatchItem b;
        b.header.op = Op::kGet;
        b.header.length = wire::kToEnd;
        b.id = ids[i];
        b.idempotent = MakeRequest(Op::kGet, {}).idempotent;
        return b;
      },
      [](const wire::Reply& r) -> std::optional<std::string> {
        if (r.header.flags & wire::kFlagMore) return std::nullopt;  // large: full path
        return r.payload.empty() ? std::string() : std::string(r.payload[0]);
      },
      [&](size_t i) { return Get(ids[i], 0, kWholeBlob); });
}

}  // namespace shovel::client
