// Keeps multi-MiB buffers warm. With glibc's defaults a block of 128 KiB or
// more is mmapped fresh and unmapped when freed, and a heap whose top grows
// past a few MiB is trimmed, so every 1-4 MiB value or message lands in pages
// the kernel must fault in and zero (first touch costs several times a warm
// page here). KeepLargeBuffersWarm raises the mmap threshold to 32 MiB and the
// trim threshold to 512 MiB: such blocks come from the heap and are reused.
// Process-wide and idempotent; the worker, shovelfs and Client::Connect call
// it (ClientOptions::tune_allocator turns it off for a client).
#pragma once

namespace shovel {

void KeepLargeBuffersWarm();

}  // namespace shovel
