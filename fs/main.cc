// shovelfs: parses the command line, builds the object graph (embedded
// worker or a cluster client, the Vfs, the FUSE mount) and runs it.
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shovel/alloc.h"
#include "shovel/client.h"
#include "shovel/embedded_endpoint.h"
#include "shovel/fs/daemon.h"
#include "shovel/fs/fuse_mount.h"
#include "shovel/fs/mount_metrics.h"
#include "shovel/fs/mount_metrics_families.h"
#include "shovel/fs/mount_point.h"
#include "shovel/fs/options.h"
#include "shovel/fs/vfs.h"
#include "shovel/log.h"
#include "shovel/size.h"
#include "shovel/version.h"
#include "shovel/worker/metrics_endpoint.h"
#include "shovel/worker/worker.h"

namespace {

using shovel::Status;
using shovel::fs::MountConfig;

uint64_t QuarterOfRam() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 1ull << 30;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4;
}

// Where a background mount logs when no log_file= is given and there is no
// journal: $XDG_STATE_HOME/shoveling/shovelfs.log when set, else
// /var/log/shovelfs.log for root, else ~/.local/state/shoveling/. The
// folder is created if missing.
shovel::Result<std::string> DefaultLogFile() {
  std::string dir;
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state) {
    dir = state;
  } else if (getuid() == 0) {
    return std::string("/var/log/shovelfs.log");
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir = std::string(home) + "/.local/state";
  } else {
    return shovel::Status::Unavailable(
        "no log_file= given, no systemd journal, and neither $XDG_STATE_HOME nor $HOME "
        "is set: give -o log_file=FILE");
  }
  dir += "/shoveling";
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') mkdir(dir.substr(0, i).c_str(), 0700);
  }
  return dir + "/shovelfs.log";
}

// The embedded worker's node id, for its log lines (written from its
// threads while Build learns the id).
class EmbeddedNode {
 public:
  void Set(std::string id) {
    std::lock_guard<std::mutex> lock(mu_);
    id_ = std::move(id);
  }
  std::string Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return id_;
  }

 private:
  mutable std::mutex mu_;
  std::string id_;  // guarded by mu_
};

class App {
 public:
  App(MountConfig cfg) : cfg_(std::move(cfg)) {}  // NOLINT

  int Main() {
    // Multi-MiB read and write buffers are reused warm (shovel/alloc.h).
    shovel::KeepLargeBuffersWarm();
    Status s = SetupLog();
    if (!s.ok()) return Die(s);
    if (!cfg_.consul_env.empty() && cfg_.consul.empty()) {
      return Die(Status::InvalidArgument(
          "consul_cacert=, consul_capath=, consul_client_cert=, consul_client_key= and "
          "consul_token_file= are for a Consul agent (consul=URL)"));
    }
    // Before any thread: read where every Consul client of this process
    // reads them (shovel/consul/config.h).
    for (const auto& [var, value] : cfg_.consul_env)
      setenv(var.c_str(), value.c_str(), 1);
    if (cfg_.embedded() && (!cfg_.key_file.empty() || !cfg_.worker_key.empty())) {
      return Die(Status::InvalidArgument(
          "key_file= and worker_key= are for a cluster's workers; the embedded worker "
          "needs no key (it listens on a socket only this user can reach, "
          "docs/security.md)"));
    }
    s = shovel::fs::CheckMountPoint(cfg_.mountpoint, cfg_.nonempty);
    if (!s.ok()) return Die(s);
    if (cfg_.embedded()) {
      // Before daemonizing (which changes to /): a relative mountpoint.
      Status s = EmbeddedListen();
      if (!s.ok()) return Die(s);
    }
    if (!cfg_.foreground) {
      s = daemon_.Start();
      if (!s.ok()) return Die(s);
    }
    s = Build();
    if (!s.ok()) {
      StopEmbedded();  // a refused FUSE option leaves no socket behind
      return Die(s);
    }
    shovel::log::Info(
        "mounted " + cfg_.mountpoint + " (" + Source() + ")" +
        (metrics_endpoint_ ? ", metrics on " + metrics_endpoint_->url() : ""));
    daemon_.Ready(log_file_);
    s = mount_->Run();
    mount_.reset();  // unmount before the client and worker go
    metrics_endpoint_.reset();
    shovel::log::Info("unmounted " + cfg_.mountpoint);
    StopEmbedded();
    if (!s.ok()) Log(s.ToString());
    return s.ok() ? 0 : 1;
  }

