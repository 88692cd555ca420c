// shovel-bench-replication: what replicas cost, and what a hand-over moves,
// measured side by side in one run. Starts three shovel-worker processes on
// loopback and prints a table of medians:
//   - 1 KiB and 1 MiB set/get with one copy (R=1) and two (R=2), from
//     `threads` threads each making blocking calls on distinct ids; the
//     ratio column compares R=2 with R=1 (goal: sets >= 0.6x, gets >= 0.95x);
//   - a worker that restarts empty while the cluster holds `handover_mib`
//     of incompressible 1 MiB values (R=2): seconds until the others handed
//     it its ids, the bytes it received against its ideal share (its
//     replica-set share of the stored bytes; goal <= 1.1x), and 1 KiB get
//     throughput during the hand-over against before it (goal >= 0.7x).
// --smoke runs tiny sizes (the test suite does); --json prints JSON;
// --rows rates or --rows handover runs only those rows.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "shovel/client.h"
#include "shovel/hrw.h"
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
  int small_ops = 60000;
  int big_ops = 1024;
  int threads = 16;
  int big_threads = 4;
  int handover_mib = 3072;
  std::string worker_bin = SHOVEL_WORKER_BIN;
  bool handover = true;  // --rows rates leaves it out
  bool rates = true;     // --rows handover leaves them out
};

struct Worker {
  Child child;
  std::string endpoint;
  std::string node;
};

bool StartWorker(const Config& cfg, const std::string& node, const std::string& listen,
                 Worker* w) {
  std::string ready = "/tmp/shovel-bench-repl-" + std::to_string(getpid()) + "-" + node;
  unlink(ready.c_str());
  w->child =
      Child({cfg.worker_bin, "--listen", listen, "--max-memory", "8GiB", "--node-id",
             node, "--compression-level", "0", "--ready-file", ready});
  w->endpoint = WaitForFile(ready, 10000);
  unlink(ready.c_str());
  w->node = node;
  return !w->endpoint.empty();
}

std::unique_ptr<Client> Connect(const std::vector<std::string>& endpoints,
                                uint32_t replicas) {
  ClientOptions o;
  o.workers = endpoints;
  o.replicas = replicas;
  auto c = Client::Connect(o);
  if (!c.ok()) {
    std::fprintf(stderr, "shovel-bench-replication: %s\n", c.status().ToString().c_str());
    return nullptr;
  }
  return std::move(*c);
}

// ops/s (or bytes/s with `bytes`) of `ops` calls spread over `threads`.
double Run(int threads, int ops, const std::function<bool(int)>& one, bool* ok) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  double start = NowSeconds();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < ops;) {
        if (!one(i)) failed = true;
      }
    });
  }
  for (auto& t : ts) t.join();
  if (failed) *ok = false;
  return ops / (NowSeconds() - start);
}

std::string Key(const char* prefix, int i) {
  return std::string(prefix) + std::to_string(i);
}

