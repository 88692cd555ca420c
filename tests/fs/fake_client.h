// FakeClient: an in-memory shovel::Client for the vfs unit tests.
//
// One process-local map stands for the whole cluster (one node, "fake-node").
// Semantics follow client.h: Set/Commit replace atomically and keep attrs,
// Append creates, Rename replaces, List pages with an opaque cursor and an
// optional delimiter. Tests can make every call fail (SetDown) and cap the
// stored bytes (SetMaxBytes -> kNoSpace). Counters tell how data arrived.
// Thread-safe (one mutex).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include "shovel/client.h"

namespace shovel::fs::testing {

class FakeClient : public Client {
 public:
  struct Counters {
    std::atomic<uint64_t> sets{0}, appends{0}, writer_writes{0}, commits{0}, gets{0},
        stats{0}, lists{0}, stat_names{0};
    std::atomic<uint64_t> largest_write{0};
    std::atomic<uint64_t> got_bytes{0};  // bytes every get returned
  };

  void SetDown(bool down) { down_ = down; }
  void SetMaxBytes(uint64_t max) { max_bytes_ = max; }
  Counters& counters() { return counters_; }

  Result<uint64_t> Set(std::string_view id, std::string_view data) override;
  Result<std::string> Get(std::string_view id, uint64_t offset, uint64_t length) override;
  Status GetTo(std::string_view id, uint64_t offset, uint64_t length,
               const std::function<Status(std::string_view)>& sink) override;
  Result<uint64_t> Append(std::string_view id, std::string_view data) override;
  Result<std::unique_ptr<Writer>> OpenWriter(std::string_view id, WriteMode mode,
                                             uint64_t size_hint = 0) override;
  Status Init(const std::vector<std::string>& ids, InitStrategy strategy,
              const ProgressFn& progress) override;
  Result<std::vector<std::string>> NodeIds(std::string_view id) override;
  Result<std::string> NodeId(std::string_view id, std::string_view strategy) override;
  Result<std::optional<double>> NodeCacheScore(std::string_view node,
                                               std::string_view id) override;
  Status Delete(std::string_view id) override;
  Result<BlobStat> Stat(std::string_view id) override;
  Result<bool> Exists(std::string_view id) override;
  Result<VersionedBytes> GetWithVersion(std::string_view id, uint64_t offset,
                                        uint64_t length) override;
  // Counts as one call (stat_names), not as a stat and a list.
  Result<NameInfo> StatName(std::string_view id) override;
  Result<ListPage> List(std::string_view prefix, std::string_view cursor, uint32_t limit,
                        bool delimiter) override;
  Status Rename(std::string_view from, std::string_view to) override;
  Status SetAttrs(std::string_view id, const std::map<std::string, std::string>& set,
                  const std::vector<std::string>& drop) override;
  std::vector<Result<uint64_t>> MultiSet(
      const std::vector<std::pair<std::string, std::string>>& items) override;
  std::vector<Result<std::string>> MultiGet(const std::vector<std::string>& ids) override;
  Result<std::vector<NodeInfo>> Members() override;

  // Used by the fake Writer.
  Result<uint64_t> CommitValue(const std::string& id, std::string data, bool append);

 private:
  struct Blob {
    std::string data;
    uint64_t version = 0;
    int64_t ctime_ns = 0, mtime_ns = 0;
    bool pinned = false;
    std::map<std::string, std::string> attrs;
  };
  Status Check(std::string_view id) const;
  uint64_t UsedLocked() const;

  std::atomic<bool> down_{false};
  std::atomic<uint64_t> max_bytes_{UINT64_MAX};
  Counters counters_;
  mutable std::mutex mu_;  // guards blobs_, next_version_
  std::map<std::string, Blob, std::less<>> blobs_;
  uint64_t next_version_ = 1;
};

}  // namespace shovel::fs::testing
