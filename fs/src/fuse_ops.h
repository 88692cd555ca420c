// The table of fuse_lowlevel callbacks (fuse_ops.cc) and what they share.
// No FUSE headers here: only fuse_ops.cc and fuse_mount.cc include them.
#pragma once

#include <cstdint>

struct fuse_lowlevel_ops;
struct fuse_session;

namespace shovel::log {
class Limiter;
}

namespace shovel::fs {

class Vfs;
class MountMetrics;

// The request userdata. Owned by FuseMount; read-only once the loop runs
// (`session` is set before the first request), so callbacks share it freely.
struct FuseContext {
  Vfs* vfs = nullptr;
  fuse_session* session = nullptr;
  double attr_timeout = 1.0;
  double entry_timeout = 1.0;
  uint32_t max_write = 1u << 20;
  uint32_t max_readahead = 2u << 20;  // larger windows read no faster
  MountMetrics* metrics = nullptr;    // null: not counted (no -o metrics=)
  log::Limiter* error_log = nullptr;  // one line per id and errno a minute
};

const fuse_lowlevel_ops& FuseOps();

}  // namespace shovel::fs
