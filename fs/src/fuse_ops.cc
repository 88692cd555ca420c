// The FUSE binding: each callback decodes its request, calls one Vfs method
// and sends exactly one reply (forget sends none). errno is made here, from
// the Vfs Status, by ErrnoFromStatus.
#include "fuse_ops.h"

#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>

#include "shovel/fs/fuse_edge.h"
#include "shovel/fs/mount_metrics.h"
#include "shovel/fs/vfs.h"
#include "shovel/log.h"

namespace shovel::fs {
namespace {

constexpr uint64_t kUnknownIno = 0xffffffff;  // readdir: no inode number yet

FuseContext& Ctx(fuse_req_t req) {
  return *static_cast<FuseContext*>(fuse_req_userdata(req));
}
Vfs& V(fuse_req_t req) { return *Ctx(req).vfs; }

// The request this FUSE thread is answering (set by Counted below): what a
// logged error names. A thread answers one request at a time.
struct Current {
  FuseOp op = FuseOp::kLookup;
  uint64_t ino = 0;
  const char* name = nullptr;  // the entry under `ino`, for lookup, mkdir...
};
thread_local Current tls_current;

// Errors an operator must hear about: the cluster or the mount failed, not
// the caller's request (ENOENT, EEXIST... are answers, not failures).
bool WorthLogging(const Status& s) {
  switch (s.code()) {
    case Code::kUnavailable:
    case Code::kTimeout:
    case Code::kInternal:
    case Code::kCorruption:
    case Code::kProtocol:
    case Code::kNoSpace:
    case Code::kPermissionDenied:
      return true;
    default:
      return false;
  }
}

// "read 'a/b'": the operation and the id (the path under the mount).
std::string Describe(const FuseContext& c, const Current& cur) {
  std::string path;
  if (auto info = c.vfs->inodes().Get(cur.ino)) path = info->path;
  if (cur.name != nullptr) path += (path.empty() ? "" : "/") + std::string(cur.name);
  return std::string(FuseOpName(cur.op)) + " '" + (path.empty() ? "/" : path) + "'";
}

void NoteError(const FuseContext& c, const Status& s, int e) {
  if (c.metrics != nullptr) c.metrics->RecordError(e);
  if (!WorthLogging(s) || !log::Enabled(log::Level::kWarn)) return;
  const std::string what = Describe(c, tls_current);
  const std::string key = what + " " + std::to_string(e);
  std::optional<uint64_t> held = 0;
  if (c.error_log != nullptr) held = c.error_log->Allow(key);
  if (!held) return;
  log::Warn(what + " failed with " + ErrnoName(e) + ": " + s.ToString() +
            (*held ? " (" + std::to_string(*held) + " more since the last line)" : ""));
}

int Reply(fuse_req_t req, const Status& s) {
  if (s.ok()) return fuse_reply_err(req, 0);
  const int e = ErrnoFromStatus(s);
  NoteError(Ctx(req), s, e);
  return fuse_reply_err(req, e);
}

// An error the binding itself decides (not from a Vfs Status).
void ReplyErrno(fuse_req_t req, int e) {
  if (MountMetrics* m = Ctx(req).metrics) m->RecordError(e);
  fuse_reply_err(req, e);
}

// The wait of a request that may take a cache round trip (up to the
// request deadline, or longer when a worker is unreachable): a signal to the
// caller makes the kernel send INTERRUPT, answered at once with EINTR, so
// the caller's system call ends. The work itself runs on to its end (a
// commit already sent may still land); its reply is dropped. The callback
// calls Claim() before it replies: false when EINTR was sent (req is then
// gone and must not be touched). Lock order: libfuse's request lock, then
// mu_ (OnInterrupt runs under the former).
class Interruptible {
 public:
  explicit Interruptible(fuse_req_t req) : req_(req) {
    // An INTERRUPT that came first runs OnInterrupt inside this call, under
    // the request's lock: a reply there would free the request while
    // libfuse still holds it, so OnInterrupt only notes it and the EINTR is
    // sent here, once the registration is done.
    fuse_req_interrupt_func(req, &Interruptible::OnInterrupt, this);
    bool early = false;
    {
      std::lock_guard lock(mu_);
      registering_ = false;
      early = early_ && !interrupted_;
      if (early) interrupted_ = true;
    }
    if (early) {
      fuse_req_interrupt_func(req, nullptr, nullptr);
      ReplyErrno(req, EINTR);
    }
  }
  ~Interruptible() { (void)Claim(); }
  Interruptible(const Interruptible&) = delete;
  Interruptible& operator=(const Interruptible&) = delete;

