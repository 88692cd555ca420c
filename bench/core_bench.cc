// shovel-bench-core: the core cache measured side by side with its peers in
// one run. Starts one shovel-worker, a redis-server and a memcached
// on loopback, and prints a table of medians:
//   - 1 KiB set/get ops/s with 50 requests in flight, and pipelined 16 (50 x
//     16 in flight), against redis-benchmark -c 50 with and without -P 16.
//     As redis-benchmark does, one thread keeps them in flight (50 started
//     StartMultiSet/StartMultiGet of 1, or of 16); for reference the same
//     from 50 threads making blocking calls, and 800 in flight as
//     MultiSet/MultiGet of 400 from 2 threads. Each row writes and
//     reads 200,000 distinct ids; redis-benchmark gets -r 200000 so its keys
//     spread the same way (and a reference row without -r: one hot key);
//   - 1 MiB set/get GB/s, incompressible and text-like values, 4 in flight,
//     8192 values over 512 ids (a measurement lasts 1-2 s: the first
//     512 writes touch fresh memory, and 2048 values in ~0.3 s moved the
//     SET ratio between runs by 1.5x); GETs with GetBytes, which like
//     memcached's client leaves the value where it was received, and with
//     Get, which copies it into a std::string (text values are read once
//     the worker compressed them, about a second after the writes);
//     against memcached (-I 2m, our own text-protocol load generator) and
//     redis (redis-benchmark -d 1048576 -c 4). The text GET rows say what
//     the ids store (stored/raw) and what the worker's decoded-chunk cache
//     holds beside it (cache/raw), and are run again against a worker with
//     --decoded-cache 0 (every read runs zstd), one storing raw, and two
//     whose 64 MiB decoded cache holds an eighth of the ids read in turn
//     (a scan of a working set larger than the cache): one with the default
//     decode helpers, one with --decode-threads 0 (each read's frames
//     decompressed on its handler alone); --baseline-worker-bin PATH adds
//     the same scan against another shovel-worker build (a "before").
//   - 1 KiB get round-trip latency, one request in flight (p50 µs), against
//     redis-benchmark -c 1: what a small-file open in shovelfs waits for.
//   - "shoveling (CURVE)": the 1 KiB rows with 50 in flight and the 1 MiB
//     incompressible rows against a third worker started with --key-file
//     (docs/security.md), and libsodium's XSalsa20-Poly1305 rate on one
//     core, the bound of encrypted traffic.
// --smoke runs tiny sizes (the test suite does); --json prints JSON;
// --inflight N keeps N 1 MiB requests in flight instead of 4 (every system);
// --rows small|large runs only the 1 KiB or only the 1 MiB rows; --rows text
// only the 1 MiB text rows.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "curve_bench.h"
#include "memcached_client.h"
#include "shovel/client.h"
#include "shovel/version.h"

#ifndef SHOVEL_WORKER_BIN
#define SHOVEL_WORKER_BIN "shovel-worker"
#endif

