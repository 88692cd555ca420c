// Helpers shared by the store unit tests: value generators, a config and a
// whole-range reader. Header-only, test code only.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "random_bytes.h"
#include "shovel/protocol.h"
#include "shovel/worker/store.h"

namespace shovel::worker::testing {

using test::RandomBytes;

// Incompressible bytes.
// Compressible, text-like bytes.
inline std::string Text(size_t n) {
  std::string s;
  while (s.size() < n) {
    s += "the quick brown fox jumps over the lazy dog " + std::to_string(s.size());
  }
  s.resize(n);
  return s;
}

inline WorkerConfig Cfg(uint64_t mem, uint64_t chunk = 64 << 10, int level = 1) {
  WorkerConfig c;
  c.max_memory = mem;
  c.chunk_size = chunk;
  c.compression_level = level;
  return c;
}

// Reads [off, off+len) of `id` through as many capped reads as it takes;
// a failed read is a test failure and returns what was read so far.
inline std::string ReadAll(Store& s, std::string_view id, uint64_t off = 0,
                           uint64_t len = wire::kToEnd) {
  std::string out;
  for (;;) {
    auto r = s.Read(id, off + out.size(), len == wire::kToEnd ? len : len - out.size(),
                    1 << 20);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return out;
    out.append(r->bytes.data, r->bytes.size);
    if (!r->more) return out;
  }
}

}  // namespace shovel::worker::testing
