// List of ClientImpl: a merge of sorted pages from every worker.
#include <algorithm>
#include <optional>
#include <set>
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
  for (size_t k = 0; k < view->members.size(); ++k) {
    const Member& m = view->members[k];
    if (Avoid(*view, k)) continue;  // critical in Consul, or found down
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
  // A worker that cannot be reached is left out (its ids are listed by
  // their other copies, if any), as long as one worker answered: one dead
  // worker does not fail every listing.
  size_t answered = 0;
  Status unreachable;
  for (auto& r : replies) {
    if (!r.ok()) {
      Code c = r.status().code();
      if (c != Code::kUnavailable && c != Code::kTimeout) {
        return r.status().WithContext("list");
      }
      unreachable = r.status();
      continue;
    }
    ++answered;
    SHOVEL_RETURN_IF_ERROR(ReplyError(**r).WithContext("list"));
    const Response& resp = **r;
    if (resp.reply.header.flags & wire::kFlagMore) more = true;
    if (resp.reply.payload.empty()) continue;
    SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            wire::DecodeStrings(resp.reply.payload[0]));
    for (auto& n : names) merged.insert(std::move(n));
  }
  if (answered == 0) {
    if (!unreachable.ok()) return unreachable.WithContext("list");
    std::string down;
    for (const auto& m : view->members) down += (down.empty() ? "" : ", ") + m.endpoint;
    return Status::Unavailable("cannot reach any worker (" + down +
                               ": not answering or critical)")
        .WithContext("list");
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

}  // namespace shovel::client
