// The shovelfs command line (pure parsing, thread-safe).
//
//   shovelfs [SOURCE] MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]
//
// SOURCE is how mount.fuse3 passes the cluster: "local" (or "shovelfs": an
// embedded in-process worker), a comma-separated list of tcp:// worker
// endpoints, or a Consul URL (http://, https://). Without SOURCE and without
// -o workers=/consul=, shovelfs embeds a worker. Options of shovelfs itself:
//   workers=tcp://H:P[,tcp://H:P...]  consul=URL  max_memory=SIZE
//   compression_level=N  node_id=NAME  max_write=SIZE  attr_timeout=SECONDS  threads=N
//   nonempty (mount over a directory that has entries; refused without it)
//   log_file=FILE  log_level=debug|info|warn|error|off  metrics=HOST:PORT
// (also as the flags --log-file FILE and --log-level LEVEL)
// FUSE mount options (allow_other, ro, nosuid...) go to libfuse; fstab-only
// words (defaults, noauto, nofail, _netdev, x-*) are ignored. Anything else
// is an error naming the option.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "shovel/log.h"
#include "shovel/status.h"

namespace shovel::fs {

struct MountConfig {
  std::string mountpoint;
  std::string source;                // as given; "" when none
  std::vector<std::string> workers;  // static membership
  std::string consul;                // Consul agent URL
  bool embedded() const { return workers.empty() && consul.empty(); }
  bool foreground = false;
  bool debug = false;
  bool help = false;
  bool version = false;
  uint64_t max_memory = 0;    // embedded worker; 0 = a quarter of RAM
  int compression_level = 1;  // embedded worker's zstd level; 0 = raw
  std::string node_id;        // embedded worker's node id
  uint64_t max_write = 1ull << 20;
  double attr_timeout = 1.0;
  unsigned threads = 16;   // most FUSE worker threads
  bool nonempty = false;   // -o nonempty: mount over a directory with entries
  uint32_t replicas = 0;   // copies of each id; 0: SHOVEL_REPLICAS, Consul KV, 1
  std::string key_file;    // CURVE key pair file; "": SHOVEL_KEY_FILE
  std::string worker_key;  // the workers' public key; "": SHOVEL_WORKER_KEY
  // -o consul_cacert=, consul_token_file= and the like as the variables they
  // stand for
  // (CONSUL_CACERT=...), in the order given; the mount sets them in its own
  // environment (an fstab or mount(8) mount has no other way to pass them).
  std::vector<std::pair<std::string, std::string>> consul_env;
  std::string log_file;  // "": stderr in the foreground, else the journal or
                         // DefaultLogFile()
  log::Level log_level = log::Level::kInfo;
  std::string metrics;  // HOST:PORT of the Prometheus endpoint; "": none
  std::vector<std::string> fuse_options;
};

Result<MountConfig> ParseCommandLine(const std::vector<std::string>& args);

std::string Usage();

// How many read-around stores (FUSE notify_store) may be in flight at once
// with `threads` FUSE threads. A store runs on a FUSE thread and may wait
// for a page the kernel has locked for a READ still queued, which only
// another FUSE thread can answer; so stores take at most a quarter of the
// threads, at most 4, and none below 4 threads (threads=1 would deadlock
// on its first store).
size_t StoresForThreads(unsigned threads);

}  // namespace shovel::fs