 private:
  Status Build() {
    shovel::ClientOptions co;
    co.workers = cfg_.workers;
    co.consul_addr = cfg_.consul;
    co.replicas = cfg_.replicas;
    // A cluster that cannot be reached, or a host name with a typo, fails
    // the mount with one line instead of a mount where every call is EIO.
    co.check_reachable = true;
    co.key_file = cfg_.key_file;
    co.worker_key = cfg_.worker_key;
    if (cfg_.embedded()) {
      // No CURVE to the embedded worker: it is called in-process and
      // listens on a socket only this user can reach. SHOVEL_KEY_FILE,
      // set for a cluster, must not make the mount fail.
      co.keys_from_environment = false;
      shovel::worker::WorkerOptions wo;
      wo.listen = embedded_listen_;
      wo.node_id = cfg_.node_id;
      wo.compression_level = cfg_.compression_level;
      wo.max_memory = cfg_.max_memory != 0 ? cfg_.max_memory : QuarterOfRam();
      // The mount reaches it in-process (no round trip to save), and its
      // writes come in-process too, where no reply could be held for
      // another client's watch: none are granted.
      wo.watch_term_ms = 0;
      // In the journal its lines carry SHOVEL_NODE besides the mount's
      // fields: the id given, else the one the worker picks (set below).
      auto node = std::make_shared<EmbeddedNode>();
      node->Set(cfg_.node_id);
      wo.log = [node](shovel::log::Level level, const std::string& line) {
        const std::string id = node->Get();
        shovel::log::Fields fields;
        if (!id.empty()) fields.emplace_back("SHOVEL_NODE", id);
        shovel::log::Write(level, "embedded worker: " + line, fields);
      };
      auto w = shovel::worker::Worker::Start(wo);
      if (!w.ok()) return w.status().WithContext("embedded worker");
      worker_ = std::move(w).value();
      node->Set(worker_->node_id());
      // The client calls the worker in-process (no socket, no thread hop);
      // it still listens, on its private ipc:// socket, for shovelctl
      // --mount run by the same user.
      co.workers = {worker_->endpoint()};
      co.local_workers = {{worker_->endpoint(), worker_->LocalServe()}};
    }
    auto c = shovel::Client::Connect(co);
    if (!c.ok()) return c.status().WithContext("connecting to the cluster");
    client_ = std::move(c).value();
    shovel::fs::VfsOptions vo;
    vo.owner = {getuid(), getgid()};
    vo.log = [this](std::string_view m) { Log(std::string(m)); };
    vo.limits.max_write = cfg_.max_write;  // an O_APPEND write(2)'s pieces
    vo.max_stores = shovel::fs::StoresForThreads(cfg_.threads);
    vfs_ = std::make_unique<shovel::fs::Vfs>(client_.get(), std::move(vo));
    if (!cfg_.metrics.empty()) {
      metrics_ = std::make_unique<shovel::fs::MountMetrics>();
      // An embedded worker's metrics on the same page: its memory and
      // evictions are the mount's.
      shovel::worker::MetricsEndpoint::SampleFn embedded;
      if (worker_) embedded = [w = worker_.get()] { return w->Sample(); };
      auto e = shovel::fs::StartMountMetrics(cfg_.metrics, metrics_.get(),
                                             cfg_.mountpoint, std::move(embedded));
      if (!e.ok()) return e.status().WithContext("-o metrics");
      metrics_endpoint_ = std::move(e).value();
    }
    shovel::fs::FuseMountOptions mo;
    mo.metrics = metrics_.get();
    mo.mountpoint = cfg_.mountpoint;
    mo.fuse_options = cfg_.fuse_options;
    mo.debug = cfg_.debug;
    mo.attr_timeout = cfg_.attr_timeout;
    mo.max_write = static_cast<uint32_t>(cfg_.max_write);
    mo.max_threads = cfg_.threads;
    auto m = shovel::fs::FuseMount::Mount(vfs_.get(), mo);
    if (!m.ok()) return m.status();
    mount_ = std::move(m).value();
    return Status::Ok();
  }

  // Stops the embedded worker, if it started, and removes its socket:
  // ZeroMQ leaves the ipc:// socket file, and shovelctl --mount must not
  // find a mount that is gone.
  void StopEmbedded() {
    if (!worker_) return;
    mount_.reset();
    metrics_endpoint_.reset();
    vfs_.reset();
    client_.reset();
    worker_.reset();
    unlink(embedded_listen_.substr(std::string("ipc://").size()).c_str());
  }

  // The embedded worker's endpoint: an ipc:// socket in a directory only
  // this user can enter (shovel/embedded_endpoint.h), never a TCP port
  // that would let other local users around the mount's permissions.
  Status EmbeddedListen() {
    char buf[PATH_MAX];
    if (realpath(cfg_.mountpoint.c_str(), buf) == nullptr) {
      return Status::Unavailable("cannot mount on '" + cfg_.mountpoint +
                                 "': " + std::strerror(errno));
    }
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    std::string dir = shovel::EmbeddedSocketDir(getuid(), xdg);
    SHOVEL_RETURN_IF_ERROR(shovel::PrivateDir(dir, getuid()));
    embedded_listen_ = shovel::EmbeddedEndpoint(dir, buf);
    return Status::Ok();
  }

