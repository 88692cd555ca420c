#include "shovel/fs/fuse_mount.h"

#include <fuse_lowlevel.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "fuse_ops.h"

namespace shovel::fs {

namespace {

// The kernel sizes FUSE read-ahead by the mount's BDI (128 KiB by default,
// so a sequential reader sends one 128 KiB READ at a time). Raise it for
// this mount before FUSE_INIT is answered: the INIT reply can only lower it.
// Needs root (sysfs); best effort, like `echo N > .../read_ahead_kb`.
void RaiseReadahead(const std::string& mountpoint, uint32_t bytes) {
  std::ifstream info("/proc/self/mountinfo");
  std::string line, device;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == mountpoint) device = dev;  // the last (newest) mount wins
  }
  if (device.empty()) return;
  std::ofstream ra("/sys/class/bdi/" + device + "/read_ahead_kb");
  ra << bytes / 1024;
}

// libfuse's own messages ("fuse: ..."), through the mount's log at their
// level: in a background mount stderr is gone, and under systemd the
// journal gets their PRIORITY. Its debug output (-d, one or more lines per
// request, written in pieces) stays on stderr as before.
void LogFromFuse(enum fuse_log_level level, const char* fmt, va_list ap) {
  if (level >= FUSE_LOG_DEBUG) {
    std::vfprintf(stderr, fmt, ap);
    return;
  }
  const log::Level ours = level <= FUSE_LOG_ERR       ? log::Level::kError
                          : level == FUSE_LOG_WARNING ? log::Level::kWarn
                                                      : log::Level::kInfo;
  if (!log::Enabled(ours)) return;
  char buf[1024];
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (n <= 0) return;
  std::string_view line(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty()) log::Write(ours, line);
}

}  // namespace

FuseMount::FuseMount(std::unique_ptr<FuseContext> ctx, unsigned max_threads)
    : ctx_(std::move(ctx)),
      error_log_(std::make_unique<log::Limiter>(std::chrono::minutes(1))),
      max_threads_(max_threads) {
  ctx_->error_log = error_log_.get();
}

Result<std::unique_ptr<FuseMount>> FuseMount::Mount(Vfs* vfs,
                                                    const FuseMountOptions& options) {
  auto ctx = std::make_unique<FuseContext>();
  ctx->vfs = vfs;
  ctx->attr_timeout = ctx->entry_timeout = options.attr_timeout;
  ctx->max_write = options.max_write;
  ctx->metrics = options.metrics;
  std::string opts = "fsname=" + options.fsname + ",subtype=shovelfs,default_permissions";
  for (const std::string& o : options.fuse_options) opts += "," + o;
  std::vector<std::string> argv_s = {"shovelfs", "-o", opts};
  if (options.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  FuseContext* raw = ctx.get();
  std::unique_ptr<FuseMount> m(new FuseMount(std::move(ctx), options.max_threads));
  fuse_set_log_func(LogFromFuse);
  raw->session = fuse_session_new(&args, &FuseOps(), sizeof(fuse_lowlevel_ops), raw);
  if (raw->session == nullptr) {
    return Status::InvalidArgument("FUSE did not accept the mount options '" + opts +
                                   "' (see the message above)");
  }
  if (fuse_set_signal_handlers(raw->session) != 0) {
    return Status::Internal("cannot install signal handlers");
  }
  m->signals_ = true;
  // Resolved before mounting: once mounted, a stat of the mount point would
  // wait for this (not yet serving) process.
  char buf[PATH_MAX];
  std::string real = realpath(options.mountpoint.c_str(), buf) != nullptr ? buf : "";
  if (fuse_session_mount(raw->session, options.mountpoint.c_str()) != 0) {
    return Status::Unavailable("cannot mount on '" + options.mountpoint +
                               "' (does it exist, is it already mounted, is "
                               "/dev/fuse usable?)");
  }
  m->mounted_ = true;
  if (!real.empty()) RaiseReadahead(real, raw->max_readahead);
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
