// shovel-worker: parses flags, starts a Worker (and, with --consul, its link
// to the Consul agent), serves until SIGTERM/SIGINT.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>

#include "connections.h"
#include "shovel/consul/duration.h"
#include "shovel/log.h"
#include "shovel/size.h"
#include "shovel/version.h"
#include "shovel/worker/consul_agent_link.h"
#include "shovel/worker/consul_setup.h"
#include "shovel/worker/kv_config.h"
#include "shovel/worker/metrics_endpoint.h"
#include "shovel/worker/worker.h"
#include "trimmer.h"

#ifdef SHOVEL_HAVE_SD_NOTIFY
#include <systemd/sd-daemon.h>
#endif

namespace {

using shovel::log::Level;

// Tells systemd (Type=notify units) the worker's state; nothing outside
// systemd (NOTIFY_SOCKET unset).
void Notify(const std::string& state) {
#ifdef SHOVEL_HAVE_SD_NOTIFY
  sd_notify(0, state.c_str());
#else
  (void)state;
#endif
}

// A bad flag or setting: one line on stderr, and in the log when it is a
// file (where an operator of a service looks).
int Fail(const std::string& message, int code = 2) {
  std::cerr << "shovel-worker: " << message << "\n";
  if (!shovel::log::WritesToStderr()) shovel::log::Error(message);
  return code;
}

bool WriteReadyFile(const std::string& path, const std::string& endpoint) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << endpoint << "\n";
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  shovel::worker::UseOneMallocArena();  // before any thread starts
  shovel::worker::WorkerOptions opt;
  shovel::worker::ConsulFlags consul;
  std::string max_memory = "1GiB", chunk_size = "4MiB", ready_file, metrics_listen;
  std::string decoded_cache = "10%", handover_rate = "128MiB";
  std::string reply_bytes = "32MiB", stuck_timeout = "30s", idle_timeout = "0";
  std::string watch_term = "1s";
  CLI::App app{"shovel-worker: a shoveling in-memory blob cache worker"};
  app.set_version_flag("--version", "shovel-worker " + shovel::Version());
  // Options from a file, `name = value` per line (TOML/INI): how the
  // systemd unit passes /etc/shoveling/<instance>.conf.
  app.set_config("--config", "", "read options from this file (name = value lines)");
  app.add_option("--listen", opt.listen, "ZeroMQ endpoint to bind (port 0 = any)")
      ->capture_default_str();
  app.add_option("--max-memory", max_memory, "memory limit (e.g. 2GiB)")
      ->capture_default_str();
  app.add_option("--node-id", opt.node_id, "node id (default <hostname>-<port>)");
  app.add_option("--compression-level", opt.compression_level, "zstd level, 0 = raw")
      ->capture_default_str();
  app.add_option("--chunk-size", chunk_size, "raw bytes per chunk")
      ->capture_default_str();
  app.add_option("--decoded-cache", decoded_cache,
                 "cache of decompressed chunks, charged to --max-memory: a share "
                 "(e.g. 10%, at most 50%) or a size (0: off)")
      ->capture_default_str();
  app.add_option("--handover-rate", handover_rate,
                 "bytes per second a hand-over sends to a worker that joined or came "
                 "back (at least 1MiB)")
      ->capture_default_str();
  app.add_option("--threads", opt.threads, "handler threads (0 = one per core)")
      ->capture_default_str();
  app.add_option("--decode-threads", opt.decode_threads,
                 "threads that decompress the frames of one read on idle cores beside "
                 "its handler (-1 = one less than the cores, 0 = none)")
      ->capture_default_str();
  app.add_option("--io-threads", opt.io_threads,
                 "ZeroMQ I/O threads for TCP copies (0 = half the cores, at least 2)")
      ->capture_default_str();
  app.add_flag(
      "--no-eviction", [&](int64_t) { opt.eviction = false; },
      "refuse writes when full instead of evicting");
  std::string leave_timeout_text = "60s";
  app.add_option("--leave-timeout", leave_timeout_text,
                 "on SIGTERM, copy the ids only this worker holds to the workers that "
                 "take its place for at most this long (0: do not)")
      ->capture_default_str();
  app.add_option("--ready-file", ready_file,
                 "write the endpoint here when ready (and, with --metrics-listen, the "
                 "metrics URL on a second line)");
  app.add_option("--metrics-listen", metrics_listen,
                 "serve Prometheus metrics at http://HOST:PORT/metrics (port 0 picks "
                 "one); default: none");
  app.add_option("--reply-bytes-per-connection", reply_bytes,
                 "reply bytes queued for one connection past which its requests wait "
                 "unread")
      ->capture_default_str();
  app.add_option("--stuck-timeout", stuck_timeout,
                 "close a connection whose replies are not taken for this long")
      ->capture_default_str();
  int64_t max_connections = 0;
  app.add_option("--max-connections", max_connections,
                 "TCP connections at most; past it new ones are closed at once "
                 "(0 = the open-files limit less 64 + 1/32 for the worker's own)")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_timeout,
                 "close connections with no request for this long (0 = never)")
      ->capture_default_str();
  app.add_option("--watch-term", watch_term,
                 "how long a client may use a STAT it watches before asking again; "
                 "a change of a watched id is acknowledged once its watchers were "
                 "told or this ran out (0 = no watches; docs/shovelfs.md, Opens)")
      ->capture_default_str();
  app.add_option("--key-file", opt.key_file,
                 "this worker's CURVE key pair (shovelctl keygen): every socket uses "
                 "CURVE; needs --authorized-keys (docs/security.md)");
  app.add_option("--authorized-keys", opt.authorized_keys,
                 "client public keys that may connect, one per line with an optional "
                 "role rw|ro|admin; reloaded on SIGHUP");
  app.add_option("--peer-keys", opt.peer_keys,
                 "the peers' public keys, one per line, when workers do not share "
                 "one key pair (a rotation): a peer failing the handshake with one is "
                 "tried with the next; re-read when it changes (docs/security.md)");
  std::string log_level = "info", log_file;
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")
      ->capture_default_str();
  app.add_option("--log-file", log_file,
                 "append the log here (default: stderr; under systemd, whose "
                 "$JOURNAL_STREAM names stderr, the journal with PRIORITY per level)");
  app.add_option("--consul", consul.consul,
                 "Consul agent to register with and take live config from: URL "
                 "(http://127.0.0.1:8500, unix:///path) or 'env' for $CONSUL_HTTP_ADDR; "
                 "default: no Consul");
  std::vector<std::string> join_peers;
  app.add_option(
         "--join", join_peers,
         "with a static list of workers: the others' endpoints (comma-separated); "
         "the ids that now belong here are handed over (one copy per id)")
      ->delimiter(',');
  app.add_option("--advertise", consul.advertise,
                 "address put in the Consul registration and given to --join peers "
                 "(default: the listen host, "
                 "or the hostname when listening on 0.0.0.0)");
  app.add_option("--service-name", consul.service_name, "Consul service name")
      ->capture_default_str();
  app.add_option("--kv-prefix", consul.kv_prefix,
                 "Consul KV prefix of the live config (PREFIX/config/KEY, "
                 "PREFIX/nodes/NODE/config/KEY)")
      ->capture_default_str();
  app.add_option("--consul-ttl", consul.ttl, "TTL of the Consul health check")
      ->capture_default_str();
  app.add_option("--consul-heartbeat", consul.heartbeat,
                 "how often the check is passed (default: TTL / 3)");
  app.add_option("--consul-deregister-after", consul.deregister_after,
                 "Consul removes the worker after its check was critical this long")
      ->capture_default_str();
  app.add_option("--consul-retry-max", consul.retry_max,
                 "longest wait between retries while Consul is unreachable")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(e.what());
  }
  auto level = shovel::log::ParseLevel(log_level);
  if (!level.ok()) return Fail("--log-level: " + level.status().message());
  // Under systemd (stderr is the journal's stream) the log goes to the
  // journal natively: each line's level becomes its PRIORITY, and
  // SHOVEL_NODE names the worker (docs/operations.md, Logs).
  shovel::log::Options lo;
  lo.program = "shovel-worker";
  lo.level = *level;
  if (!log_file.empty()) {
    lo.sink = shovel::log::Sink::kFile;
    lo.file = log_file;
  } else if (shovel::log::StderrIsJournal() && shovel::log::JournalAvailable()) {
    lo.sink = shovel::log::Sink::kJournal;
    if (!opt.node_id.empty()) lo.journal_fields = {{"SHOVEL_NODE", opt.node_id}};
  }
  {
    shovel::Status s = shovel::log::Setup(lo);
    if (!s.ok()) return Fail("--log-file: " + s.message());
  }
  auto mm = shovel::ParseSize(max_memory);
  if (!mm.ok()) return Fail("--max-memory: " + mm.status().message());
  opt.max_memory = *mm;
  {
    shovel::worker::ConfigOverrides dc;
    shovel::Status s = shovel::worker::ParseSetting("decoded-cache", decoded_cache, dc);
    if (!s.ok()) return Fail("--" + s.message());
    opt.decoded_cache_percent = *dc.decoded_cache_percent;
    opt.decoded_cache_bytes = *dc.decoded_cache_bytes;
  }
  {
    shovel::worker::ConfigOverrides hr;
    shovel::Status s = shovel::worker::ParseSetting("handover-rate", handover_rate, hr);
    if (!s.ok()) return Fail("--" + s.message());
    opt.handover_rate = *hr.handover_rate;
  }
  auto rb = shovel::ParseSize(reply_bytes);
  if (!rb.ok()) return Fail("--reply-bytes-per-connection: " + rb.status().message());
  opt.reply_bytes_per_peer = *rb;
  auto st = shovel::consul::ParseDuration(stuck_timeout);
  if (!st.ok()) return Fail("--stuck-timeout: " + st.status().message());
  opt.stuck_timeout_ms = st->count();
  if (max_connections < 0) {
    return Fail("--max-connections must be 0 (from the open-files limit) or more, not " +
                std::to_string(max_connections));
  }
  opt.max_connections = static_cast<uint64_t>(max_connections);
  auto it = shovel::consul::ParseDuration(idle_timeout);
  if (!it.ok()) return Fail("--idle-timeout: " + it.status().message());
  opt.idle_timeout_ms = it->count();
  auto wt = shovel::consul::ParseDuration(watch_term);
  if (!wt.ok()) return Fail("--watch-term: " + wt.status().message());
  opt.watch_term_ms = wt->count();
  auto cs = shovel::ParseSize(chunk_size);
  if (!cs.ok()) return Fail("--chunk-size: " + cs.status().message());
  opt.chunk_size = *cs;
  auto leave_timeout_parsed = shovel::consul::ParseDuration(leave_timeout_text);
  if (!leave_timeout_parsed.ok()) {
    return Fail("--leave-timeout: " + leave_timeout_parsed.status().message());
  }
  const std::chrono::milliseconds leave_timeout = *leave_timeout_parsed;
  auto consul_setup = shovel::worker::ResolveConsulFlags(
      consul, [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        return v ? std::optional<std::string>(v) : std::nullopt;
      });
  if (!consul_setup.ok()) return Fail(consul_setup.status().message());
  if (!join_peers.empty() && consul_setup->enabled) {
    return Fail(
        "--join is for a static list of workers; with Consul a worker joins by "
        "its registration");
  }
  for (const auto& p : join_peers) {
    if (p.find("://") == std::string::npos) {
      return Fail("--join: '" + p + "' is not a ZeroMQ endpoint (tcp://HOST:PORT)");
    }
  }

  // Handle SIGTERM/SIGINT by sigwait here; the worker's threads inherit the
  // blocked mask and never see them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::mutex log_mu;
  std::string log_id = opt.node_id;
  auto log = [&log_mu, &log_id](Level level, const std::string& line) {
    std::string id;
    {
      std::lock_guard<std::mutex> l(log_mu);
      id = log_id;
    }
    shovel::log::Write(level, id.empty() ? line : id + ": " + line);
  };
  opt.log = log;
  // A DRAIN made the worker leave: end it as SIGTERM does.
  opt.on_drained = [] { kill(getpid(), SIGTERM); };
  // As redis-server does: use every descriptor the hard limit allows, so
  // --max-connections (derived from it) is not the soft limit's 1024.
  const uint64_t nofile_before = shovel::worker::NoFileLimit();
  const uint64_t nofile = shovel::worker::RaiseNoFileLimit();
  auto worker = shovel::worker::Worker::Start(opt);
  if (!worker.ok()) {
    if (worker.status().code() == shovel::Code::kInvalidArgument) {
      return Fail("--" + worker.status().message());
    }
    return Fail(worker.status().ToString(), 1);
  }
  auto& w = **worker;
  {
    std::lock_guard<std::mutex> l(log_mu);
    log_id = w.node_id();
  }
  if (lo.sink == shovel::log::Sink::kJournal && w.node_id() != opt.node_id) {
    lo.journal_fields = {{"SHOVEL_NODE", w.node_id()}};
    (void)shovel::log::Setup(lo);  // the journal was there a moment ago
  }
  if (!consul_setup->hint.empty()) log(Level::kInfo, consul_setup->hint);
  // The endpoint starts before the Consul link, which advertises its port;
  // scrapes read the link through `scraped_link` once it exists.
  std::atomic<shovel::worker::ConsulAgentLink*> scraped_link{nullptr};
  const bool with_consul = consul_setup->enabled;
  std::unique_ptr<shovel::worker::MetricsEndpoint> metrics;
  if (!metrics_listen.empty()) {
    auto m = shovel::worker::MetricsEndpoint::Start(
        metrics_listen, [&w, &scraped_link, with_consul] {
          shovel::worker::WorkerSample s = w.Sample();
          if (with_consul) {
            auto* l = scraped_link.load();
            s.consul_registered = l != nullptr && l->registered() ? 1 : 0;
          }
          return s;
        });
    if (!m.ok()) {
      w.Stop();
      if (m.status().code() == shovel::Code::kInvalidArgument) {
        return Fail("--" + m.status().message());
      }
      return Fail("--" + m.status().message(), 1);
    }
    metrics = std::move(*m);
    consul_setup->metrics_port = metrics->port();
    log(Level::kInfo, "metrics on " + metrics->url());
  }
  if (!join_peers.empty()) {
    // Before clients use this worker: the ids that now belong here are
    // handed over, and taken from their previous holder on first use.
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    const std::string advertise =
        consul.advertise.empty()
            ? shovel::worker::DefaultAdvertiseHost(w.endpoint(), host)
            : consul.advertise;
    const std::string self = shovel::worker::AdvertisedEndpoint(
        advertise, shovel::worker::EndpointPort(w.endpoint()));
    if (shovel::Status st = w.JoinPeers(join_peers, self); !st.ok()) {
      w.Stop();
      return Fail(st.message(), 1);
    }
    log(Level::kInfo, "joining " + std::to_string(join_peers.size()) + " workers as " +
                          self + ": asked for a hand-over");
  }
  std::unique_ptr<shovel::worker::ConsulAgentLink> link;
  if (consul_setup->enabled) {
    // Joining with one copy per id: the ids that now belong here are
    // handed over, and taken from their previous holder on first use
    // meanwhile, from before clients can see this worker.
    auto join = shovel::worker::JoinBody(*consul_setup, w);
    if (join.ok()) {
      w.Join(*join);
    } else {
      log(Level::kWarn, "not asking for a hand-over: " + join.status().message());
    }
    auto l = shovel::worker::StartConsulLink(*consul_setup, w, log);
    if (!l.ok()) {
      w.Stop();
      return Fail(l.status().message());
    }
    link = std::move(*l);
    scraped_link.store(link.get());
  }
  if (!ready_file.empty() &&
      !WriteReadyFile(ready_file,
                      w.endpoint() + (metrics ? "\n" + metrics->url() : ""))) {
    return Fail("cannot write --ready-file " + ready_file, 1);
  }
  log(Level::kInfo,
      "listening on " + w.endpoint() + " (open files limit " +
          (nofile != nofile_before ? std::to_string(nofile_before) + " raised to " : "") +
          std::to_string(nofile) + ", max connections " +
          std::to_string(opt.max_connections > 0
                             ? opt.max_connections
                             : shovel::worker::DefaultMaxConnections(nofile)) +
          ")");
  Notify("READY=1\nSTATUS=serving on " + w.endpoint() +
         (metrics ? ", metrics on " + metrics->url() : ""));
  // (The worker logs its memory pressure itself: EvictionWatch.)
  int sig = 0;
  for (;;) {
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig != SIGHUP) break;
    (void)w.ReloadAuthorizedKeys();  // logs what it did
  }
  log(Level::kInfo, "signal " + std::to_string(sig) + ", finishing requests in flight");
  Notify("STOPPING=1");
  scraped_link.store(nullptr);
  // Leave before deregistering: the ids only this worker would stop
  // holding go to their new holders first (docs/cache.md, Hand-over).
  shovel::wire::HandoverBody leave_by =
      link ? shovel::worker::LeaveBody(w, link->Peers(), link->replicas())
           : w.LeasePeers();
  if (leave_by.members.size() > 1 && leave_timeout.count() > 0) {
    shovel::Status s = w.Leave(leave_by, leave_timeout);
    if (!s.ok()) log(Level::kWarn, "not handing over: " + s.message());
  }
  if (link) link->Stop(/*deregister=*/true);
  metrics.reset();  // no scrape runs past here
  w.Stop();
  return 0;
}