  // The log's destination: log_file= if given; else in the foreground
  // stderr, or the journal when stderr is the journal's stream (systemd
  // sets $JOURNAL_STREAM for a unit); in the background the journal when
  // one runs, else DefaultLogFile(). Never /dev/null. In the journal every
  // entry carries SHOVEL_MOUNTPOINT (docs/operations.md, Logs).
  Status SetupLog() {
    shovel::log::Options lo;
    lo.program = "shovelfs";
    lo.level = cfg_.log_level;
    std::string file = cfg_.log_file;
    if (file.empty() && shovel::log::JournalAvailable() &&
        (!cfg_.foreground || shovel::log::StderrIsJournal())) {
      lo.sink = shovel::log::Sink::kJournal;
      lo.journal_fields = {{"SHOVEL_MOUNTPOINT", AbsoluteMountpoint()}};
      // In the background too: mount(8) run by a .mount unit, whose
      // stderr is the unit's journal stream (Die).
      journal_on_stderr_ = shovel::log::StderrIsJournal();
    } else if (file.empty() && !cfg_.foreground) {
      SHOVEL_ASSIGN_OR_RETURN(file, DefaultLogFile());
    }
    if (!file.empty()) {
      // Absolute: the daemon changes to / (Ready).
      if (file[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) != nullptr) file = std::string(cwd) + "/" + file;
      }
      lo.sink = shovel::log::Sink::kFile;
      lo.file = file;
      log_file_ = file;
    }
    return shovel::log::Setup(lo).WithContext("log_file");
  }

  // The mount point as `journalctl SHOVEL_MOUNTPOINT=` is given it: the
  // real path when it exists (CheckMountPoint refuses it later otherwise).
  std::string AbsoluteMountpoint() const {
    char buf[PATH_MAX];
    if (realpath(cfg_.mountpoint.c_str(), buf) != nullptr) return buf;
    return cfg_.mountpoint;
  }

  std::string Source() const {
    if (cfg_.embedded()) return "embedded worker on " + embedded_listen_;
    if (!cfg_.consul.empty()) return "workers from Consul at " + cfg_.consul;
    std::string w;
    for (const std::string& e : cfg_.workers) w += (w.empty() ? "" : ",") + e;
    return "workers " + w;
  }

  int Die(const Status& s) {
    std::string msg = s.ToString();
    if (!shovel::log::WritesToStderr()) shovel::log::Error(msg);
    // When stderr is the journal the entry above is already there (with
    // PRIORITY=3 and SHOVEL_MOUNTPOINT): the same line on stderr would be a
    // second, plain entry. On a terminal (mount(8) run by a user) the
    // foreground process, or the waiting parent, prints it.
    // (Not when the journal could not be set up: the log is still stderr.)
    const bool in_journal = journal_on_stderr_ && !shovel::log::WritesToStderr() &&
                            shovel::log::Enabled(shovel::log::Level::kError);
    if (daemon_.daemonized()) {
      daemon_.Fail(in_journal ? "" : msg);
    } else if (!in_journal) {
      std::fprintf(stderr, "shovelfs: %s\n", msg.c_str());
    }
    return 1;
  }

  void Log(const std::string& m) const { shovel::log::Warn(m); }

  MountConfig cfg_;
  std::string embedded_listen_;
  std::string log_file_;            // "" when logging to stderr or the journal
  bool journal_on_stderr_ = false;  // logging to the journal that is stderr
  shovel::fs::Daemonizer daemon_;
  // Destroyed in reverse: mount, vfs, client, worker.
  std::unique_ptr<shovel::worker::Worker> worker_;
  std::unique_ptr<shovel::Client> client_;
  std::unique_ptr<shovel::fs::Vfs> vfs_;
  std::unique_ptr<shovel::fs::MountMetrics> metrics_;  // outlives mount_ and the endpoint
  std::unique_ptr<shovel::worker::MetricsEndpoint> metrics_endpoint_;
  std::unique_ptr<shovel::fs::FuseMount> mount_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto cfg = shovel::fs::ParseCommandLine(args);
  if (!cfg.ok()) {
    std::fprintf(stderr, "shovelfs: %s\n", cfg.status().message().c_str());
    return 1;
  }
  if (cfg->help) {
    std::fputs(shovel::fs::Usage().c_str(), stdout);
    return 0;
  }
  if (cfg->version) {
    std::printf("shovelfs %s\n", shovel::Version().c_str());
    return 0;
  }
  return App(*std::move(cfg)).Main();
}
