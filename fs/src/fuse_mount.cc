#include "shovel/fs/fuse_mount.h"

#include <fuse_lowlevel.h>

#include <csignal>
#include <cstring>

#include "fuse_ops.h"

namespace shovel::fs {

FuseMount::FuseMount(std::unique_ptr<FuseContext> ctx, unsigned max_threads)
    : ctx_(std::move(ctx)), max_threads_(max_threads) {}

Result<std::unique_ptr<FuseMount>> FuseMount::Mount(Vfs* vfs,
                                                    const FuseMountOptions& options) {
  auto ctx = std::make_unique<FuseContext>();
  ctx->vfs = vfs;
  ctx->attr_timeout = ctx->entry_timeout = options.attr_timeout;
  ctx->max_write = options.max_write;
  std::string opts = "fsname=" + options.fsname + ",subtype=shovelfs,default_permissions";
  for (const std::string& o : options.fuse_options) opts += "," + o;
  std::vector<std::string> argv_s = {"shovelfs", "-o", opts};
  if (options.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  FuseContext* raw = ctx.get();
  std::unique_ptr<FuseMount> m(new FuseMount(std::move(ctx), options.max_threads));
  raw->session = fuse_session_new(&args, &FuseOps(), sizeof(fuse_lowlevel_ops), raw);
  if (raw->session == nullptr) {
    return Status::InvalidArgument("FUSE did not accept the mount options '" + opts +
                                   "' (see the message above)");
  }
  if (fuse_set_signal_handlers(raw->session) != 0) {
    return Status::Internal("cannot install signal handlers");
  }
  m->signals_ = true;
  if (fuse_session_mount(raw->session, options.mountpoint.c_str()) != 0) {
    return Status::Unavailable("cannot mount on '" + options.mountpoint +
                               "' (does it exist, is it already mounted, is "
                               "/dev/fuse usable?)");
  }
  m->mounted_ = true;
  return m;
}

Status FuseMount::Run() {
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  fuse_loop_cfg_set_max_threads(cfg, max_threads_);
  int rc = fuse_session_loop_mt(ctx_->session, cfg);
  fuse_loop_cfg_destroy(cfg);
  if (rc != 0 && rc != SIGINT && rc != SIGTERM && rc != SIGHUP) {
    return Status::Internal("the FUSE loop failed: " +
                            std::string(strerror(rc < 0 ? -rc : rc)));
  }
  return Status::Ok();
}

FuseMount::~FuseMount() {
  fuse_session* se = ctx_->session;
  if (se == nullptr) return;
  if (mounted_) fuse_session_unmount(se);
  if (signals_) fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
}

}  // namespace shovel::fs