  // True when this thread is to reply (no EINTR was sent, none will be).
  bool Claim() {
    {
      std::lock_guard lock(mu_);
      if (interrupted_) return false;
      if (claimed_) return true;
      claimed_ = true;
    }
    // Waits for an OnInterrupt in progress (it then sends nothing).
    fuse_req_interrupt_func(req_, nullptr, nullptr);
    return true;
  }

 private:
  // Runs under libfuse's lock of `req`, with a reference that keeps it
  // alive past the reply (find_interrupted), or inside the constructor's
  // registration (no such reference: see above).
  static void OnInterrupt(fuse_req_t req, void* data) {
    auto* self = static_cast<Interruptible*>(data);
    std::lock_guard lock(self->mu_);
    if (self->claimed_ || self->interrupted_) return;
    if (self->registering_) {
      self->early_ = true;
      return;
    }
    self->interrupted_ = true;
    ReplyErrno(req, EINTR);
  }

  const fuse_req_t req_;
  std::mutex mu_;  // guards the flags below
  bool registering_ = true;
  bool early_ = false;  // interrupted while registering_
  bool claimed_ = false;
  bool interrupted_ = false;
};

// A callback for FuseOps(): notes which request this thread answers (for
// error lines) and, with -o metrics=, counts it and its time to the reply
// (every callback replies before it returns). Relaxed atomics only.
template <FuseOp kOp, auto Fn, typename F = decltype(Fn)>
struct Counted;
template <FuseOp kOp, auto Fn, typename... A>
struct Counted<kOp, Fn, void (*)(fuse_req_t, A...)> {
  static void Call(fuse_req_t req, A... a) {
    Current cur;
    cur.op = kOp;
    Note(cur, a...);
    tls_current = cur;
    MountMetrics* m = Ctx(req).metrics;  // read before the reply frees req
    if (m == nullptr) {
      Fn(req, a...);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    Fn(req, a...);
    m->RecordOp(kOp, std::chrono::steady_clock::now() - start);
  }
  template <typename... R>
  static void Note(Current& cur, fuse_ino_t ino, R... rest) {
    cur.ino = ino;
    if constexpr (sizeof...(R) > 0) NoteName(cur, rest...);
  }
  template <typename... R>
  static void Note(Current&, R...) {}
  template <typename T, typename... R>
  static void NoteName(Current& cur, T first, R...) {
    // An xattr's name is not an entry under the inode.
    constexpr bool kXattr = kOp == FuseOp::kGetxattr || kOp == FuseOp::kSetxattr ||
                            kOp == FuseOp::kRemovexattr;
    if constexpr (std::is_same_v<T, const char*> && !kXattr) cur.name = first;
  }
};

struct timespec Ts(int64_t ns) {
  return timespec{static_cast<time_t>(ns / 1'000'000'000),
                  static_cast<long>(ns % 1'000'000'000)};
}

mode_t TypeBits(const Attr& a) {
  if (a.is_dir) return S_IFDIR;
  switch (a.type) {
    case FileType::kRegular:
      break;
    case FileType::kSymlink:
      return S_IFLNK;
    case FileType::kFifo:
      return S_IFIFO;
    case FileType::kSocket:
      return S_IFSOCK;
    case FileType::kCharDevice:
      return S_IFCHR;
    case FileType::kBlockDevice:
      return S_IFBLK;
  }
  return S_IFREG;
}

struct stat ToStat(const Attr& a, uint32_t max_write) {
  struct stat st = {};
  st.st_ino = a.ino;
  st.st_mode = TypeBits(a) | a.perm;
  st.st_nlink = a.nlink;
  st.st_rdev = static_cast<dev_t>(a.rdev);
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  // Holes take no blocks: du shows what is stored, and cp, tar and rsync
  // see a sparse file and copy it with SEEK_DATA/SEEK_HOLE.
  st.st_blocks =
      static_cast<blkcnt_t>((a.size - std::min(a.hole_bytes, a.size) + 511) / 512);
  st.st_blksize = max_write;  // cp and friends size their buffers from it
  st.st_atim = Ts(a.atime_ns);
  st.st_mtim = Ts(a.mtime_ns);
  st.st_ctim = Ts(a.ctime_ns);
  return st;
}

void ReplyEntry(fuse_req_t req, const Result<Attr>& a) {
  if (!a.ok()) {
    Reply(req, a.status());
    return;
  }
  const FuseContext& c = Ctx(req);
  fuse_entry_param e = {};
  e.ino = a->ino;
  e.generation = a->generation;
  e.attr = ToStat(*a, c.max_write);
  e.attr_timeout = c.attr_timeout;
  e.entry_timeout = c.entry_timeout;
  fuse_reply_entry(req, &e);
}

// An entry the request made (mkdir, mknod, symlink, link) is answered unless
// the caller was interrupted; then the kernel never takes its reference.
void ReplyMadeEntry(fuse_req_t req, Vfs& vfs, Interruptible& wait,
                    const Result<Attr>& a) {
  if (!wait.Claim()) {
    if (a.ok()) vfs.Forget(a->ino, 1);
    return;
  }
  ReplyEntry(req, a);
}

void ReplyAttr(fuse_req_t req, const Result<Attr>& a) {
  if (!a.ok()) {
    Reply(req, a.status());
    return;
  }
  struct stat st = ToStat(*a, Ctx(req).max_write);
  fuse_reply_attr(req, &st, Ctx(req).attr_timeout);
}

Owner Caller(fuse_req_t req) {
  const fuse_ctx* c = fuse_req_ctx(req);
  return Owner{c->uid, c->gid};
}

void SetOpenFlags(const OpenReply& o, fuse_file_info* fi) {
  fi->fh = o.fh;
  fi->keep_cache = o.keep_cache;
  fi->direct_io = o.direct_io;
  fi->noflush = o.no_flush;
}

void OnInit(void* userdata, fuse_conn_info* conn) {
  auto* c = static_cast<FuseContext*>(userdata);
  conn->max_write = c->max_write;
  // The kernel caps this at the mount's BDI read-ahead, which FuseMount
  // raised before the loop started (see fuse_mount.cc).
  conn->max_readahead = c->max_readahead;
  // O_TRUNC arrives with open (one streamed set instead of truncate + set).
  for (unsigned cap :
       {FUSE_CAP_ATOMIC_O_TRUNC, FUSE_CAP_ASYNC_READ, FUSE_CAP_PARALLEL_DIROPS}) {
    if (conn->capable & cap) conn->want |= cap;
  }
  // Page-cache validity is decided at open from the blob version, not by
  // mtime/size heuristics; the writeback cache would merge O_APPEND writes
  // and delay them past close, breaking per-write atomicity.
  conn->want &= ~(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_WRITEBACK_CACHE);
  // Direct I/O (O_DIRECT, O_APPEND files) as synchronous requests: the
  // kernel waits for an async one uninterruptibly and never sends it an
  // INTERRUPT, so a signal could not end the caller's wait (Interruptible).
  conn->want &= ~FUSE_CAP_ASYNC_DIO;
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<Attr> a = vfs.Lookup(parent, name);
  if (!wait.Claim()) {
    if (a.ok()) vfs.Forget(a->ino, 1);  // the kernel never took this reference
    return;
  }
  ReplyEntry(req, a);
}

void OnForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  V(req).Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OnForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) V(req).Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OnGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<Attr> a = vfs.GetAttr(ino);
  if (wait.Claim()) ReplyAttr(req, a);
}

void OnSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               fuse_file_info* fi) {
  AttrChange c;
  if (to_set & FUSE_SET_ATTR_MODE) c.perm = attr->st_mode & 07777;
  if (to_set & FUSE_SET_ATTR_UID) c.uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) c.gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) c.size = static_cast<uint64_t>(attr->st_size);
  auto ns = [](const timespec& t) { return t.tv_sec * 1'000'000'000LL + t.tv_nsec; };
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    c.atime_ns = NowNs();
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    c.atime_ns = ns(attr->st_atim);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    c.mtime_ns = NowNs();
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    c.mtime_ns = ns(attr->st_mtim);
  }
  std::optional<uint64_t> fh;
  if (fi != nullptr) fh = fi->fh;
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<Attr> a = vfs.SetAttr(ino, fh, c);
  if (wait.Claim()) ReplyAttr(req, a);
}

void OnMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  const Owner who = Caller(req);
  Interruptible wait(req);
  ReplyMadeEntry(req, vfs, wait, vfs.MkDir(parent, name, mode & 07777, who));
}

void OnRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Status s = vfs.RmDir(parent, name);
  if (wait.Claim()) Reply(req, s);
}

void OnUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Status s = vfs.Unlink(parent, name);
  if (wait.Claim()) Reply(req, s);
}

void OnRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags) {
  if (flags & RENAME_EXCHANGE) {
    ReplyErrno(req, EINVAL);
    return;
  }
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Status s =
      vfs.Rename(parent, name, newparent, newname, (flags & RENAME_NOREPLACE) != 0);
  if (wait.Claim()) Reply(req, s);
}

void OnLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Vfs& vfs = V(req);
  Interruptible wait(req);
  ReplyMadeEntry(req, vfs, wait, vfs.Link(ino, newparent, newname));
}

void OnSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Vfs& vfs = V(req);
  const Owner who = Caller(req);
  Interruptible wait(req);
  ReplyMadeEntry(req, vfs, wait, vfs.Symlink(parent, name, link, who));
}

void OnReadlink(fuse_req_t req, fuse_ino_t ino) {
  Result<std::string> target = V(req).ReadLink(ino);
  if (!target.ok()) {
    Reply(req, target.status());
    return;
  }
  fuse_reply_readlink(req, target->c_str());
}

void OnMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
             dev_t rdev) {
  FileType type;
  switch (mode & S_IFMT) {
    case 0:
    case S_IFREG:
      type = FileType::kRegular;
      break;
    case S_IFIFO:
      type = FileType::kFifo;
      break;
    case S_IFSOCK:
      type = FileType::kSocket;
      break;
    case S_IFCHR:
      type = FileType::kCharDevice;
      break;
    case S_IFBLK:
      type = FileType::kBlockDevice;
      break;
    default:
      ReplyErrno(req, EINVAL);
      return;
  }
  Vfs& vfs = V(req);
  const Owner who = Caller(req);
  Interruptible wait(req);
  ReplyMadeEntry(req, vfs, wait, vfs.MkNod(parent, name, type, mode & 07777, rdev, who));
}

void OnCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  const Owner who = Caller(req);
  Interruptible wait(req);
  Result<Vfs::Created> c = vfs.Create(parent, name, mode & 07777, fi->flags, who);
  if (!wait.Claim()) {
    // The file was made (or will be, as the handle closes); the kernel
    // holds neither the handle nor the reference.
    if (c.ok()) {
      (void)vfs.Release(c->open.fh);
      vfs.Forget(c->attr.ino, 1);
    }
    return;
  }
  if (!c.ok()) {
    Reply(req, c.status());
    return;
  }
  const FuseContext& ctx = Ctx(req);
  fuse_entry_param e = {};
  e.ino = c->attr.ino;
  e.generation = c->attr.generation;
  e.attr = ToStat(c->attr, ctx.max_write);
  e.attr_timeout = ctx.attr_timeout;
  e.entry_timeout = ctx.entry_timeout;
  SetOpenFlags(c->open, fi);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) vfs.Release(fi->fh).ok();
}

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<OpenReply> o = vfs.Open(ino, fi->flags);
  if (!wait.Claim()) {
    if (o.ok()) vfs.Abandon(o->fh);
    return;
  }
  if (!o.ok()) {
    Reply(req, o.status());
    return;
  }
  // Another client changed the blob: the size the kernel holds is stale.
  if (o->attrs_stale) fuse_lowlevel_notify_inval_inode(Ctx(req).session, ino, -1, 0);
  if (MountMetrics* m = Ctx(req).metrics; m != nullptr && !o->direct_io) {
    m->OpenKept(o->keep_cache);
  }
  SetOpenFlags(*o, fi);
  if (fuse_reply_open(req, fi) == -ENOENT) vfs.Abandon(fi->fh);  // interrupted
}

