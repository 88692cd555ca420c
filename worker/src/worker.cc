#include "shovel/worker/worker.h"

#include <malloc.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <thread>

#include "server.h"
#include "service.h"
#include "shovel/worker/store.h"

namespace shovel::worker {
namespace {

// Keeps freed chunk memory in the heap for reuse instead of returning it to
// the OS after every blob (first touch of fresh pages is several times slower
// than warm memory): chunk-sized blocks come from the heap, not mmap, and the
// heap is not trimmed. Process-wide, idempotent.
void TuneAllocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
  });
}

std::string DefaultNodeId(const std::string& endpoint) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "worker");
  size_t colon = endpoint.rfind(':');
  return std::string(host) + "-" +
         (colon == std::string::npos ? "0" : endpoint.substr(colon + 1));
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
  return Status::Ok();
}

struct Worker::Impl {
  ServiceCounters counters;
  std::unique_ptr<Store> store;
  std::unique_ptr<Service> service;
  std::unique_ptr<Server> server;
  std::string node_id;
  std::mutex stop_mu;
};

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() { Stop(); }

Result<std::unique_ptr<Worker>> Worker::Start(const WorkerOptions& o) {
  WorkerConfig config{o.max_memory, o.compression_level, o.chunk_size, o.eviction};
  SHOVEL_RETURN_IF_ERROR(ValidateConfig(config));
  if (o.threads < 0 || o.threads > 256) {
    return Status::InvalidArgument("threads must be 0 (one per core) to 256");
  }
  TuneAllocator();
  auto impl = std::make_unique<Impl>();
  SHOVEL_ASSIGN_OR_RETURN(impl->server, Server::Bind(o.listen));
  impl->node_id = o.node_id.empty() ? DefaultNodeId(impl->server->endpoint()) : o.node_id;
  impl->store = std::make_unique<Store>(impl->node_id, config);
  impl->store->CompressInBackground(true);
  impl->service = std::make_unique<Service>(impl->store.get(), &impl->counters,
                                            impl->server->endpoint());
  int threads =
      o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 2;
  SHOVEL_RETURN_IF_ERROR(impl->server->Start(impl->service.get(), impl->store.get(),
                                             &impl->counters, threads));
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

const std::string& Worker::endpoint() const { return impl_->server->endpoint(); }
const std::string& Worker::node_id() const { return impl_->node_id; }

void Worker::ApplyConfig(const WorkerConfig& config) {
  if (!ValidateConfig(config).ok()) return;
  impl_->store->ApplyConfig(config);
}

WorkerConfig Worker::config() const { return impl_->store->config(); }

wire::NodeStats Worker::Stats() const { return impl_->service->Stats(); }

void Worker::Stop() {
  std::lock_guard<std::mutex> l(impl_->stop_mu);
  impl_->server->Stop();
}

}  // namespace shovel::worker
