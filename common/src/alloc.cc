#include "shovel/alloc.h"

#include <malloc.h>

#include <mutex>

namespace shovel {

void KeepLargeBuffersWarm() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
  });
}

}  // namespace shovel
