// KeepLargeBuffersWarm: multi-MiB blocks come from the heap (reused warm),
// not from a fresh mmap per block as with glibc's defaults.
#include "shovel/alloc.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace shovel {
namespace {

TEST(AllocTest, FourMiBBlocksAreNotMmapped) {
  KeepLargeBuffersWarm();
  KeepLargeBuffersWarm();  // idempotent
  const size_t mapped_before = mallinfo2().hblks;
  void* p = std::malloc(4 << 20);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 4 << 20);
  EXPECT_EQ(mallinfo2().hblks, mapped_before) << "a 4 MiB block was mmapped";
  std::free(p);
}

}  // namespace
}  // namespace shovel
