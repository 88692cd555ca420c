#include "shovel/fs/options.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "shovel/size.h"

namespace shovel::fs {
namespace {

// More FUSE threads than this only adds switches (the kernel queue is one).
constexpr double kMaxThreads = 1024;

constexpr std::array<std::string_view, 20> kFuseFlags = {
    "allow_other",  "allow_root", "default_permissions",
    "auto_unmount", "ro",         "rw",
    "suid",         "nosuid",     "dev",
    "nodev",        "exec",       "noexec",
    "async",        "sync",       "atime",
    "noatime",      "relatime",   "norelatime",
    "dirsync",      "strictatime"};
constexpr std::array<std::string_view, 8> kIgnored = {
    "defaults", "auto", "noauto", "user", "users", "nofail", "_netdev", "nouser"};

// The variable a Consul file option of the mount stands for
// ("consul_cacert" -> "CONSUL_CACERT"); "" for any other option.
std::string ConsulVariable(std::string_view key) {
  constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kVars = {{
      {"consul_cacert", "CONSUL_CACERT"},
      {"consul_capath", "CONSUL_CAPATH"},
      {"consul_client_cert", "CONSUL_CLIENT_CERT"},
      {"consul_client_key", "CONSUL_CLIENT_KEY"},
      {"consul_token_file", "CONSUL_HTTP_TOKEN_FILE"},
  }};
  for (const auto& [option, var] : kVars) {
    if (key == option) return std::string(var);
  }
  return "";
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

bool IsEndpoint(std::string_view s) {
  return StartsWith(s, "tcp://") || StartsWith(s, "ipc://");
}

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    if (comma > start) out.emplace_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Status ApplySource(const std::string& source, MountConfig* cfg) {
  if (source == "local" || source == "shovelfs") return Status::Ok();
  if (StartsWith(source, "http://") || StartsWith(source, "https://")) {
    cfg->consul = source;
    return Status::Ok();
  }
  for (const std::string& e : Split(source)) {
    if (!IsEndpoint(e)) {
      return Status::InvalidArgument(
          "source '" + source +
          "' is not 'local', a list of tcp:// worker endpoints, or a Consul "
          "http:// URL");
    }
    cfg->workers.push_back(e);
  }
  return Status::Ok();
}

Status ApplyOption(const std::string& opt, bool* in_workers, MountConfig* cfg) {
  if (*in_workers && IsEndpoint(opt)) {  // workers=tcp://a,tcp://b
    cfg->workers.push_back(opt);
    return Status::Ok();
  }
  *in_workers = false;
  size_t eq = opt.find('=');
  std::string key = opt.substr(0, eq);
  std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
  auto need_value = [&]() -> Status {
    if (eq == std::string::npos || value.empty()) {
      return Status::InvalidArgument("option '" + key + "' needs a value (" + key +
                                     "=...)");
    }
    return Status::Ok();
  };
  if (key == "workers") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    if (!IsEndpoint(value)) {
      return Status::InvalidArgument("workers= takes tcp://HOST:PORT endpoints, not '" +
                                     value + "'");
    }
    cfg->workers.push_back(value);
    *in_workers = true;
  } else if (key == "consul") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    cfg->consul = value;
  } else if (key == "max_memory" || key == "max_write") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    Result<uint64_t> size = ParseSize(value);
    if (!size.ok()) return size.status().WithContext(key);
    (key == "max_memory" ? cfg->max_memory : cfg->max_write) = *size;
    if (key == "max_write" && (*size < 4096 || *size > (1u << 20))) {
      return Status::InvalidArgument("max_write must be 4KiB..1MiB, not " + value);
    }
  } else if (key == "compression_level") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    char* end = nullptr;
    long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < 0 || v > 19) {
      return Status::InvalidArgument(
          "compression_level must be 0..19 (0 stores chunks raw), not '" + value + "'");
    }
    cfg->compression_level = static_cast<int>(v);
  } else if (key == "node_id") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    cfg->node_id = value;
  } else if (auto var = ConsulVariable(key); !var.empty()) {
    SHOVEL_RETURN_IF_ERROR(need_value());
    cfg->consul_env.emplace_back(var, value);
  } else if (key == "key_file" || key == "worker_key") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    (key == "key_file" ? cfg->key_file : cfg->worker_key) = value;
  } else if (key == "replicas") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    char* end = nullptr;
    long v = std::strtol(value.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 8) {
      return Status::InvalidArgument(
          "replicas must be a number of copies from 1 to 8, not '" + value + "'");
    }
    cfg->replicas = static_cast<uint32_t>(v);
  } else if (key == "log_file" || key == "metrics") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    (key == "log_file" ? cfg->log_file : cfg->metrics) = value;
  } else if (key == "log_level") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    Result<log::Level> level = log::ParseLevel(value);
    if (!level.ok()) return level.status();
    cfg->log_level = *level;
  } else if (key == "nonempty") {
    cfg->nonempty = true;
  } else if (key == "attr_timeout" || key == "threads") {
    SHOVEL_RETURN_IF_ERROR(need_value());
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !std::isfinite(v) || v < 0) {
      return Status::InvalidArgument("option " + key + "=" + value +
                                     " is not a number of 0 or more");
    }
    if (key == "threads" && (v < 1 || v > kMaxThreads || v != std::floor(v))) {
      return Status::InvalidArgument("option threads=" + value +
                                     " must be a whole number, 1.." +
                                     std::to_string(kMaxThreads));
    }
    if (key == "threads") {
      cfg->threads = static_cast<unsigned>(v);
    } else {
      cfg->attr_timeout = v;
    }
  } else if (std::find(kIgnored.begin(), kIgnored.end(), key) != kIgnored.end() ||
             StartsWith(key, "x-") || key == "comment") {
    // fstab bookkeeping, not for the filesystem
  } else if (std::find(kFuseFlags.begin(), kFuseFlags.end(), key) != kFuseFlags.end() ||
             key == "fsname" || key == "subtype" || key == "max_read" ||
             key == "blksize") {
    cfg->fuse_options.push_back(opt);
  } else {
    return Status::InvalidArgument(
        "unknown option '" + opt +
        "'; shovelfs takes workers=, consul=, consul_cacert=, consul_capath=, "
        "consul_client_cert=, consul_client_key=, consul_token_file=, replicas=, "
        "key_file=, worker_key=, "
        "max_memory=, "
        "compression_level=, "
        "node_id=, max_write=, "
        "attr_timeout=, threads=, log_file=, log_level=, metrics=, nonempty and FUSE "
        "mount options such as allow_other, "
        "ro");
  }
  return Status::Ok();
}

}  // namespace

