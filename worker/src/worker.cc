#include "shovel/worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "authorizer.h"
#include "eviction_report.h"
#include "handover.h"
#include "lease_keeper.h"
#include "leave.h"
#include "replicator.h"
#include "server.h"
#include "service.h"
#include "shovel/alloc.h"
#include "shovel/worker/store.h"
#include "trimmer.h"
#include "watches.h"

namespace shovel::worker {
namespace {

std::string DefaultNodeId(const std::string& endpoint) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "worker");
  // ipc:// (an embedded mount's socket): no port to tell workers apart.
  if (endpoint.rfind("tcp://", 0) != 0) return std::string(host) + "-local";
  size_t colon = endpoint.rfind(':');
  return std::string(host) + "-" +
         (colon == std::string::npos ? "0" : endpoint.substr(colon + 1));
}

// True when a restart binds the same address again: a TCP port given (not
// 0 or *), or an ipc:// path. Clients reconnect to such an address on
// their own, holding what they were granted before.
bool FixedAddress(const std::string& listen) {
  if (listen.rfind("tcp://", 0) != 0) return true;
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return true;
  const std::string port = listen.substr(colon + 1);
  return port != "0" && port != "*";
}

// What LocalServe's function reaches the worker through; shared with every
// copy of the function, so it outlives the Worker. Stop() takes mu
// exclusively (waiting for local requests being served) and clears service.
struct LocalGate {
  std::shared_mutex mu;
  Service* service = nullptr;  // guarded by mu; null once stopped
  ServiceCounters* counters = nullptr;
  std::string endpoint;
};

// A reply's frames as views, kept alive by the reply itself (owned bytes) or
// by the store's slices (GET).
std::vector<wire::SharedFrame> EncodeLocal(ServiceReply rep) {
  struct Held {
    char header[wire::kHeaderSize];
    ServiceReply rep;
  };
  auto held = std::make_shared<Held>();
  held->rep = std::move(rep);
  wire::EncodeHeader(held->rep.header, held->header);
  std::vector<wire::SharedFrame> out;
  out.reserve(1 + held->rep.payload.size());
  out.push_back({std::string_view(held->header, wire::kHeaderSize), held});
  for (auto& f : held->rep.payload) {
    if (f.slice.owner) {
      out.push_back({std::string_view(f.slice.data, f.slice.size), f.slice.owner});
    } else {
      out.push_back({f.bytes, held});
    }
  }
  return out;
}

std::vector<wire::SharedFrame> ServeLocal(LocalGate& gate,
                                          const std::vector<std::string_view>& frames) {
  if (frames.empty()) return {};
  auto header = wire::DecodeHeader(frames[0]);
  if (!header.ok()) return {};  // nothing to answer, as the server drops it
  std::shared_lock<std::shared_mutex> l(gate.mu);
  if (gate.service == nullptr) {
    return EncodeLocal(Service::Error(
        *header, Status::Unavailable("worker " + gate.endpoint + " has stopped")));
  }
  auto req = wire::DecodeRequest(frames);
  if (!req.ok()) {
    gate.counters->Malformed(req.status());
    return EncodeLocal(Service::Error(*header, req.status()));
  }
  gate.counters->in_flight.fetch_add(1);
  ServiceReply rep;
  try {
    rep = gate.service->Handle(*req);
  } catch (const std::bad_alloc&) {
    rep = Service::Error(req->header, Status::NoSpace("worker is out of memory"));
  }
  gate.counters->in_flight.fetch_sub(1);
  return EncodeLocal(std::move(rep));
}

}  // namespace

Status ValidateConfig(const WorkerConfig& c) {
  if (c.max_memory < (1u << 20)) {
    return Status::InvalidArgument("max-memory must be at least 1 MiB");
  }
  if (c.compression_level < 0 || c.compression_level > 19) {
    return Status::InvalidArgument("compression-level must be 0 (raw) to 19, not " +
                                   std::to_string(c.compression_level));
  }
  if (c.chunk_size < (4u << 10) || c.chunk_size > (64u << 20)) {
    return Status::InvalidArgument("chunk-size must be between 4 KiB and 64 MiB");
  }
  if (c.handover_rate < (1u << 20)) {
    return Status::InvalidArgument("handover-rate must be at least 1 MiB (per second)");
  }
  if (c.decoded_cache_percent < 0 || c.decoded_cache_percent > 50) {
    return Status::InvalidArgument("decoded-cache must be 0% to 50% of max-memory, not " +
                                   std::to_string(c.decoded_cache_percent) + "%");
  }
  return Status::Ok();
}

