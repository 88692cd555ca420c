#include "shovel/hrw.h"

#include <algorithm>
#include <utility>

namespace shovel {
namespace {

// splitmix64 finalizer: spreads FNV's weak low bits over the whole word.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t Fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

uint64_t HrwWeight(std::string_view node_id, std::string_view id) {
  uint64_t h = Fnv1a(0xcbf29ce484222325ULL, node_id);
  h = Mix(h);
  h = Fnv1a(h ^ 0xff, id);  // separator: ("ab","c") != ("a","bc")
  return Mix(h);
}

std::vector<size_t> RankNodes(std::string_view id,
                              const std::vector<std::string>& node_ids) {
  std::vector<std::pair<uint64_t, size_t>> w;
  w.reserve(node_ids.size());
  for (size_t i = 0; i < node_ids.size(); ++i) {
    w.emplace_back(HrwWeight(node_ids[i], id), i);
  }
  std::sort(w.begin(), w.end(), [&](const auto& a, const auto& b) {
    return ComesBefore(node_ids[a.second], a.first, node_ids[b.second], b.first);
  });
  std::vector<size_t> out;
  out.reserve(w.size());
  for (const auto& p : w) out.push_back(p.second);
  return out;
}

}  // namespace shovel