Result<MountConfig> ParseCommandLine(const std::vector<std::string>& args) {
  MountConfig cfg;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      cfg.help = true;
    } else if (a == "-V" || a == "--version") {
      cfg.version = true;
    } else if (a == "-f") {
      cfg.foreground = true;
    } else if (a == "-d" || a == "--debug") {
      cfg.debug = cfg.foreground = true;
    } else if (a == "-s") {
      cfg.threads = 1;
    } else if (a == "--log-level" || a == "--log-file" || StartsWith(a, "--log-level=") ||
               StartsWith(a, "--log-file=")) {
      // The worker's flags, for the same settings as -o log_level=/log_file=.
      const bool file = StartsWith(a, "--log-file");
      std::string value;
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
      } else if (++i < args.size()) {
        value = args[i];
      }
      if (value.empty()) {
        return Status::InvalidArgument(a.substr(0, eq) + " needs a value");
      }
      bool unused = false;
      SHOVEL_RETURN_IF_ERROR(ApplyOption(
          std::string(file ? "log_file=" : "log_level=") + value, &unused, &cfg));
    } else if (a == "-o" || (StartsWith(a, "-o") && a.size() > 2)) {
      std::string list = a.size() > 2 ? a.substr(2) : "";
      if (list.empty()) {
        if (++i == args.size()) return Status::InvalidArgument("-o needs options");
        list = args[i];
      }
      bool in_workers = false;
      for (const std::string& opt : Split(list)) {
        SHOVEL_RETURN_IF_ERROR(ApplyOption(opt, &in_workers, &cfg));
      }
    } else if (StartsWith(a, "-") && a.size() > 1) {
      return Status::InvalidArgument("unknown flag '" + a + "' (see shovelfs --help)");
    } else {
      positional.push_back(a);
    }
  }
  if (cfg.help || cfg.version) return cfg;
  if (positional.empty()) {
    return Status::InvalidArgument(
        "missing MOUNTPOINT (usage: shovelfs [SOURCE] "
        "MOUNTPOINT [-f] [-o OPTIONS])");
  }
  if (positional.size() > 2) {
    return Status::InvalidArgument("too many arguments: '" + positional[2] +
                                   "' (usage: shovelfs [SOURCE] MOUNTPOINT)");
  }
  cfg.mountpoint = positional.back();
  if (positional.size() == 2) {
    cfg.source = positional[0];
    if (cfg.embedded()) SHOVEL_RETURN_IF_ERROR(ApplySource(cfg.source, &cfg));
  }
  return cfg;
}