struct Worker::Impl {
  ServiceCounters counters;
  std::unique_ptr<RequestErrorLog> request_errors;  // counters.errors
  std::string public_key;
  std::unique_ptr<Authorizer> auth;  // used by server's threads: declared first
  std::unique_ptr<Watches> watches;  // the store's hook calls it: before store
  std::unique_ptr<Store> store;
  std::unique_ptr<Replicator> replicator;  // used by service: declared first
  std::unique_ptr<Service> service;
  // Used by service while server's threads run: between the two.
  std::unique_ptr<Handover> handover;
  std::unique_ptr<LeaseKeeper> leases;
  std::unique_ptr<Server> server;
  std::unique_ptr<Trimmer> trimmer;          // reads store and server: after them
  std::unique_ptr<EvictionWatch> evictions;  // reads service: after it
  std::string node_id;
  std::shared_ptr<LocalGate> local = std::make_shared<LocalGate>();
  std::mutex stop_mu;
  shovel::log::LogFn log;
  std::function<void()> on_drained;
  LeaveProgress leave;
  std::mutex leave_mu;       // held while a leave runs
  std::mutex drain_mu;       // guards drain_thread
  std::thread drain_thread;  // a DRAIN's leave; joined by Stop()
  std::thread join_thread;   // follows a Join's hand-overs; joined by Stop()
  std::mutex join_mu;
  std::condition_variable join_cv;
  bool stopping = false;  // guarded by join_mu: ends the join thread

  static constexpr std::chrono::minutes kDrainTimeout{10};

  void Log(shovel::log::Level level, const std::string& line) const {
    if (log) log(level, line);
  }
  Status Leave(const wire::HandoverBody& body, std::chrono::milliseconds timeout);
  Status StartDrain(const wire::HandoverBody& body);
  static constexpr std::chrono::minutes kJoinTimeout{10};
  void FollowJoin(const Service::JoinPlan& plan, const wire::HandoverBody& ask);
};

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() { Stop(); }

