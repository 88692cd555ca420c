// FuseMount: a mounted shovelfs, serving a Vfs through fuse_lowlevel.
//
// Mount creates the FUSE session (libfuse parses the FUSE mount options and
// reports unknown ones), installs SIGINT/SIGTERM/SIGHUP handlers that end the
// loop, and mounts (as root directly, else through fusermount3). Run serves
// requests on a multithreaded loop until the filesystem is unmounted or a
// signal arrives. The destructor unmounts. Always mounted with
// default_permissions: the kernel enforces the stored modes (allow_other).
//
// Thread-safety: Mount, Run and the destructor are called from one thread;
// the Vfs is used from the FUSE worker threads. The Vfs must outlive it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shovel/log.h"
#include "shovel/status.h"

namespace shovel::fs {

class Vfs;
class MountMetrics;
struct FuseContext;

struct FuseMountOptions {
  std::string mountpoint;
  std::string fsname = "shovelfs";
  std::vector<std::string> fuse_options;  // allow_other, ro, ...
  bool debug = false;
  double attr_timeout = 1.0;
  uint32_t max_write = 1u << 20;
  unsigned max_threads = 16;
  // Counted here when set (-o metrics=); must outlive the FuseMount.
  MountMetrics* metrics = nullptr;
};

class FuseMount {
 public:
  static Result<std::unique_ptr<FuseMount>> Mount(Vfs* vfs,
                                                  const FuseMountOptions& options);
  ~FuseMount();
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Serves until unmounted (fusermount3 -u, umount) or SIGINT/SIGTERM/SIGHUP.
  Status Run();

 private:
  FuseMount(std::unique_ptr<FuseContext> ctx, unsigned max_threads);

  std::unique_ptr<FuseContext> ctx_;
  std::unique_ptr<log::Limiter> error_log_;  // ctx_->error_log
  unsigned max_threads_;
  bool mounted_ = false;
  bool signals_ = false;
};

}  // namespace shovel::fs
