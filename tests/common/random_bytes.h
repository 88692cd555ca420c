// Test data: `n` pseudo-random bytes from `seed` (incompressible, the same
// for the same seed). Header-only; thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace shovel::test {

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, n - i < 8 ? n - i : 8);
  }
  return s;
}

}  // namespace shovel::test
