// Holes: the ranges of a sparse file that read as zeros and take no stored
// bytes (docs/shovelfs.md, "Sparse files").
//
// A file with holes is its blob plus the attribute "holes" (kAttrHoles):
// "OFF+LEN,OFF+LEN..." in decimal, logical offsets, sorted, apart. The blob
// holds every byte that is not in a hole, in order, so the file's size is
// the blob's size plus the holes' total (or the end of the last hole, if
// later: bytes the blob does not hold yet read as zeros). Without the
// attribute the file is its blob. An append to the blob lands at the file's
// end, after a trailing hole.
//
// A value type: thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/client.h"

namespace shovel::fs {

inline constexpr char kAttrHoles[] = "holes";
// Runs of zeros shorter than this are stored as zeros, not as holes (a hole
// costs attribute bytes and a map entry).
inline constexpr uint64_t kMinHole = 64ull << 10;

class Holes {
 public:
  // A stretch of the file: a hole, or bytes the blob holds from `stored`.
  struct Piece {
    uint64_t off = 0;
    uint64_t len = 0;
    bool hole = false;
    uint64_t stored = 0;
  };

  // The holes a blob's attributes describe; malformed text (not written by
  // shovelfs) counts as no holes.
  static Holes FromAttrs(const std::map<std::string, std::string>& attrs);
  static Holes Parse(std::string_view text);
  std::string Format() const;

  bool empty() const { return ranges_.empty(); }
  size_t count() const { return ranges_.size(); }
  uint64_t total() const { return total_; }
  // The file's size when its blob holds `stored` bytes.
  uint64_t LogicalSize(uint64_t stored) const;
  // [off, off + len) as holes and stored ranges, in order.
  std::vector<Piece> Split(uint64_t off, uint64_t len) const;
  // Makes [off, off + len) a hole, merged with holes it touches.
  void Add(uint64_t off, uint64_t len);
  // lseek(2) in a file of `size` bytes: the first data at or after `off`
  // (SEEK_DATA), or the first hole (SEEK_HOLE; the end of the file counts as
  // one). nullopt when `off` is at or past the end, or no data follows.
  std::optional<uint64_t> NextData(uint64_t off, uint64_t size) const;
  std::optional<uint64_t> NextHole(uint64_t off, uint64_t size) const;

  bool operator==(const Holes& o) const { return ranges_ == o.ranges_; }

 private:
  std::map<uint64_t, uint64_t> ranges_;  // off -> len
  uint64_t total_ = 0;
};

// Streams the file's bytes [off, off + len), at most up to `size` (its
// logical size), to `sink`: holes, and bytes the blob does not hold, as
// zeros. With no holes this is Client::GetTo of the blob itself.
Status GetLogical(Client* client, std::string_view id, const Holes& holes, uint64_t size,
                  uint64_t off, uint64_t len,
                  const std::function<Status(std::string_view)>& sink);

// GetLogical's bytes in one buffer: with no holes, Client::GetBytes (an
// in-process worker's reply is kept, not copied); else one allocation of
// the range, filled once.
Result<Bytes> GetLogicalBytes(Client* client, std::string_view id, const Holes& holes,
                              uint64_t size, uint64_t off, uint64_t len);

}  // namespace shovel::fs