int Main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--version") {
      std::printf("shovel-bench-replication %s\n", Version().c_str());
      return 0;
    } else if (a == "--smoke") {
      cfg.smoke = true;
      cfg.reps = 1;
      cfg.small_ops = 2000;
      cfg.big_ops = 32;
      cfg.handover_mib = 32;
    } else if (a == "--json") {
      cfg.json = true;
    } else if (a == "--reps" && i + 1 < argc) {
      cfg.reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--handover-mib" && i + 1 < argc) {
      cfg.handover_mib = std::max(8, std::atoi(argv[++i]));
    } else if (a == "--worker-bin" && i + 1 < argc) {
      cfg.worker_bin = argv[++i];
    } else if (a == "--rows" && i + 1 < argc) {
      std::string rows = argv[++i];
      cfg.handover = rows == "all" || rows == "handover";
      cfg.rates = rows == "all" || rows == "rates";
      if (!cfg.handover && !cfg.rates) {
        std::fprintf(stderr, "%s: --rows takes all, rates or handover, not %s\n", argv[0],
                     rows.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "usage: %s [--smoke] [--json] [--reps N] [--handover-mib N] "
                   "[--worker-bin PATH] [--rows all|rates|handover]\n",
                   argv[0]);
      return 2;
    }
  }
  std::vector<Worker> workers(3);
  for (int i = 0; i < 3; ++i) {
    if (!StartWorker(cfg, "w" + std::to_string(i + 1), "tcp://127.0.0.1:0",
                     &workers[i])) {
      std::fprintf(stderr, "shovel-bench-replication: %s did not start\n",
                   cfg.worker_bin.c_str());
      return 1;
    }
  }
  std::vector<std::string> endpoints;
  for (auto& w : workers) endpoints.push_back(w.endpoint);
  auto c1 = Connect(endpoints, 1);
  auto c2 = Connect(endpoints, 2);
  if (!c1 || !c2) return 1;

  std::vector<Row> rows;
  bool ok = true;
  const std::string small = RandomBytes(1024, 1);
  const std::string big = RandomBytes(1 << 20, 2);
  if (cfg.handover) {
    // Hand-over: fill, restart w3 empty, and watch it be handed its ids.
    Progress("hand-over: filling " + std::to_string(cfg.handover_mib) + " MiB");
    const int values = cfg.handover_mib;
    Run(
        cfg.big_threads, values, [&](int i) { return c2->Set(Key("h/", i), big).ok(); },
        &ok);
    // Reads of 1 KiB ids (R=2), before and during the move.
    const int warm = std::min(cfg.small_ops, 20000);
    Run(
        cfg.threads, warm, [&](int i) { return c2->Set(Key("warm/", i), small).ok(); },
        &ok);
    std::vector<std::string> nodes = {"w1", "w2", "w3"};
    uint64_t ideal = 0;
    for (int i = 0; i < values; ++i) {
      auto ranked = RankNodes(Key("h/", i), nodes);
      if (ranked[0] == 2 || ranked[1] == 2) ideal += big.size();
    }
    for (int i = 0; i < warm; ++i) {
      auto ranked = RankNodes(Key("warm/", i), nodes);
      if (ranked[0] == 2 || ranked[1] == 2) ideal += small.size();
    }
    auto rate = [&](int n) {
      return Run(
          cfg.threads, n, [&](int i) { return c2->Get(Key("warm/", i % warm)).ok(); },
          &ok);
    };
    double before = rate(cfg.small_ops / 2);
    std::string where = workers[2].endpoint;
    kill(workers[2].child.pid(), SIGKILL);
    workers[2].child.Stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < 20; ++i) (void)c2->Get(Key("warm/", i));  // finds it down
    if (!StartWorker(cfg, "w3", where, &workers[2])) {
      std::fprintf(stderr, "shovel-bench-replication: w3 did not restart\n");
      return 1;
    }
    double t0 = NowSeconds(), done_at = 0;
    std::vector<double> during;
    uint64_t received = 0, last = 0;
    double last_change = t0;
    while (NowSeconds() - t0 < 600) {
      during.push_back(rate(std::max(200, cfg.small_ops / 20)));
      auto members = c2->Members();
      if (!members.ok()) continue;
      for (const auto& m : *members) {
        if (m.node_id == "w3") received = m.mem_used;
      }
      if (received != last) {
        last = received;
        last_change = NowSeconds();
      }
      if (received >= ideal * 95 / 100 ||
          (received > 0 && NowSeconds() - last_change > 3)) {
        done_at = last_change;
        break;
      }
      Progress("hand-over: " + std::to_string(received >> 20) + " of " +
               std::to_string(ideal >> 20) + " MiB");
    }
    rows.push_back({"hand-over to a restarted worker", "R=2",
                    done_at > 0 ? done_at - t0 : -1, "s",
                    std::to_string(cfg.handover_mib) + " MiB stored"});
    rows.push_back({"bytes moved / ideal share", "R=2",
                    ideal ? static_cast<double>(received) / ideal : 0, "x",
                    "its memory use / its replica-set share"});
    rows.push_back({"1KiB get during hand-over", "R=2",
                    Median(during) / std::max(1.0, before), "x of before",
                    std::to_string(static_cast<int>(before)) + " ops/s before"});
  }
  if (cfg.rates) {
    // Then R=1 against R=2 (the restarted worker has rejoined).
    std::vector<double> v[8];
    for (int rep = 0; rep < cfg.reps; ++rep) {
      int k = 0;
      for (Client* c : {c1.get(), c2.get()}) {
        const char* p = c == c1.get() ? "r1/" : "r2/";
        Progress("rep " + std::to_string(rep + 1) + ": 1 KiB, " + p);
        v[k++].push_back(Run(
            cfg.threads, cfg.small_ops,
            [&](int i) { return c->Set(Key(p, i), small).ok(); }, &ok));
        v[k++].push_back(Run(
            cfg.threads, cfg.small_ops, [&](int i) { return c->Get(Key(p, i)).ok(); },
            &ok));
        Progress("rep " + std::to_string(rep + 1) + ": 1 MiB, " + p);
        std::string bp = std::string(p) + "big/";
        v[k++].push_back(
            Run(
                cfg.big_threads, cfg.big_ops,
                [&](int i) { return c->Set(Key(bp.c_str(), i % 256), big).ok(); }, &ok) *
            (1 << 20) / 1e9);
        v[k++].push_back(
            Run(
                cfg.big_threads, cfg.big_ops,
                [&](int i) { return c->GetBytes(Key(bp.c_str(), i % 256)).ok(); }, &ok) *
            (1 << 20) / 1e9);
      }
    }
    const char* tests[4] = {"1KiB set", "1KiB get", "1MiB set", "1MiB get"};
    for (int t = 0; t < 4; ++t) {
      std::string unit = t < 2 ? "ops/s" : "GB/s";
      std::string note = t < 2 ? std::to_string(cfg.threads) + " threads"
                               : std::to_string(cfg.big_threads) + " threads";
      rows.push_back({tests[t], "R=1", Median(v[t]), unit, note});
      rows.push_back({tests[t], "R=2", Median(v[4 + t]), unit, note});
    }
  }
  PrintTable(rows, {"R=1"}, cfg.json);
  if (!ok) {
    std::fprintf(stderr, "shovel-bench-replication: some requests failed\n");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace shovel::bench

int main(int argc, char** argv) { return shovel::bench::Main(argc, argv); }