namespace shovel::bench {
namespace {

struct Config {
  bool smoke = false;
  bool json = false;
  int reps = 3;
  int small_ops = 200000;  // 1 KiB ops per measurement
  int big_ops = 8192;      // 1 MiB values per measurement (~1-2 s)...
  int big_ids = 512;       // ...over this many ids, each written 16 times
  int small_inflight = 50;
  int big_inflight = 4;
  std::string worker_bin = SHOVEL_WORKER_BIN;
  std::string baseline_bin;  // --baseline-worker-bin: a "before" scan row
  int io_threads = 0;        // 0: each side's default
  bool small_rows = true, large_rows = true;
  bool incompressible_rows = true;  // --rows text: the 1 MiB text rows only
};

// Runs fn(thread_index) on n threads; returns elapsed seconds.
double RunThreads(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> ts;
  double t0 = NowSeconds();
  for (int i = 0; i < n; ++i) ts.emplace_back(fn, i);
  for (auto& t : ts) t.join();
  return NowSeconds() - t0;
}

std::string Key(const char* prefix, int i) {
  return std::string(prefix) + std::to_string(i);
}

// ---- shoveling -----------------------------------------------------------

struct ShovelResult {
  double set = 0, get = 0;
  double get_string = 0;  // Get (a std::string) where `get` used GetBytes
  // With `settle`, after the reads: the ids' stored bytes and the worker's
  // decoded-chunk cache, each over the ids' raw bytes.
  double stored_share = 0, cache_share = 0;
  bool ok = true;
};

// One measurement: `ops` writes of the value, then the same reads, from
// `threads` threads, `batch` per MultiSet/MultiGet (1: single calls).
struct RunSpec {
  int ops = 0;
  int threads = 1;
  int batch = 1;
  const char* prefix = "";
  int distinct = 0;  // ids written and read in turn (0 = one per op)
  // > 0: each thread keeps this many StartMultiSet/StartMultiGet of `batch`
  // in flight (waiting for the oldest before it starts one more) instead
  // of one call at a time.
  int window = 0;
  // Single GETs use Get, or with `bytes` both GetBytes (no copy) and Get,
  // one pass each, GetBytes first if `bytes_first` (callers alternate: the
  // first pass after the writes ran slower in some runs, whichever API).
  bool bytes = false;
  bool bytes_first = true;
  // Read only once the worker compressed what was written (it does so about
  // a second after a write): the state compressible data is read in, except
  // right after it was written.
  bool settle = false;
};

// Waits (up to 60 s) until every id is stored in fewer bytes than it holds.
// Each one is asked: the compressor runs at idle priority, and on a loaded
// machine it was seen still compressing most ids after the last written
// ones were done (the reads then raced it for the cores).
void WaitCompressed(Client& c, const std::vector<std::string>& ids) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (const auto& id : ids) {
    while (std::chrono::steady_clock::now() < until) {
      auto st = c.Stat(id);
      if (!st.ok() || st->stored_bytes < st->size) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

ShovelResult ShovelRun(Client& c, const std::string& value, const RunSpec& spec) {
  const int ops = spec.ops, threads = spec.threads, batch = spec.batch;
  const int distinct = spec.distinct;
  const char* prefix = spec.prefix;
  const bool bytes = spec.bytes, bytes_first = spec.bytes_first;
  ShovelResult r;
  std::atomic<bool> failed{false};
  int per = ops / threads;
  // Thread t's ids are its own: t * span + (0 .. span-1), taken in turn.
  const int span = distinct > 0 ? std::max(1, distinct / threads) : per;
  auto Key = [&](const char* p, int t, int i) {
    return bench::Key(p, t * span + i % span);
  };
  // Thread t's ids i .. i+n-1 (with the value, for a MultiSet).
  auto ids_of = [&](int t, int i, int n) {
    std::vector<std::string> ids;
    ids.reserve(n);
    for (int j = 0; j < n; ++j) ids.push_back(Key(prefix, t, i + j));
    return ids;
  };
  auto items_of = [&](int t, int i, int n) {
    std::vector<std::pair<std::string, std::string>> items;
    items.reserve(n);
    for (int j = 0; j < n; ++j) items.emplace_back(Key(prefix, t, i + j), value);
    return items;
  };
  auto pipelined = [&](bool do_set) {
    return [&, do_set](int t) {
      std::deque<std::unique_ptr<Pending<uint64_t>>> sets;
      std::deque<std::unique_ptr<Pending<std::string>>> gets;
      auto check = [&](auto& q) {
        for (auto& res : q.front()->Wait()) failed = failed || !res.ok();
        q.pop_front();
      };
      for (int i = 0; i < per; i += batch) {
        const int n = std::min(batch, per - i);
        if (do_set) {
          if (sets.size() == static_cast<size_t>(spec.window)) check(sets);
          sets.push_back(c.StartMultiSet(items_of(t, i, n)));
        } else {
          if (gets.size() == static_cast<size_t>(spec.window)) check(gets);
          gets.push_back(c.StartMultiGet(ids_of(t, i, n)));
        }
      }
      while (!sets.empty()) check(sets);
      while (!gets.empty()) check(gets);
    };
  };
  auto body = [&](bool do_set, bool use_bytes = false) -> std::function<void(int)> {
    if (spec.window > 0) return pipelined(do_set);
    return [&, do_set, use_bytes](int t) {
      for (int i = 0; i < per; i += batch) {
        if (batch == 1) {
          std::string k = Key(prefix, t, i);
          bool ok = do_set      ? c.Set(k, value).ok()
                    : use_bytes ? c.GetBytes(k).ok()
                                : c.Get(k).ok();
          if (!ok) failed = true;
          continue;
        }
        const int n = std::min(batch, per - i);
        if (do_set) {
          for (auto& res : c.MultiSet(items_of(t, i, n))) failed = failed || !res.ok();
        } else {
          for (auto& res : c.MultiGet(ids_of(t, i, n))) failed = failed || !res.ok();
        }
      }
    };
  };
  double ts = RunThreads(threads, body(true));
  r.set = per * threads / ts;
  if (spec.settle) {
    std::vector<std::string> all;
    for (int t = 0; t < threads; ++t) {
      for (int i = 0; i < std::min(span, per); ++i) all.push_back(Key(prefix, t, i));
    }
    WaitCompressed(c, all);
  }
  if (!bytes) {
    r.get = per * threads / RunThreads(threads, body(false));
  } else {
    double first = RunThreads(threads, body(false, bytes_first));
    double second = RunThreads(threads, body(false, !bytes_first));
    r.get = per * threads / (bytes_first ? first : second);
    r.get_string = per * threads / (bytes_first ? second : first);
  }
  if (spec.settle) {
    double raw = 0, stored = 0;
    for (int t = 0; t < threads; ++t) {
      for (int i = 0; i < span; ++i) {
        auto st = c.Stat(Key(prefix, t, i));
        if (!st.ok()) continue;
        raw += static_cast<double>(st->size);
        stored += static_cast<double>(st->stored_bytes);
      }
    }
    double cache = 0;
    if (auto m = c.Members(); m.ok() && !m->empty()) {
      auto it = (*m)[0].counters.find("decoded_cache_bytes");
      if (it != (*m)[0].counters.end()) cache = static_cast<double>(it->second);
    }
    if (raw > 0) r.stored_share = stored / raw, r.cache_share = cache / raw;
  }
  r.ok = !failed;
  return r;
}

// p50 in µs of `ops` sequential 1 KiB GETs of one id (one in flight).
double ShovelLatencyP50(Client& c, const std::string& value, int ops, bool* ok) {
  if (!c.Set("lat/1", value).ok()) *ok = false;
  std::vector<double> us;
  us.reserve(ops);
  for (int i = 0; i < ops; ++i) {
    double t0 = NowSeconds();
    if (!c.Get("lat/1").ok()) *ok = false;
    us.push_back((NowSeconds() - t0) * 1e6);
  }
  return Median(us);
}

// ---- redis -----------------------------------------------------------------

// Runs redis-benchmark and returns {set rps, get rps} (0 on failure).
// `keyspace` 0: no -r, every request uses the one key redis-benchmark sets,
// so GETs always hit and move the whole value (with -r most 1 MiB GETs would
// be misses). Otherwise -r keyspace: keys spread over that many names, as
// shoveling's rows spread over as many ids (RedisFill writes them first so
// GETs hit).
std::pair<double, double> RedisBench(int port, int size, int clients, int ops,
                                     int pipeline, int keyspace = 0) {
  std::ostringstream cmd;
  cmd << "redis-benchmark -h 127.0.0.1 -p " << port << " -t set,get -d " << size << " -c "
      << clients << " -n " << ops << " -P " << pipeline;
  if (keyspace > 0) cmd << " -r " << keyspace;
  cmd << " --csv 2>/dev/null";
  bool ok;
  std::string out = RunCapture(cmd.str(), &ok);
  double set = 0, get = 0;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto field = [&](int n) {
      std::string f;
      std::istringstream ls(line);
      for (int i = 0; i <= n; ++i) std::getline(ls, f, ',');
      if (f.size() >= 2 && f.front() == '"') f = f.substr(1, f.size() - 2);
      return f;
    };
    if (field(0) == "SET") set = std::atof(field(1).c_str());
    if (field(0) == "GET") get = std::atof(field(1).c_str());
  }
  return {set, get};
}

// Writes every key of redis-benchmark's -r `keyspace` (8 random SETs per
// key leave about 0.03% unwritten), so the measured GETs hit.
bool RedisFill(int port, int size, int keyspace) {
  std::ostringstream cmd;
  cmd << "redis-benchmark -h 127.0.0.1 -p " << port << " -t set -d " << size
      << " -c 50 -P 16 -r " << keyspace << " -n " << 8 * keyspace << " --csv 2>/dev/null";
  bool ok;
  RunCapture(cmd.str(), &ok);
  return ok;
}

// p50 latency in µs of redis-benchmark -c 1 GETs (0 on failure).
double RedisLatencyP50(int port, int size, int ops) {
  std::ostringstream cmd;
  cmd << "redis-benchmark -h 127.0.0.1 -p " << port << " -t get -d " << size
      << " -c 1 -n " << ops << " --csv 2>/dev/null";
  bool ok;
  std::string out = RunCapture(cmd.str(), &ok);
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
    std::vector<std::string> f;
    std::istringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) {
      if (x.size() >= 2 && x.front() == '"') x = x.substr(1, x.size() - 2);
      f.push_back(x);
    }
    if (f.size() > 4 && f[0] == "GET") return std::atof(f[4].c_str()) * 1000;
  }
  return 0;
}

// ---- memcached ---------------------------------------------------------------

std::pair<double, double> MemcachedRun(int port, const std::string& value, int ops,
                                       int threads, const char* prefix, int distinct) {
  std::atomic<bool> failed{false};
  int per = ops / threads;
  const int span = std::max(1, distinct / threads);  // as in ShovelRun
  auto Key = [&](const char* p, int t, int i) {
    return bench::Key(p, t * span + i % span);
  };
  auto body = [&](bool do_set) {
    return [&, do_set](int t) {
      MemcachedConn m(port);
      if (!m.ok()) {
        failed = true;
        return;
      }
      std::string got;
      for (int i = 0; i < per; ++i) {
        std::string k = Key(prefix, t, i);
        bool ok = do_set ? m.Set(k, value) : m.Get(k, &got);
        if (!ok) failed = true;
      }
    };
  };
  double ts = RunThreads(threads, body(true));
  double tg = RunThreads(threads, body(false));
  if (failed) return {0, 0};
  return {per * threads / ts, per * threads / tg};
}

// ---- main --------------------------------------------------------------------

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--smoke] [--json] [--reps N] [--worker-bin PATH]\n"
               "          [--io-threads N] [--rows small|large|text]\n"
               "          [--inflight N] [--baseline-worker-bin PATH]\n"
               "Measures shovel-worker against redis and memcached on loopback.\n"
               "--io-threads sets the worker's and the client's ZeroMQ I/O threads\n"
               "(default: theirs).\n",
               argv0);
  return 2;
}

