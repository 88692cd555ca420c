// Store: LIST over the sorted index of ids.
#include <algorithm>

#include "store_internal.h"

namespace shovel::worker {
namespace {

// The smallest string greater than every string starting with `dir/`: the
// '/' that ends it, bumped to '0'.
std::string PastNamespace(std::string_view full_with_slash) {
  std::string s(full_with_slash);
  s.back() = static_cast<char>('/' + 1);
  return s;
}

}  // namespace

ListResult Store::List(std::string_view prefix, std::string_view start_after,
                       size_t limit, bool delimiter) const {
  ListResult out;
  if (limit == 0) return out;
  std::string start(prefix);
  if (delimiter)
    start += start_after;
  else if (!start_after.empty() && std::string_view(start_after) > start) {
    start = std::string(start_after);
  }
  std::lock_guard<std::mutex> l(index_mu_);
  auto it = index_.lower_bound(start);
  if (!start_after.empty()) {
    if (delimiter && start_after.back() == '/') {
      it = index_.lower_bound(PastNamespace(start));
    } else if (it != index_.end() && *it == start) {
      ++it;
    }
  }
  while (it != index_.end() && it->compare(0, prefix.size(), prefix) == 0) {
    if (out.names.size() == limit) {
      out.more = true;
      break;
    }
    std::string_view rel = std::string_view(*it).substr(prefix.size());
    if (!delimiter) {
      out.names.push_back(*it);
      ++it;
      continue;
    }
    size_t slash = rel.find('/');
    if (slash == std::string_view::npos) {
      out.names.emplace_back(rel);
      ++it;
      continue;
    }
    out.names.emplace_back(rel.substr(0, slash + 1));
    it = index_.lower_bound(PastNamespace(it->substr(0, prefix.size() + slash + 1)));
  }
  return out;
}

size_t Store::DropUnpinned() {
  size_t dropped = 0;
  std::string after;
  for (;;) {
    ListResult page = List("", after, 4096, /*delimiter=*/false);
    for (const auto& id : page.names) {
      auto st = Stat(id);
      if (st.ok() && !st->pinned && Delete(id).ok()) ++dropped;
    }
    if (!page.more || page.names.empty()) return dropped;
    after = page.names.back();
  }
}

}  // namespace shovel::worker