// Puts the bytes a read fetched around its reply into the page cache of
// `ino` (FUSE notify_store), when the Vfs allows it: later reads of them
// never reach this process. Best effort: a store the kernel refuses is
// only a later READ.
void StoreAround(const FuseContext& ctx, fuse_ino_t ino, const ReadData& r) {
  if (r.around.empty() || !ctx.vfs->BeginStore(ino, r.version)) return;
  auto store = [&](uint64_t at, std::string_view bytes) {
    if (bytes.empty()) return;
    fuse_bufvec bv = FUSE_BUFVEC_INIT(bytes.size());
    bv.buf[0].mem = const_cast<char*>(bytes.data());
    (void)fuse_lowlevel_notify_store(ctx.session, ino, at, &bv, fuse_buf_copy_flags{});
  };
  const size_t in = r.bytes.empty() ? r.around.size() : r.bytes.data() - r.around.data();
  store(r.around_off, r.around.substr(0, in));
  if (in + r.bytes.size() < r.around.size()) {
    store(r.around_off + in + r.bytes.size(), r.around.substr(in + r.bytes.size()));
  }
  ctx.vfs->EndStore(ino);
}

void OnRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<ReadData> r = vfs.ReadView(fi->fh, static_cast<uint64_t>(off), size);
  if (!wait.Claim()) return;
  if (!r.ok()) {
    Reply(req, r.status());
    return;
  }
  const FuseContext& ctx = Ctx(req);  // req is freed by the reply
  if (MountMetrics* m = ctx.metrics) m->AddRead(r->bytes.size());
  fuse_reply_buf(req, r->bytes.data(), r->bytes.size());
  StoreAround(ctx, ino, *r);
}

void OnWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) {
  bool mode_changed = false;
  const uid_t uid = fuse_req_ctx(req)->uid;
  const FuseContext& ctx = Ctx(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<size_t> n = ctx.vfs->Write(fi->fh, static_cast<uint64_t>(off),
                                    std::string_view(buf, size), uid, &mode_changed);
  if (!wait.Claim()) {
    if (mode_changed) fuse_lowlevel_notify_inval_inode(ctx.session, ino, -1, 0);
    return;
  }
  // Set-user-ID was cleared: the kernel must not show its cached mode.
  if (mode_changed) fuse_lowlevel_notify_inval_inode(Ctx(req).session, ino, -1, 0);
  if (!n.ok()) {
    Reply(req, n.status());
    return;
  }
  if (MountMetrics* m = Ctx(req).metrics) m->AddWritten(*n);
  fuse_reply_write(req, *n);
}

void OnFlush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Status s = vfs.Flush(fi->fh);
  if (wait.Claim()) Reply(req, s);
}

void OnRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Reply(req, V(req).Release(fi->fh));
}

void OnFsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Status s = vfs.Fsync(fi->fh);
  if (wait.Claim()) Reply(req, s);
}

void OnLseek(fuse_req_t req, fuse_ino_t, off_t off, int whence, fuse_file_info* fi) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) {  // the kernel does the others
    ReplyErrno(req, EINVAL);
    return;
  }
  Result<uint64_t> to =
      V(req).Seek(fi->fh, static_cast<uint64_t>(off), whence == SEEK_DATA);
  if (!to.ok()) {
    Reply(req, to.status());
    return;
  }
  fuse_reply_lseek(req, static_cast<off_t>(*to));
}

void OnFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                 fuse_file_info* fi) {
  const FuseContext& ctx = Ctx(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Status s = ctx.vfs->Fallocate(fi->fh, mode, static_cast<int64_t>(off),
                                static_cast<int64_t>(len));
  // A punched range must not be read from pages cached before it (the
  // kernel drops them too; this also covers pages stored meanwhile).
  if (s.ok() && (mode & FALLOC_FL_PUNCH_HOLE) != 0) {
    fuse_lowlevel_notify_inval_inode(ctx.session, ino, off, len);
  }
  if (wait.Claim()) Reply(req, s);
}

void OnOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Result<uint64_t> fh = V(req).OpenDir(ino);
  if (!fh.ok()) {
    Reply(req, fh.status());
    return;
  }
  fi->fh = *fh;
  if (fuse_reply_open(req, fi) == -ENOENT) V(req).ReleaseDir(fi->fh);
}

void OnReaddir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  // A dirent takes at least 32 bytes; ask for no more entries than can fit.
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<std::vector<DirEntry>> entries =
      vfs.ReadDir(fi->fh, static_cast<uint64_t>(off), size / 32 + 1);
  if (!wait.Claim()) return;
  if (!entries.ok()) {
    Reply(req, entries.status());
    return;
  }
  std::string buf(size, '\0');
  size_t used = 0;
  for (const DirEntry& e : *entries) {
    struct stat st = {};
    st.st_ino = kUnknownIno;
    // DT_UNKNOWN (0) when the kind could not be looked up: callers lstat.
    if (e.is_dir || e.type) {
      Attr kind;
      kind.is_dir = e.is_dir;
      if (e.type) kind.type = *e.type;
      st.st_mode = TypeBits(kind);
    }
    size_t need = fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(),
                                    &st, static_cast<off_t>(e.next_offset));
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void OnReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  V(req).ReleaseDir(fi->fh);
  fuse_reply_err(req, 0);
}

void OnStatfs(fuse_req_t req, fuse_ino_t) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<FsStats> s = vfs.StatFs();
  if (!wait.Claim()) return;
  if (!s.ok()) {
    Reply(req, s.status());
    return;
  }
  struct statvfs v = {};
  v.f_bsize = v.f_frsize = 4096;
  v.f_blocks = s->total_bytes / 4096;
  v.f_bfree = v.f_bavail =
      s->total_bytes > s->used_bytes ? (s->total_bytes - s->used_bytes) / 4096 : 0;
  v.f_files = s->ids + (1u << 30);
  v.f_ffree = v.f_favail = 1u << 30;
  v.f_namemax = 255;
  fuse_reply_statfs(req, &v);
}

void ReplyXattr(fuse_req_t req, size_t size, const Result<std::string>& value) {
  if (!value.ok()) {
    Reply(req, value.status());
    return;
  }
  switch (AnswerXattr(size, value->size()).kind) {
    case XattrAnswer::kSize:
      fuse_reply_xattr(req, value->size());
      break;
    case XattrAnswer::kRange:
      ReplyErrno(req, ERANGE);
      break;
    case XattrAnswer::kValue:
      fuse_reply_buf(req, value->data(), value->size());
      break;
  }
}

void OnGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<std::string> value = vfs.GetXattr(ino, name);
  if (wait.Claim()) ReplyXattr(req, size, value);
}

void OnListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Result<std::vector<std::string>> names = vfs.ListXattr(ino);
  if (!wait.Claim()) return;
  if (!names.ok()) {
    Reply(req, names.status());
    return;
  }
  ReplyXattr(req, size, JoinXattrNames(*names));
}

void OnSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                size_t size, int flags) {
  XattrSetMode mode = (flags & XATTR_CREATE)    ? XattrSetMode::kCreate
                      : (flags & XATTR_REPLACE) ? XattrSetMode::kReplace
                                                : XattrSetMode::kAny;
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Status s = vfs.SetXattr(ino, name, std::string_view(value, size), mode);
  if (wait.Claim()) Reply(req, s);
}

void OnRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Vfs& vfs = V(req);  // req is gone once EINTR was sent
  Interruptible wait(req);
  Status s = vfs.RemoveXattr(ino, name);
  if (wait.Claim()) Reply(req, s);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops = {};
  ops.init = OnInit;
  ops.lookup = Counted<FuseOp::kLookup, OnLookup>::Call;
  ops.forget = Counted<FuseOp::kForget, OnForget>::Call;
  ops.forget_multi = Counted<FuseOp::kForget, OnForgetMulti>::Call;
  ops.getattr = Counted<FuseOp::kGetattr, OnGetattr>::Call;
  ops.setattr = Counted<FuseOp::kSetattr, OnSetattr>::Call;
  ops.mkdir = Counted<FuseOp::kMkdir, OnMkdir>::Call;
  ops.rmdir = Counted<FuseOp::kRmdir, OnRmdir>::Call;
  ops.unlink = Counted<FuseOp::kUnlink, OnUnlink>::Call;
  ops.rename = Counted<FuseOp::kRename, OnRename>::Call;
  ops.link = Counted<FuseOp::kLink, OnLink>::Call;
  ops.symlink = Counted<FuseOp::kSymlink, OnSymlink>::Call;
  ops.readlink = Counted<FuseOp::kReadlink, OnReadlink>::Call;
  ops.mknod = Counted<FuseOp::kMknod, OnMknod>::Call;
  ops.create = Counted<FuseOp::kCreate, OnCreate>::Call;
  ops.open = Counted<FuseOp::kOpen, OnOpen>::Call;
  ops.read = Counted<FuseOp::kRead, OnRead>::Call;
  ops.write = Counted<FuseOp::kWrite, OnWrite>::Call;
  ops.flush = Counted<FuseOp::kFlush, OnFlush>::Call;
  ops.release = Counted<FuseOp::kRelease, OnRelease>::Call;
  ops.fsync = Counted<FuseOp::kFsync, OnFsync>::Call;
  ops.lseek = Counted<FuseOp::kLseek, OnLseek>::Call;
  ops.fallocate = Counted<FuseOp::kFallocate, OnFallocate>::Call;
  ops.opendir = Counted<FuseOp::kOpendir, OnOpendir>::Call;
  ops.readdir = Counted<FuseOp::kReaddir, OnReaddir>::Call;
  ops.releasedir = Counted<FuseOp::kReleasedir, OnReleasedir>::Call;
  ops.statfs = Counted<FuseOp::kStatfs, OnStatfs>::Call;
  ops.getxattr = Counted<FuseOp::kGetxattr, OnGetxattr>::Call;
  ops.listxattr = Counted<FuseOp::kListxattr, OnListxattr>::Call;
  ops.setxattr = Counted<FuseOp::kSetxattr, OnSetxattr>::Call;
  ops.removexattr = Counted<FuseOp::kRemovexattr, OnRemovexattr>::Call;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& FuseOps() {
  static const fuse_lowlevel_ops kOps = MakeOps();  // immutable after init
  return kOps;
}

}  // namespace shovel::fs
