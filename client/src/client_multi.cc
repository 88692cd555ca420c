// The pipelined MultiSet / MultiGet of ClientImpl, waited for at once or
// started now and waited for later (StartMultiSet / StartMultiGet).
#include <algorithm>
#include <optional>
#include <span>

#include "client_impl.h"
#include "placement.h"
#include "shovel/ids.h"

namespace shovel::client {

using wire::Op;

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

// The BATCH body of `msg`, encoded once into the buffer that is sent.
wire::SharedFrame EncodeBody(const std::vector<BatchItem>& items, const Message& msg) {
  auto body = std::make_shared_for_overwrite<char[]>(msg.bytes);  // one allocation
  char* out = body.get();
  for (uint32_t k : msg.ks) {
    const BatchItem& it = items[k];
    std::string_view p[1] = {it.payload};
    out = wire::EncodeBatchRequest(out, it.header, it.id,
                                   std::span(p, it.has_payload ? 1 : 0));
  }
  std::string_view bytes(body.get(), msg.bytes);
  return {bytes, std::move(body)};
}

// The error of a whole BATCH reply (its status, its shape, or a body that
// does not split into `count` items), named by worker; else OK and *body.
Status CheckBatchReply(const Response& whole, size_t count, std::string_view* body) {
  Status st = ReplyError(whole);
  if (st.ok() && whole.reply.payload.size() != 1) {
    st = Status::Protocol("BATCH reply needs one body frame");
  }
  if (st.ok()) st = wire::CheckBatchBody(whole.reply.payload[0], count);
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
  size_t m = RouteNode(id, view.node_ids, [&](size_t k) { return Avoid(view, k); });
  if (slots[m] < 0) slots[m] = static_cast<int32_t>(add(view.members[m].endpoint));
  return static_cast<uint32_t>(slots[m]);
}

std::optional<uint32_t> ClientImpl::ListedSlot(
    std::string_view id, const PlacementView& view, std::vector<std::string>& endpoints,
    std::vector<std::string>& lists, std::unordered_map<std::string, uint32_t>& keyed) {
  auto add = [&](const std::string& endpoint, std::string list) {
    std::string key = endpoint;
    key.push_back('\0');
    key += list;
    auto [it, fresh] = keyed.try_emplace(std::move(key), endpoints.size());
    if (fresh) {
      endpoints.push_back(endpoint);
      lists.push_back(std::move(list));
    }
    return it->second;
  };
  if (auto cached = redirects_.Lookup(id, view.generation))
    return add(cached->endpoint, {});
  if (view.members.empty()) return std::nullopt;  // the single-id path reports it
  std::vector<size_t> passed;
  std::vector<size_t> set = ReplicaSet(id, view, &passed);
  std::vector<std::string> others;
  for (size_t i = 1; i < set.size(); ++i) others.push_back(view.members[set[i]].endpoint);
  for (size_t k : passed) others.push_back("!" + view.members[k].endpoint);
  return add(view.members[set[0]].endpoint,
             others.empty() ? std::string() : wire::EncodeStrings(others));
}

// What SendBatched sent: its messages and their outcomes to come.
struct ClientImpl::BatchedSend {
  std::vector<Message> messages;
  std::shared_ptr<PendingBatch> replies;
};

std::shared_ptr<ClientImpl::BatchedSend> ClientImpl::SendBatched(
    const std::vector<BatchItem>& items, const std::vector<std::string>& endpoints,
    const std::vector<std::string>* lists) {
  auto out = std::make_shared<BatchedSend>();
  out->messages = Group(items, endpoints.size());
  const std::vector<Message>& messages = out->messages;
  RequestBatch sends;
  sends.reserve(messages.size());
  std::vector<wire::SharedFrame> bodies(messages.size());
  for (size_t m = 0; m < messages.size(); ++m) {
    const Message& msg = messages[m];
    const std::string* list = lists != nullptr && !(*lists)[msg.endpoint].empty()
                                  ? &(*lists)[msg.endpoint]
                                  : nullptr;
    if (msg.ks.size() == 1) {
      OutRequest r = ItemRequest(items[msg.ks[0]]);
      if (list != nullptr) {
        r.header.flags |= wire::kFlagReplicas;
        r.payload.push_back(*list);
      }
      sends.emplace_back(endpoints[msg.endpoint], std::move(r));
      continue;
    }
    bodies[m] = EncodeBody(items, msg);
    OutRequest b = MakeRequest(Op::kBatch, {});
    b.header.aux = msg.ks.size();
    if (list != nullptr) {
      // The list goes last: the body is a payload frame (copied), not `frame`.
      b.header.flags |= wire::kFlagReplicas;
      b.payload.push_back(bodies[m].bytes);
      b.payload.push_back(*list);
    } else {
      b.frame = bodies[m];
    }
    b.idempotent = std::all_of(msg.ks.begin(), msg.ks.end(),
                               [&](uint32_t k) { return items[k].idempotent; });
    sends.emplace_back(endpoints[msg.endpoint], std::move(b));
  }
  out->replies = transport_->StartMany(sends);
  return out;
}

void ClientImpl::FinishBatched(BatchedSend& sent, const std::vector<BatchItem>& items,
                               const std::vector<std::string>& endpoints,
                               const ItemSink& sink) {
  const std::vector<Message>& messages = sent.messages;
  auto replies = sent.replies->Wait();
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
    Status st = CheckBatchReply(whole, ks.size(), &body);
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

// A MultiSet/MultiGet in progress. Start: each valid id i whose `make(i)`
// gives a BatchItem goes out in a BATCH to where the id lives. Finish waits
// for the replies; an OK one becomes `finish(reply)` (nullopt: not complete,
// e.g. a blob too large for a BATCH). Ids not sent, redirected or not
// complete then take `single(i)`, the one-id call. Results in id order; an
// invalid id is its ValidateId error.
template <typename T>
class ClientImpl::MultiCall {
 public:
  MultiCall(ClientImpl* client, size_t n)
      : c_(client), out_(n, Status::Internal("not sent")), done_(n, 0) {}

  template <typename MakeFn>
  void Start(const std::vector<std::string_view>& ids, MakeFn make) {
    batch_.reserve(ids.size());
    index_.reserve(ids.size());
    auto view = c_->View();
    std::vector<int32_t> slots(view->members.size(), -1);
    std::unordered_map<std::string, uint32_t> keyed;
    for (size_t i = 0; i < ids.size(); ++i) {
      Status v = ValidateId(ids[i]);
      if (!v.ok()) {
        out_[i] = std::move(v);
        done_[i] = 1;
        continue;
      }
      std::optional<BatchItem> item = make(i);
      if (!item) continue;
      // With replicas, reads are served under the primary's leases (as a
      // single GET is): each message carries its ids' replica list.
      auto slot = view->replicas > 1 && item->header.op == Op::kGet
                      ? c_->ListedSlot(ids[i], *view, endpoints_, lists_, keyed)
                      : c_->EndpointSlot(ids[i], *view, endpoints_, slots);
      if (!slot) continue;  // the single-id path reports it
      item->endpoint = *slot;
      batch_.push_back(*item);
      index_.push_back(static_cast<uint32_t>(i));
    }
    lists_.resize(endpoints_.size());
    if (!batch_.empty()) sent_ = c_->SendBatched(batch_, endpoints_, &lists_);
  }

  template <typename FinishFn, typename SingleFn>
  std::vector<Result<T>> Finish(FinishFn finish, SingleFn single) {
    if (finished_) {
      return std::vector<Result<T>>(
          done_.size(), Status::InvalidArgument("the results were already taken"));
    }
    finished_ = true;
    const bool replicated = c_->View()->replicas > 1;
    if (sent_) {
      c_->FinishBatched(
          *sent_, batch_, endpoints_, [&](size_t k, Result<const ItemReply*> r) {
            size_t i = index_[k];
            if (!r.ok()) {
              if (replicated) return;  // the single-id path routes around it
              out_[i] = r.status();
              done_[i] = 1;
              return;
            }
            const wire::Reply& reply = (*r)->reply;
            const Code code = reply.header.status;
            if (replicated && (code == Code::kUnavailable || code == Code::kConflict ||
                               code == Code::kTimeout)) {
              return;  // a lease refused or not yet held: the single-id path waits
            } else if (reply.header.status == Code::kRedirect) {
              return;  // the single-id path follows and caches it
            } else if (reply.header.status == Code::kNotFound && replicated) {
              return;  // the single-id path asks the other copies
            } else if (Status e = (*r)->Error(); !e.ok()) {
              out_[i] = std::move(e);
              done_[i] = 1;
            } else if (std::optional<T> v = finish(reply)) {
              out_[i] = std::move(*v);
              done_[i] = 1;
            }
          });
      sent_.reset();
    }
    for (size_t i = 0; i < out_.size(); ++i) {
      if (!done_[i]) out_[i] = single(i);
    }
    return std::move(out_);
  }

 private:
  ClientImpl* const c_;
  std::vector<Result<T>> out_;
  std::vector<char> done_;        // out_[i] is final
  std::vector<BatchItem> batch_;  // views into the caller's ids and values
  std::vector<uint32_t> index_;   // batch_[k] is ids[index_[k]]
  std::vector<std::string> endpoints_;
  std::vector<std::string> lists_;  // per endpoint: its kFlagReplicas list, or ""
  std::shared_ptr<BatchedSend> sent_;
  bool finished_ = false;
};

// A MultiSet, on items of its own (StartMultiSet) or the caller's (MultiSet).
class ClientImpl::PendingSets final : public Pending<uint64_t> {
 public:
  using Items = std::vector<std::pair<std::string, std::string>>;
  PendingSets(ClientImpl* c, Items owned) : PendingSets(c, &owned_, std::move(owned)) {}
  PendingSets(ClientImpl* c, const Items* items) : PendingSets(c, items, {}) {}

  std::vector<Result<uint64_t>> Wait() override {
    return call_.Finish(
        [](const wire::Reply& r) -> std::optional<uint64_t> {
          return r.header.version_no;
        },
        [&](size_t i) { return c_->Set((*items_)[i].first, (*items_)[i].second); });
  }

 private:
  PendingSets(ClientImpl* c, const Items* items, Items owned)
      : c_(c), owned_(std::move(owned)), items_(items), call_(c, items->size()) {
    std::vector<std::string_view> ids;
    ids.reserve(items_->size());
    for (const auto& item : *items_) ids.push_back(item.first);
    const bool idempotent = c_->MakeRequest(Op::kSet, {}).idempotent;
    // A replicated write goes to its primary on its own (it waits for the
    // replicas; a BATCH does not): the single-id path.
    const bool replicated = c_->View()->replicas > 1;
    call_.Start(ids, [&](size_t i) -> std::optional<BatchItem> {
      const auto& [id, value] = (*items_)[i];
      if (replicated || value.size() > c_->options_.stream_chunk) return std::nullopt;
      BatchItem b;
      b.header.op = Op::kSet;
      b.id = id;
      b.payload = value;
      b.has_payload = true;
      b.idempotent = idempotent;
      return b;
    });
  }

  ClientImpl* const c_;
  const Items owned_;
  const Items* const items_;
  MultiCall<uint64_t> call_;
};

// A MultiGet, on ids of its own (StartMultiGet) or the caller's (MultiGet).
class ClientImpl::PendingGets final : public Pending<std::string> {
 public:
  using Ids = std::vector<std::string>;
  PendingGets(ClientImpl* c, Ids owned) : PendingGets(c, &owned_, std::move(owned)) {}
  PendingGets(ClientImpl* c, const Ids* ids) : PendingGets(c, ids, {}) {}

  std::vector<Result<std::string>> Wait() override {
    return call_.Finish(
        [](const wire::Reply& r) -> std::optional<std::string> {
          if (r.header.flags & wire::kFlagMore) return std::nullopt;  // large: full path
          return r.payload.empty() ? std::string() : std::string(r.payload[0]);
        },
        [&](size_t i) { return c_->Get((*ids_)[i], 0, kWholeBlob); });
  }

 private:
  PendingGets(ClientImpl* c, const Ids* ids, Ids owned)
      : c_(c), owned_(std::move(owned)), ids_(ids), call_(c, ids->size()) {
    std::vector<std::string_view> views(ids_->begin(), ids_->end());
    const bool idempotent = c_->MakeRequest(Op::kGet, {}).idempotent;
    call_.Start(views, [&](size_t i) -> std::optional<BatchItem> {
      BatchItem b;
      b.header.op = Op::kGet;
      b.header.length = wire::kToEnd;
      b.id = (*ids_)[i];
      b.idempotent = idempotent;
      return b;
    });
  }

  ClientImpl* const c_;
  const Ids owned_;
  const Ids* const ids_;
  MultiCall<std::string> call_;
};

std::vector<Result<uint64_t>> ClientImpl::MultiSet(
    const std::vector<std::pair<std::string, std::string>>& items) {
  return PendingSets(this, &items).Wait();
}

std::vector<Result<std::string>> ClientImpl::MultiGet(
    const std::vector<std::string>& ids) {
  return PendingGets(this, &ids).Wait();
}

std::unique_ptr<Pending<uint64_t>> ClientImpl::StartMultiSet(
    std::vector<std::pair<std::string, std::string>> items) {
  return std::make_unique<PendingSets>(this, std::move(items));
}

std::unique_ptr<Pending<std::string>> ClientImpl::StartMultiGet(
    std::vector<std::string> ids) {
  return std::make_unique<PendingGets>(this, std::move(ids));
}

}  // namespace shovel::client
