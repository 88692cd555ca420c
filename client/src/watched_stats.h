// WatchedStats: the STAT answers a client keeps while workers watch their
// ids for it (watch_book.h), so ClientImpl::WatchedStat answers again
// without a round trip. Entries are dropped when their watch ends or the
// membership changed (another worker may be the id's home now).
//
// Bounded: at most kMaxEntries; when full, the entries whose watch ended
// go, and if none did, all of them.
// Thread-safe (one mutex, a leaf).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "shovel/client.h"
#include "watch_book.h"

namespace shovel::client {

class WatchedStats {
 public:
  static constexpr size_t kMaxEntries = 1 << 16;
  // The kept answer for `id` when its watch holds at `now_ns` and it was
  // kept under membership `generation`.
  std::optional<BlobStat> Find(std::string_view id, uint64_t generation, int64_t now_ns);
  void Put(const BlobStat& st, std::shared_ptr<const WatchGrant> grant,
           uint64_t generation, int64_t now_ns);
  size_t size() const;

 private:
  struct Entry {
    BlobStat stat;
    std::shared_ptr<const WatchGrant> grant;
    uint64_t generation = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace shovel::client
