// List (merge of sorted pages from every worker) and the pipelined MultiSet /
// MultiGet of ClientImpl.
#include <set>

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

// MultiSet/MultiGet hand every small request to the transport in one batch
// (one wake-up of its I/O thread) and wait once for all the replies; what
// needs more than one round trip (redirects, large values) then takes the
// single-id path.
std::vector<Result<uint64_t>> ClientImpl::MultiSet(
    const std::vector<std::pair<std::string, std::string>>& items) {
  std::vector<Result<uint64_t>> out(items.size(), Status::Internal("not sent"));
  RequestBatch batch;
  std::vector<size_t> index;  // batch[k] is items[index[k]]
  batch.reserve(items.size());
  index.reserve(items.size());
  auto view = View();
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [id, data] = items[i];
    Status v = ValidateId(id);
    if (!v.ok()) {
      out[i] = v;
      continue;
    }
    if (data.size() > options_.stream_chunk || view->members.empty()) continue;
    auto cached = redirects_.Lookup(id, view->generation);
    std::string endpoint = cached ? cached->endpoint : *HomeEndpoint(id, *view);
    OutRequest req = MakeRequest(Op::kSet, id);
    req.payload = {data};
    batch.emplace_back(std::move(endpoint), std::move(req));
    index.push_back(i);
  }
  std::vector<Result<ResponsePtr>> replies;
  if (!batch.empty()) replies = transport_->CallMany(batch);
  std::vector<bool> sent(items.size(), false);
  for (size_t k = 0; k < index.size(); ++k) {
    size_t i = index[k];
    sent[i] = true;
    auto& r = replies[k];
    if (r.ok() && ReplyError(**r).ok()) {
      out[i] = (*r)->reply.header.version_no;
    } else if (r.ok() && ((*r)->reply.header.status == Code::kRedirect)) {
      out[i] = Set(items[i].first, items[i].second);  // follows and caches
    } else {
      out[i] = r.ok() ? ReplyError(**r) : r.status();
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (!sent[i] && out[i].status().code() == Code::kInternal) {
      out[i] = Set(items[i].first, items[i].second);
    }
  }
  return out;
}

std::vector<Result<std::string>> ClientImpl::MultiGet(
    const std::vector<std::string>& ids) {
  std::vector<Result<std::string>> out(ids.size(), Status::Internal("not sent"));
  RequestBatch batch;
  std::vector<size_t> index;  // batch[k] is ids[index[k]]
  batch.reserve(ids.size());
  index.reserve(ids.size());
  auto view = View();
  for (size_t i = 0; i < ids.size(); ++i) {
    Status v = ValidateId(ids[i]);
    if (!v.ok()) {
      out[i] = v;
      continue;
    }
    if (view->members.empty()) continue;
    auto cached = redirects_.Lookup(ids[i], view->generation);
    std::string endpoint = cached ? cached->endpoint : *HomeEndpoint(ids[i], *view);
    OutRequest req = MakeRequest(Op::kGet, ids[i]);
    req.header.length = wire::kToEnd;
    batch.emplace_back(std::move(endpoint), std::move(req));
    index.push_back(i);
  }
  std::vector<Result<ResponsePtr>> replies;
  if (!batch.empty()) replies = transport_->CallMany(batch);
  std::vector<bool> sent(ids.size(), false);
  for (size_t k = 0; k < index.size(); ++k) {
    size_t i = index[k];
    sent[i] = true;
    auto& r = replies[k];
    if (r.ok() && ReplyError(**r).ok() && !((*r)->reply.header.flags & wire::kFlagMore)) {
      out[i] = (*r)->PayloadBytes();
    } else if (r.ok() &&
               ((*r)->reply.header.status == Code::kRedirect || ReplyError(**r).ok())) {
      out[i] = Get(ids[i], 0, kWholeBlob);  // redirect or large: the full path
    } else {
      out[i] = r.ok() ? ReplyError(**r) : r.status();
    }
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!sent[i] && out[i].status().code() == Code::kInternal) {
      out[i] = Get(ids[i], 0, kWholeBlob);
    }
  }
  return out;
}

}  // namespace shovel::client