int Main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--version") {
      std::printf("shovel-bench-core %s\n", Version().c_str());
      return 0;
    } else if (a == "--smoke")
      cfg.smoke = true;
    else if (a == "--json")
      cfg.json = true;
    else if (a == "--full")
      cfg.smoke = false;
    else if (a == "--reps" && i + 1 < argc)
      cfg.reps = std::atoi(argv[++i]);
    else if (a == "--worker-bin" && i + 1 < argc)
      cfg.worker_bin = argv[++i];
    else if (a == "--inflight" && i + 1 < argc)
      cfg.big_inflight = std::max(1, std::atoi(argv[++i]));
    else if (a == "--baseline-worker-bin" && i + 1 < argc)
      cfg.baseline_bin = argv[++i];
    else if (a == "--io-threads" && i + 1 < argc)
      cfg.io_threads = std::atoi(argv[++i]);
    else if (a == "--rows" && i + 1 < argc &&
             (std::string(argv[i + 1]) == "small" ||
              std::string(argv[i + 1]) == "large" ||
              std::string(argv[i + 1]) == "text")) {
      std::string rows = argv[++i];
      cfg.small_rows = rows == "small";
      cfg.large_rows = !cfg.small_rows;
      cfg.incompressible_rows = rows != "text";
    } else
      return Usage(argv[0]);
  }
  if (cfg.smoke) {
    cfg.reps = 1;
    cfg.small_ops = 5000;
    cfg.big_ops = 32;
    cfg.big_ids = 32;
  }
  for (const char* p : {"redis-server", "redis-benchmark", "memcached"}) {
    if (!HaveProgram(p)) {
      std::fprintf(stderr,
                   "shovel-bench-core: %s is not installed (run scripts/deps.sh)\n", p);
      return 1;
    }
  }
  std::string ready = "/tmp/shovel-bench-core-" + std::to_string(getpid());
  unlink(ready.c_str());
  std::vector<std::string> io_args;
  if (cfg.io_threads > 0) io_args = {"--io-threads", std::to_string(cfg.io_threads)};
  std::vector<std::string> worker_args = {
      cfg.worker_bin, "--listen", "tcp://127.0.0.1:0", "--max-memory", "6GiB",
      "--node-id",    "bench",    "--ready-file",      ready};
  worker_args.insert(worker_args.end(), io_args.begin(), io_args.end());
  Child worker(worker_args);
  std::string endpoint = WaitForFile(ready, 10000);
  unlink(ready.c_str());
  if (endpoint.empty()) {
    std::fprintf(stderr, "shovel-bench-core: %s did not start\n", cfg.worker_bin.c_str());
    return 1;
  }
  int rport = FreePort();
  Child redis({"redis-server", "--port", std::to_string(rport), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--protected-mode", "no"});
  int mport = FreePort();
  Child memcached({"memcached", "-l", "127.0.0.1", "-p", std::to_string(mport), "-U", "0",
                   "-I", "2m", "-m", "6144", "-t", "2", "-u", "root"});
  if (!WaitForPort(rport, 5000) || !WaitForPort(mport, 5000)) {
    std::fprintf(stderr, "shovel-bench-core: redis or memcached did not start\n");
    return 1;
  }
  // A second worker that stores chunks raw: the text rows show what
  // compression costs next to what the protocol costs.
  std::vector<std::string> raw_args = {cfg.worker_bin,
                                       "--listen",
                                       "tcp://127.0.0.1:0",
                                       "--max-memory",
                                       "6GiB",
                                       "--node-id",
                                       "bench-raw",
                                       "--compression-level",
                                       "0",
                                       "--ready-file",
                                       ready + "-raw"};
  raw_args.insert(raw_args.end(), io_args.begin(), io_args.end());
  Child raw_worker(raw_args);
  // A fourth that compresses as the first but keeps no decoded chunks: what
  // a read costs when it must run zstd.
  std::vector<std::string> nocache_args = {cfg.worker_bin,
                                           "--listen",
                                           "tcp://127.0.0.1:0",
                                           "--max-memory",
                                           "6GiB",
                                           "--node-id",
                                           "bench-nocache",
                                           "--decoded-cache",
                                           "0",
                                           "--ready-file",
                                           ready + "-nocache"};
  nocache_args.insert(nocache_args.end(), io_args.begin(), io_args.end());
  Child nocache_worker(nocache_args);
  std::string nocache_endpoint = WaitForFile(ready + "-nocache", 10000);
  unlink((ready + "-nocache").c_str());
  ClientOptions nocache_opts;
  nocache_opts.workers = {nocache_endpoint};
  if (cfg.io_threads > 0) nocache_opts.io_threads = cfg.io_threads;
  auto nocache_client = Client::Connect(nocache_opts);
  if (nocache_endpoint.empty() || !nocache_client.ok()) {
    std::fprintf(stderr, "shovel-bench-core: the no-cache worker did not start\n");
    return 1;
  }
  // Two that keep 64 MiB of decoded chunks, an eighth of the 512 MiB the
  // text rows read in turn, so a scan misses the cache as a working set
  // larger than it does: one spreading each read's zstd frames over idle
  // cores (the default), one decompressing on the handler alone.
  // With --baseline-worker-bin, a third: that binary with the same cache,
  // the "before" of a change measured in the same run.
  struct Scanner {
    std::string system, note;
    std::vector<std::string> args;
    Child child;
    std::unique_ptr<Client> client;
  };
  std::vector<Scanner> scanners;
  if (cfg.large_rows) {
    scanners.push_back({"shoveling (scan)", "", {"--decode-threads", "-1"}});
    scanners.push_back(
        {"shoveling (serial)", ", --decode-threads 0", {"--decode-threads", "0"}});
    if (!cfg.baseline_bin.empty()) {
      scanners.push_back({"shoveling (before)", ", --baseline-worker-bin", {}});
    }
  }
  for (size_t k = 0; k < scanners.size(); ++k) {
    Scanner& sc = scanners[k];
    const std::string name = "bench-scan" + std::to_string(k);
    std::vector<std::string> args = {sc.args.empty() ? cfg.baseline_bin : cfg.worker_bin,
                                     "--listen",
                                     "tcp://127.0.0.1:0",
                                     "--max-memory",
                                     "6GiB",
                                     "--node-id",
                                     name,
                                     "--decoded-cache",
                                     "64MiB",
                                     "--ready-file",
                                     ready + "-" + name};
    args.insert(args.end(), sc.args.begin(), sc.args.end());
    args.insert(args.end(), io_args.begin(), io_args.end());
    sc.child = Child(args);
    std::string ep = WaitForFile(ready + "-" + name, 10000);
    unlink((ready + "-" + name).c_str());
    ClientOptions so;
    so.workers = {ep};
    if (cfg.io_threads > 0) so.io_threads = cfg.io_threads;
    auto cl = Client::Connect(so);
    if (ep.empty() || !cl.ok()) {
      std::fprintf(stderr, "shovel-bench-core: the %s worker did not start\n",
                   name.c_str());
      return 1;
    }
    sc.client = std::move(*cl);
  }
  std::string raw_endpoint = WaitForFile(ready + "-raw", 10000);
  unlink((ready + "-raw").c_str());
  ClientOptions raw_opts;
  raw_opts.workers = {raw_endpoint};
  if (cfg.io_threads > 0) raw_opts.io_threads = cfg.io_threads;
  auto raw_client = Client::Connect(raw_opts);
  if (raw_endpoint.empty() || !raw_client.ok()) {
    std::fprintf(stderr, "shovel-bench-core: the raw worker did not start\n");
    return 1;
  }
  // A third worker with CURVE (docs/security.md): the 1 KiB and 1 MiB rows
  // again, every message encrypted, with the cipher's own rate beside them.
  CurveFiles curve_keys;
  if (!MakeCurveFiles(&curve_keys)) {
    std::fprintf(stderr,
                 "shovel-bench-core: cannot make CURVE keys (libzmq has no CURVE?)\n");
    return 1;
  }
  std::vector<std::string> curve_args = {cfg.worker_bin,
                                         "--listen",
                                         "tcp://127.0.0.1:0",
                                         "--max-memory",
                                         "6GiB",
                                         "--node-id",
                                         "bench-curve",
                                         "--key-file",
                                         curve_keys.worker_key,
                                         "--authorized-keys",
                                         curve_keys.authorized,
                                         "--ready-file",
                                         ready + "-curve"};
  curve_args.insert(curve_args.end(), io_args.begin(), io_args.end());
  Child curve_worker(curve_args);
  std::string curve_endpoint = WaitForFile(ready + "-curve", 10000);
  unlink((ready + "-curve").c_str());
  ClientOptions curve_opts;
  curve_opts.workers = {curve_endpoint};
  curve_opts.key_file = curve_keys.client_key;
  curve_opts.worker_key = curve_keys.worker_public;
  if (cfg.io_threads > 0) curve_opts.io_threads = cfg.io_threads;
  auto curve_client = Client::Connect(curve_opts);
  if (curve_endpoint.empty() || !curve_client.ok()) {
    std::fprintf(stderr, "shovel-bench-core: the CURVE worker did not start\n");
    return 1;
  }
  ClientOptions opts;
  opts.workers = {endpoint};
  if (cfg.io_threads > 0) opts.io_threads = cfg.io_threads;
  auto client = Client::Connect(opts);
  if (!client.ok()) {
    std::fprintf(stderr, "shovel-bench-core: %s\n", client.status().ToString().c_str());
    return 1;
  }
  Client& c = **client;

  std::vector<Row> rows;
  bool all_ok = true;
  auto add = [&](const std::string& test, const std::string& sys, std::vector<double> v,
                 const std::string& unit, const std::string& note) {
    if (!v.empty()) rows.push_back({test, sys, Median(v), unit, note});
  };
  const std::string small = RandomBytes(1024, 1);
  std::vector<double> s_set, s_get, p_set, p_get, w_set, w_get, st_set, st_get, pt_set,
      pt_get, r_set, r_get, rp_set, rp_get, r1_set, r1_get, rp1_set, rp1_get, s_lat,
      r_lat, c_set, c_get;
  if (cfg.small_rows && !RedisFill(rport, 1024, cfg.small_ops)) {
    std::fprintf(stderr, "shovel-bench-core: redis-benchmark could not fill redis\n");
    return 1;
  }
  const int lat_ops = cfg.smoke ? 500 : 20000;
  for (int rep = 0; cfg.small_rows && rep < cfg.reps; ++rep) {
    Progress("1 KiB ops: rep " + std::to_string(rep + 1) + "/" +
             std::to_string(cfg.reps));
    // What redis-benchmark -c 50 does: one thread keeps the 50 requests
    // (with -P 16: 50 x 16) in flight. StartMultiSet/StartMultiGet of 1
    // (of 16), waiting for the oldest before starting the next.
    RunSpec one{cfg.small_ops, 1, 1, "k1/"};
    one.window = cfg.small_inflight;
    auto a = ShovelRun(c, small, one);
    auto ac = ShovelRun(**curve_client, small, one);
    all_ok = all_ok && ac.ok;
    c_set.push_back(ac.set), c_get.push_back(ac.get);
    one.batch = 16;
    auto b = ShovelRun(c, small, one);
    // The same from 50 threads with blocking calls, and 800 in flight from
    // 2 threads (MultiSet/MultiGet of 400).
    auto at = ShovelRun(c, small, {cfg.small_ops, cfg.small_inflight, 1, "k1/"});
    auto bt = ShovelRun(c, small, {cfg.small_ops, cfg.small_inflight, 16, "k1/"});
    auto w = ShovelRun(c, small, {cfg.small_ops, 2, 400, "k1/"});
    all_ok = all_ok && a.ok && b.ok && at.ok && bt.ok && w.ok;
    s_set.push_back(a.set), s_get.push_back(a.get), p_set.push_back(b.set),
        p_get.push_back(b.get), w_set.push_back(w.set), w_get.push_back(w.get);
    st_set.push_back(at.set), st_get.push_back(at.get), pt_set.push_back(bt.set),
        pt_get.push_back(bt.get);
    // redis over as many keys as shoveling's ids (each 1 KiB row writes and
    // reads cfg.small_ops distinct ids), and over one key for reference.
    auto r = RedisBench(rport, 1024, 50, cfg.small_ops, 1, cfg.small_ops);
    auto rp = RedisBench(rport, 1024, 50, cfg.small_ops * 4, 16, cfg.small_ops);
    auto r1 = RedisBench(rport, 1024, 50, cfg.small_ops, 1);
    auto rp1 = RedisBench(rport, 1024, 50, cfg.small_ops * 4, 16);
    r_set.push_back(r.first), r_get.push_back(r.second), rp_set.push_back(rp.first),
        rp_get.push_back(rp.second);
    r1_set.push_back(r1.first), r1_get.push_back(r1.second), rp1_set.push_back(rp1.first),
        rp1_get.push_back(rp1.second);
    bool lat_ok = true;
    s_lat.push_back(ShovelLatencyP50(c, small, lat_ops, &lat_ok));
    all_ok = all_ok && lat_ok;
    r_lat.push_back(RedisLatencyP50(rport, 1024, lat_ops));
  }
  const std::string keys = " -r " + std::to_string(cfg.small_ops);
  auto add_redis = [&](const std::string& test, const std::vector<double>& same,
                       const std::vector<double>& one, const std::string& flags) {
    add(test, "redis", same, "ops/s", "redis-benchmark " + flags + keys);
    add(test, "redis (1 key)", one, "ops/s", "redis-benchmark " + flags + ", no -r");
  };
  for (bool piped : {false, true}) {
    for (bool set : {true, false}) {
      const std::string op = set ? "set" : "get", call = set ? "MultiSet" : "MultiGet";
      const std::string test =
          "1KiB " + op + (piped ? ", pipelined 16" : ", 50 in flight");
      const std::string each = piped ? "(16)" : "(1)";
      add(test, "shoveling", piped ? (set ? p_set : p_get) : (set ? s_set : s_get),
          "ops/s", "1 thread, 50 x Start" + call + each);
      add(test, "shoveling (threads)",
          piped ? (set ? pt_set : pt_get) : (set ? st_set : st_get), "ops/s",
          piped ? "50 threads x " + call + each : "50 threads, one call each");
      if (piped) {
        add(test, "shoveling (2 x 400)", set ? w_set : w_get, "ops/s",
            "2 threads x " + call + "(400)");
        add_redis(test, set ? rp_set : rp_get, set ? rp1_set : rp1_get, "-c 50 -P 16");
      } else {
        add(test, "shoveling (CURVE)", set ? c_set : c_get, "ops/s",
            "as shoveling, every message encrypted");
        add_redis(test, set ? r_set : r_get, set ? r1_set : r1_get, "-c 50");
      }
    }
  }
  add("1KiB get, 1 in flight", "shoveling", s_lat, "us p50",
      "round trip, lower is better");
  add("1KiB get, 1 in flight", "redis", r_lat, "us p50", "redis-benchmark -c 1");

  const double kMiB = 1 << 20;
  for (bool text : {false, true}) {
    if (!cfg.large_rows) break;
    if (!text && !cfg.incompressible_rows) continue;
    std::string value = text ? TextBytes(1 << 20, 7) : RandomBytes(1 << 20, 7);
    std::string kind = text ? "text" : "incompressible";
    std::vector<double> ss, sg, sg_string, ms, mg, rs, rg, raw_s, raw_g, cs, cg;
    std::vector<double> nc_g, stored_share, cache_share, nc_stored;
    std::vector<double> scan_g[3], scan_cache[3];
    for (int rep = 0; rep < cfg.reps; ++rep) {
      Progress("1 MiB " + kind + ": rep " + std::to_string(rep + 1));
      RunSpec spec{cfg.big_ops, cfg.big_inflight, 1, text ? "mt/" : "mr/", cfg.big_ids};
      spec.bytes = true;
      spec.bytes_first = rep % 2 == 0;
      spec.settle = text;
      auto a = ShovelRun(c, value, spec);
      all_ok = all_ok && a.ok;
      ss.push_back(a.set * kMiB / 1e9), sg.push_back(a.get * kMiB / 1e9);
      sg_string.push_back(a.get_string * kMiB / 1e9);
      if (text) {
        stored_share.push_back(a.stored_share), cache_share.push_back(a.cache_share);
        auto n = ShovelRun(**nocache_client, value, spec);
        all_ok = all_ok && n.ok;
        nc_g.push_back(n.get * kMiB / 1e9), nc_stored.push_back(n.stored_share);
        for (size_t k = 0; k < scanners.size(); ++k) {
          auto sr = ShovelRun(*scanners[k].client, value, spec);
          all_ok = all_ok && sr.ok;
          scan_g[k].push_back(sr.get * kMiB / 1e9);
          scan_cache[k].push_back(sr.cache_share);
        }
        spec.settle = false;  // level 0: stored raw
        auto w = ShovelRun(**raw_client, value, spec);
        all_ok = all_ok && w.ok;
        raw_s.push_back(w.set * kMiB / 1e9), raw_g.push_back(w.get * kMiB / 1e9);
      } else {
        auto e = ShovelRun(**curve_client, value, spec);
        all_ok = all_ok && e.ok;
        cs.push_back(e.set * kMiB / 1e9), cg.push_back(e.get * kMiB / 1e9);
      }
      auto m = MemcachedRun(mport, value, cfg.big_ops, cfg.big_inflight,
                            text ? "mt" : "mr", cfg.big_ids);
      ms.push_back(m.first * kMiB / 1e9), mg.push_back(m.second * kMiB / 1e9);
      auto r = RedisBench(rport, 1 << 20, cfg.big_inflight, cfg.big_ops, 1);
      rs.push_back(r.first * kMiB / 1e9), rg.push_back(r.second * kMiB / 1e9);
    }
    std::string note = std::to_string(cfg.big_inflight) + " in flight";
    add("1MiB set " + kind, "shoveling", ss, "GB/s", note);
    if (text)
      add("1MiB set " + kind, "shoveling (raw)", raw_s, "GB/s", note + ", level 0");
    if (!text)
      add("1MiB set " + kind, "shoveling (CURVE)", cs, "GB/s", note + ", encrypted");
    add("1MiB set " + kind, "memcached", ms, "GB/s", note + ", -I 2m");
    add("1MiB set " + kind, "redis", rs, "GB/s", note + " (redis-benchmark payload)");
    std::string read_note = text ? ", compressed" : "";
    char share[96] = "";
    if (text && !stored_share.empty()) {
      std::snprintf(share, sizeof share, ", stored/raw %.2f, cache/raw %.2f",
                    Median(stored_share), Median(cache_share));
    }
    read_note += share;
    add("1MiB get " + kind, "shoveling", sg, "GB/s",
        note + read_note + ", GetBytes (no copy)");
    add("1MiB get " + kind, "shoveling (Get)", sg_string, "GB/s",
        note + read_note + ", Get: one copy more");
    if (text) {
      char nc[64] = "";
      if (!nc_stored.empty())
        std::snprintf(nc, sizeof nc, ", stored/raw %.2f", Median(nc_stored));
      add("1MiB get " + kind, "shoveling (no cache)", nc_g, "GB/s",
          note + ", compressed, --decoded-cache 0, GetBytes" + nc);
      for (size_t k = 0; k < scanners.size(); ++k) {
        char sc[64];
        std::snprintf(sc, sizeof sc, ", GetBytes, cache/raw %.2f", Median(scan_cache[k]));
        add("1MiB get " + kind, scanners[k].system, scan_g[k], "GB/s",
            note + ", compressed, scan > cache: --decoded-cache 64MiB" +
                scanners[k].note + sc);
      }
      add("1MiB get " + kind, "shoveling (raw)", raw_g, "GB/s",
          note + ", level 0, stored/raw 1.00");
    }
    if (!text) {
      add("1MiB get " + kind, "shoveling (CURVE)", cg, "GB/s",
          note + ", encrypted, GetBytes");
    }
    add("1MiB get " + kind, "memcached", mg, "GB/s", note + ", -I 2m");
    add("1MiB get " + kind, "redis", rg, "GB/s", note + " (redis-benchmark payload)");
  }
  if (cfg.large_rows) {
    // What one core encrypts: CURVE's bound (each 1 MiB moves encrypted
    // once by the sender and decrypted once by the receiver).
    add("1MiB XSalsa20-Poly1305", "libsodium",
        {SecretboxGBps(1 << 20, cfg.smoke ? 0.2 : 2)}, "GB/s",
        "crypto_secretbox_easy, one core");
  }
  Progress("");
  PrintTable(rows, {"memcached", "redis"}, cfg.json);
  for (const auto& r : rows) {
    if (r.value <= 0) {
      std::fprintf(stderr, "shovel-bench-core: %s / %s measured nothing\n",
                   r.test.c_str(), r.system.c_str());
      all_ok = false;
    }
  }
  if (!all_ok) {
    std::fprintf(stderr, "shovel-bench-core: some shoveling requests failed\n");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace shovel::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return shovel::bench::Main(argc, argv);
}