Result<std::unique_ptr<Worker>> Worker::Start(const WorkerOptions& o) {
  WorkerConfig config{o.max_memory, o.compression_level, o.chunk_size, o.eviction};
  config.decoded_cache_percent = o.decoded_cache_percent;
  config.decoded_cache_bytes = o.decoded_cache_bytes;
  config.handover_rate = o.handover_rate;
  SHOVEL_RETURN_IF_ERROR(ValidateConfig(config));
  if (o.threads < 0 || o.threads > 256) {
    return Status::InvalidArgument("threads must be 0 (one per core) to 256");
  }
  if (o.decode_threads < -1 || o.decode_threads > 256) {
    return Status::InvalidArgument(
        "decode-threads must be -1 (one less than the cores), 0 (none) or up to 256");
  }
  if (o.reply_bytes_per_peer < (1u << 20)) {
    return Status::InvalidArgument("reply-bytes-per-connection must be at least 1 MiB");
  }
  if (o.max_connections > (1u << 24)) {
    return Status::InvalidArgument(
        "max-connections must be 0 (from the open-files limit) to 16777216");
  }
  if (o.idle_timeout_ms < 0) {
    return Status::InvalidArgument("idle-timeout must be 0 (never) or more");
  }
  if (o.stuck_timeout_ms < 100) {
    return Status::InvalidArgument("stuck-timeout must be at least 100ms");
  }
  if (o.watch_term_ms < 0 || o.watch_term_ms > 60000) {
    return Status::InvalidArgument("watch-term must be 0 (no watches) to 60s");
  }
  if (o.io_threads < 0 || o.io_threads > 64) {
    return Status::InvalidArgument(
        "io-threads must be 0 (half the cores, at least 2) to 64");
  }
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  int io_threads = o.io_threads > 0 ? o.io_threads : std::max(2, cores / 2);
  KeepLargeBuffersWarm();  // chunk memory is reused, not returned to the OS
  auto impl = std::make_unique<Impl>();
  std::optional<KeyPair> keys;
  ServerSecurity security;
  if (!o.key_file.empty() || !o.authorized_keys.empty()) {
    if (o.key_file.empty() || o.authorized_keys.empty()) {
      return Status::InvalidArgument(
          o.key_file.empty()
              ? "authorized-keys needs --key-file (the worker's own key pair)"
              : "key-file needs --authorized-keys FILE (the client keys it accepts)");
    }
    auto k = ReadKeyPairFile(o.key_file);
    if (!k.ok()) return Status::InvalidArgument("key-file: " + k.status().message());
    keys = *k;
    impl->public_key = keys->public_key;
    auto auth = Authorizer::Load(o.authorized_keys, keys->public_key, o.log);
    if (!auth.ok()) {
      return Status::InvalidArgument("authorized-keys: " + auth.status().message());
    }
    impl->auth = std::move(*auth);
    security = {keys->secret_key, impl->auth.get()};
  }
  SHOVEL_ASSIGN_OR_RETURN(impl->server,
                          Server::Bind(o.listen, io_threads, keys ? &security : nullptr));
  impl->node_id = o.node_id.empty() ? DefaultNodeId(impl->server->endpoint()) : o.node_id;
  impl->store = std::make_unique<Store>(impl->node_id, config);
  impl->store->CompressInBackground(true);
  impl->store->StartDecodeHelpers(o.decode_threads >= 0 ? o.decode_threads
                                                        : std::max(0, cores - 1));
  Watches::Options watch_options;
  watch_options.term = o.watch_term_ms * 1'000'000;
  watch_options.started = SteadyNowNs();
  watch_options.grace = FixedAddress(o.listen);
  impl->watches = std::make_unique<Watches>(watch_options);
  Watches* watches = impl->watches.get();
  impl->store->SetChangeHook([watches](std::string_view id, bool evicted) {
    watches->Changed(id, !evicted, SteadyNowNs());
  });
  impl->server->SetWatches(watches);
  impl->replicator = std::make_unique<Replicator>(keys);
  if (!o.peer_keys.empty()) {
    if (!keys) return Status::InvalidArgument("peer-keys needs --key-file");
    if (Status st = impl->replicator->WatchPeerKeys(o.peer_keys); !st.ok()) {
      return Status::InvalidArgument("peer-keys: " + st.message());
    }
  }
  impl->request_errors = std::make_unique<RequestErrorLog>(o.log);
  impl->counters.errors = impl->request_errors.get();
  impl->service =
      std::make_unique<Service>(impl->store.get(), &impl->counters,
                                impl->server->endpoint(), impl->replicator.get());
  impl->handover = std::make_unique<Handover>(impl->store.get(), impl->replicator.get());
  impl->handover->SetRate(config.handover_rate);
  impl->service->SetHandover(impl->handover.get());
  Service* service = impl->service.get();
  // A worker that a client asked for more copies may be a replica still:
  // it keeps what it handed over.
  impl->handover->SetMayDrop([service] { return service->replicas_seen() <= 1; });
  impl->handover->SetOnMove([service](const std::string& id, const std::string& endpoint,
                                      const std::string& node, bool moving) {
    if (moving) {
      service->MarkMoved(id, endpoint, node);
    } else {
      service->UnmarkMoved(id);
    }
  });
  LeaseKeeper::Hooks hooks;
  hooks.epoch = [service] { return service->epoch(); };
  hooks.rejoin = [service](uint64_t refused) { return service->Rejoin(refused); };
  hooks.log = o.log;
  hooks.handover = [service](
                       const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& members) {
    service->HandOverTo(target, members);
  };
  impl->leases = std::make_unique<LeaseKeeper>(
      impl->replicator.get(), impl->server->endpoint(), impl->node_id, std::move(hooks));
  impl->service->SetLeases(impl->leases.get());
  impl->service->SetWatches(watches);
  impl->log = o.log;
  impl->on_drained = o.on_drained;
  if (o.on_drained) {
    Impl* raw = impl.get();
    impl->service->SetLeave(&impl->leave, [raw](const wire::HandoverBody& body) {
      return raw->StartDrain(body);
    });
  } else {
    impl->service->SetLeave(&impl->leave, nullptr);
  }
  impl->leases->Start();
  int threads =
      o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 2;
  ServerLimits limits;
  limits.replies.per_peer = o.reply_bytes_per_peer;
  limits.replies.total = std::clamp<uint64_t>(o.max_memory / 4, 64ull << 20, 1ull << 30);
  limits.replies.stuck_ns = o.stuck_timeout_ms * 1'000'000;
  limits.max_connections =
      o.max_connections > 0 ? o.max_connections : DefaultMaxConnections(NoFileLimit());
  limits.idle_ns = o.idle_timeout_ms * 1'000'000;
  SHOVEL_RETURN_IF_ERROR(impl->server->Start(impl->service.get(), impl->store.get(),
                                             &impl->counters, threads, limits));
  Store* store = impl->store.get();
  Server* server = impl->server.get();
  impl->trimmer = std::make_unique<Trimmer>([store, server] {
    const int64_t transit = store->transit_bytes().load() + server->queued_reply_bytes();
    return store->used() + static_cast<uint64_t>(std::max<int64_t>(0, transit));
  });
  impl->trimmer->Start();
  // "memory pressure: ..." at most once a minute, in the worker's log
  // (shovel-worker's, or the mount's for the worker embedded in shovelfs).
  Service* sampled = impl->service.get();
  impl->evictions =
      std::make_unique<EvictionWatch>([sampled] { return sampled->Sample(); }, o.log);
  impl->evictions->Start();
  impl->local->service = impl->service.get();
  impl->local->counters = &impl->counters;
  impl->local->endpoint = impl->server->endpoint();
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

const std::string& Worker::endpoint() const { return impl_->server->endpoint(); }
const std::string& Worker::node_id() const { return impl_->node_id; }

void Worker::ApplyConfig(const WorkerConfig& config) {
  if (!ValidateConfig(config).ok()) return;
  impl_->store->ApplyConfig(config);
  impl_->handover->SetRate(config.handover_rate);
}

WorkerConfig Worker::config() const { return impl_->store->config(); }

wire::NodeStats Worker::Stats() const { return impl_->service->Stats(); }

WorkerSample Worker::Sample() const { return impl_->service->Sample(); }
const std::string& Worker::public_key() const { return impl_->public_key; }

Status Worker::ReloadAuthorizedKeys() {
  if (!impl_->auth) return Status::Ok();
  return impl_->auth->Reload();
}

void Worker::SetPeerKey(const std::string& endpoint, const std::string& key) {
  impl_->replicator->SetPeerKey(endpoint, key);
}

wire::LocalServeFn Worker::LocalServe() {
  return [gate = impl_->local](const std::vector<std::string_view>& frames) {
    return ServeLocal(*gate, frames);
  };
}

Status Worker::Impl::Leave(const wire::HandoverBody& body,
                           std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> l(leave_mu);
  if (leave.state.load() == LeaveProgress::kLeft) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Handover* h = handover.get();
  LeaveCopier copier(
      store.get(), replicator.get(), body, [h] { return h->rate(); }, &leave, log,
      deadline);
  SHOVEL_RETURN_IF_ERROR(copier.Check());
  Log(log::Level::kInfo,
      "leaving: copying the ids only this worker will no longer hold to their new "
      "holders");
  leave.state.store(LeaveProgress::kCopying);
  copier.Pass();
  // Serving no more: what is in flight finishes, then what changed
  // meanwhile is copied, while requests wait.
  server->Pause();
  while (counters.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  leave.state.store(LeaveProgress::kFinal);
  copier.Pass();
  server->Leave();
  leases->ReleaseAll();
  leave.state.store(LeaveProgress::kLeft);
  Log(log::Level::kInfo, "left: " + std::to_string(leave.copied.load()) + " copies (" +
                             std::to_string(leave.bytes.load()) +
                             " bytes) sent to the new holders, " +
                             std::to_string(leave.failed.load()) + " ids not copied");
  return Status::Ok();
}

Status Worker::Impl::StartDrain(const wire::HandoverBody& body) {
  {
    // Say at once what makes the plan impossible.
    LeaveCopier check(store.get(), replicator.get(), body, nullptr, &leave, nullptr, {});
    SHOVEL_RETURN_IF_ERROR(check.Check());
  }
  std::lock_guard<std::mutex> l(drain_mu);
  if (drain_thread.joinable()) return Status::Ok();  // draining already
  drain_thread = std::thread([this, body] {
    Status s = Leave(body, kDrainTimeout);
    if (!s.ok()) Log(log::Level::kError, "drain failed: " + s.message());
    std::this_thread::sleep_for(std::chrono::seconds(1));  // progress is read
    if (on_drained) on_drained();
  });
  return Status::Ok();
}

Status Worker::Leave(const wire::HandoverBody& body, std::chrono::milliseconds timeout) {
  return impl_->Leave(body, timeout);
}

wire::HandoverBody Worker::LeasePeers() const {
  wire::HandoverBody b;
  b.replicas = impl_->service->replicas_seen();
  b.target = impl_->server->endpoint();
  for (auto& [endpoint, node] : impl_->leases->Members()) {
    if (!node.empty()) b.members.push_back({node, endpoint});
  }
  return b;
}

void Worker::Join(const wire::HandoverBody& body) {
  if (body.replicas != 1 || body.members.size() < 2) return;
  auto plan = std::make_shared<Service::JoinPlan>();
  plan->self = SIZE_MAX;
  wire::HandoverBody ask = body;
  for (const auto& m : body.members) {
    if (m.node_id == impl_->node_id) {
      plan->self = plan->nodes.size();
      ask.target = m.endpoint;  // as the others reach it
    }
    plan->nodes.push_back(m.node_id);
    plan->endpoints.push_back(m.endpoint);
  }
  if (plan->self == SIZE_MAX) return;
  std::lock_guard<std::mutex> l(impl_->join_mu);
  if (impl_->stopping || impl_->join_thread.joinable()) return;
  impl_->service->SetJoining(plan);
  impl_->join_thread =
      std::thread([impl = impl_.get(), plan, ask] { impl->FollowJoin(*plan, ask); });
}

Status Worker::JoinPeers(const std::vector<std::string>& peers,
                         const std::string& self_endpoint) {
  wire::HandoverBody body;
  body.replicas = 1;
  body.target = self_endpoint;
  for (const auto& p : peers) {
    wire::Header h;
    h.op = wire::Op::kPing;
    auto a = impl_->replicator->Call(p, h, "", {}, std::chrono::milliseconds(2000));
    if (!a.ok()) return a.status().WithContext("--join");
    if (Status st = wire::ReplyStatus(wire::Reply{a->header, {a->message}}); !st.ok()) {
      return st.WithContext("--join: worker " + p);
    }
    if (a->message == impl_->node_id) {
      return Status::InvalidArgument("--join: worker " + p + " is this worker (node id " +
                                     a->message + ")");
    }
    body.members.push_back({a->message, p});
  }
  body.members.push_back({impl_->node_id, self_endpoint});
  Join(body);
  return Status::Ok();
}

void Worker::Impl::FollowJoin(const Service::JoinPlan& plan,
                              const wire::HandoverBody& ask) {
  const auto start = std::chrono::steady_clock::now();
  const std::string body = wire::EncodeHandover(ask);
  std::vector<std::string> others;
  for (size_t i = 0; i < plan.endpoints.size(); ++i) {
    if (i == plan.self) continue;
    wire::Header h;
    h.op = wire::Op::kHandover;
    auto a = replicator->Call(plan.endpoints[i], h, "", {body}, std::chrono::seconds(1));
    if (a.ok() && a->header.status == Code::kOk) others.push_back(plan.endpoints[i]);
  }
  // Done when every member that took the request has no job left (each
  // runs its jobs in order), checked every 200 ms after a first 500 ms.
  auto wait = [&](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(join_mu);
    return !join_cv.wait_for(l, d, [&] { return stopping; });
  };
  bool done = others.empty();
  for (bool go = wait(std::chrono::milliseconds(500)); go && !done;
       go = wait(std::chrono::milliseconds(200))) {
    if (std::chrono::steady_clock::now() - start > kJoinTimeout) break;
    done = true;
    for (const auto& e : others) {
      wire::Header h;
      h.op = wire::Op::kNodeStats;
      auto a = replicator->Call(e, h, "", {}, std::chrono::seconds(1));
      auto st = a.ok() && a->header.status == Code::kOk
                    ? wire::DecodeNodeStats(a->message)
                    : Result<wire::NodeStats>(Status::Unavailable(""));
      // A member that stopped answering hands nothing over any more.
      if (st.ok() && st->handover_jobs != 0) done = false;
    }
  }
  service->SetJoining(nullptr);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Log(done ? log::Level::kInfo : log::Level::kWarn,
      done ? "joined: " + std::to_string(others.size()) +
                 " workers handed over the ids that belong here in " +
                 std::to_string(static_cast<int>(secs * 1000)) + " ms"
           : "joining: stopped following the hand-overs after " +
                 std::to_string(static_cast<int>(secs)) + " s");
}

void Worker::Stop() {
  {
    std::thread t;
    {
      std::lock_guard<std::mutex> l(impl_->drain_mu);
      t = std::move(impl_->drain_thread);
    }
    if (t.joinable()) t.join();
  }
  {
    std::thread t;
    {
      std::lock_guard<std::mutex> l(impl_->join_mu);
      impl_->stopping = true;
      t = std::move(impl_->join_thread);
    }
    impl_->join_cv.notify_all();
    if (t.joinable()) t.join();
  }
  std::lock_guard<std::mutex> l(impl_->stop_mu);
  {
    std::unique_lock<std::shared_mutex> gate(impl_->local->mu);
    impl_->local->service = nullptr;
  }
  impl_->trimmer->Stop();
  impl_->evictions->Stop();
  impl_->server->Stop();
  // Serving no more: the others may serve in its place at once.
  impl_->leases->ReleaseAll();
}

}  // namespace shovel::worker