std::string Usage() {
  return R"(usage: shovelfs [SOURCE] MOUNTPOINT [-f] [-d] [-o OPTIONS]

Mounts the shoveling cache: every cache id is the file MOUNTPOINT/<id>.

SOURCE        local (default: run an embedded worker in this process),
              tcp://HOST:PORT[,tcp://HOST:PORT...] (workers), or a Consul URL
-f            stay in the foreground
-d            debug: foreground, log every FUSE request
-o workers=tcp://HOST:PORT[,...]   use these workers
-o consul=URL                      find the workers through Consul
-o consul_cacert=FILE, consul_capath=DIR, consul_client_cert=FILE,
   consul_client_key=FILE, consul_token_file=FILE
                                   as CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT,
                                   CONSUL_CLIENT_KEY, CONSUL_HTTP_TOKEN_FILE (which
                                   they override; docs/security.md)
-o replicas=N                      copies of each id, 1..8 (default: SHOVEL_REPLICAS,
                                   else Consul KV shoveling/config/replicas, else 1)
-o key_file=FILE                   this mount's CURVE key pair (shovelctl keygen;
                                   default: SHOVEL_KEY_FILE; docs/security.md)
-o worker_key=KEY|FILE             the workers' public key when Consul does not
                                   give it, or a file of them, followed as it
                                   changes (default: SHOVEL_WORKER_KEY)
-o max_memory=SIZE                 embedded worker's memory (default: 1/4 of RAM)
-o compression_level=N             embedded worker's zstd level, 0..19 (default 1;
                                   0 = raw: faster cold reads, more memory)
-o node_id=NAME                    embedded worker's node id
-o max_write=SIZE                  largest FUSE write (default 1MiB)
-o attr_timeout=SECONDS            kernel attribute cache (default 1)
-o threads=N                       most FUSE worker threads (default 16)
-o nonempty                        mount over a directory that is not empty
-o log_file=FILE, --log-file FILE  append the log here (default: stderr with -f,
                                   the journal if stderr is its stream; in the
                                   background the systemd journal when it runs,
                                   else $XDG_STATE_HOME/shoveling/shovelfs.log,
                                   /var/log/shovelfs.log for root,
                                   ~/.local/state/shoveling/shovelfs.log)
-o log_level=LEVEL, --log-level LEVEL
                                   debug, info, warn, error or off (default info)
-o metrics=HOST:PORT               serve Prometheus metrics at
                                   http://HOST:PORT/metrics (port 0 picks one)
-o allow_other, ro, nosuid, ...    FUSE mount options

Unmount with: fusermount3 -u MOUNTPOINT (or umount MOUNTPOINT)
)";
}

size_t StoresForThreads(unsigned threads) { return std::min<size_t>(4, threads / 4); }

}  // namespace shovel::fs
