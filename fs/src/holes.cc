#include "shovel/fs/holes.h"

#include <algorithm>
#include <charconv>

namespace shovel::fs {
namespace {

constexpr uint64_t kZeroPiece = 1ull << 20;

bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

Status SendZeros(uint64_t n, const std::function<Status(std::string_view)>& sink) {
  static const std::string kZeros(kZeroPiece, '\0');
  while (n > 0) {
    const uint64_t step = std::min(n, kZeroPiece);
    SHOVEL_RETURN_IF_ERROR(sink(std::string_view(kZeros).substr(0, step)));
    n -= step;
  }
  return Status::Ok();
}

}  // namespace

Holes Holes::FromAttrs(const std::map<std::string, std::string>& attrs) {
  auto it = attrs.find(kAttrHoles);
  return it == attrs.end() ? Holes() : Parse(it->second);
}

Holes Holes::Parse(std::string_view text) {
  Holes out;
  uint64_t end = 0;
  bool more = !text.empty();
  while (more) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    more = comma != std::string_view::npos;
    text = more ? text.substr(comma + 1) : std::string_view();
    const size_t plus = item.find('+');
    uint64_t off = 0, len = 0;
    if (plus == std::string_view::npos || !ParseU64(item.substr(0, plus), &off) ||
        !ParseU64(item.substr(plus + 1), &len) || len == 0 || off < end ||
        len > UINT64_MAX - off) {
      return Holes();
    }
    out.ranges_[off] = len;
    out.total_ += len;
    end = off + len;
  }
  return out;
}

std::string Holes::Format() const {
  std::string out;
  for (const auto& [off, len] : ranges_) {
    if (!out.empty()) out += ',';
    out += std::to_string(off) + '+' + std::to_string(len);
  }
  return out;
}

uint64_t Holes::LogicalSize(uint64_t stored) const {
  if (ranges_.empty()) return stored;
  const auto& [off, len] = *ranges_.rbegin();
  return std::max(stored + total_, off + len);
}

std::vector<Holes::Piece> Holes::Split(uint64_t off, uint64_t len) const {
  std::vector<Piece> out;
  const uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
  uint64_t before = 0;  // hole bytes below `off`
  auto it = ranges_.begin();
  for (; it != ranges_.end() && it->first + it->second <= off; ++it) before += it->second;
  uint64_t pos = off;
  while (pos < end) {
    if (it != ranges_.end() && it->first <= pos) {  // inside a hole
      const uint64_t h_end = std::min(end, it->first + it->second);
      out.push_back(Piece{pos, h_end - pos, true, 0});
      if (h_end == it->first + it->second) {
        before += it->second;
        ++it;
      }
      pos = h_end;
      continue;
    }
    const uint64_t d_end = it == ranges_.end() ? end : std::min(end, it->first);
    out.push_back(Piece{pos, d_end - pos, false, pos - before});
    pos = d_end;
  }
  return out;
}

void Holes::Add(uint64_t off, uint64_t len) {
  if (len == 0) return;
  uint64_t end = off + len;
  auto it = ranges_.upper_bound(off);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second >= off) it = prev;
  }
  while (it != ranges_.end() && it->first <= end) {
    off = std::min(off, it->first);
    end = std::max(end, it->first + it->second);
    total_ -= it->second;
    it = ranges_.erase(it);
  }
  ranges_[off] = end - off;
  total_ += end - off;
}

std::optional<uint64_t> Holes::NextData(uint64_t off, uint64_t size) const {
  if (off >= size) return std::nullopt;
  auto it = ranges_.upper_bound(off);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (off < prev->first + prev->second) off = prev->first + prev->second;
  }
  if (off >= size) return std::nullopt;
  return off;
}

std::optional<uint64_t> Holes::NextHole(uint64_t off, uint64_t size) const {
  if (off >= size) return std::nullopt;
  auto it = ranges_.upper_bound(off);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (off < prev->first + prev->second) return off;
  }
  return it == ranges_.end() ? size : std::min(it->first, size);
}

Status GetLogical(Client* client, std::string_view id, const Holes& holes, uint64_t size,
                  uint64_t off, uint64_t len,
                  const std::function<Status(std::string_view)>& sink) {
  if (holes.empty()) return client->GetTo(id, off, len, sink);
  if (off >= size) return Status::Ok();
  len = std::min(len, size - off);
  for (const Holes::Piece& p : holes.Split(off, len)) {
    if (p.hole) {
      SHOVEL_RETURN_IF_ERROR(SendZeros(p.len, sink));
      continue;
    }
    uint64_t got = 0;
    SHOVEL_RETURN_IF_ERROR(client->GetTo(id, p.stored, p.len, [&](std::string_view b) {
      got += b.size();
      return sink(b);
    }));
    // Bytes the blob does not hold yet (an append still on its way).
    SHOVEL_RETURN_IF_ERROR(SendZeros(p.len - std::min(got, p.len), sink));
  }
  return Status::Ok();
}

Result<Bytes> GetLogicalBytes(Client* client, std::string_view id, const Holes& holes,
                              uint64_t size, uint64_t off, uint64_t len) {
  if (holes.empty()) return client->GetBytes(id, off, len);
  std::string out;
  if (off < size) out.reserve(std::min(len, size - off));
  SHOVEL_RETURN_IF_ERROR(
      GetLogical(client, id, holes, size, off, len, [&](std::string_view b) {
        out.append(b);
        return Status::Ok();
      }));
  return Bytes(std::move(out));
}

}  // namespace shovel::fs
