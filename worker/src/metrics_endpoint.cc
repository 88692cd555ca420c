#include "shovel/worker/metrics_endpoint.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <exception>

#include "shovel/worker/prometheus_families.h"

namespace shovel::worker {
namespace {

using prom::Family;
using prom::One;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void AddRequests(const RequestSample& r, std::vector<MetricFamily>& out) {
  MetricFamily total =
      Family("shovel_requests_total", "Requests answered, by operation and reply status.",
             MetricType::Counter);
  MetricFamily latency = Family(
      "shovel_request_duration_seconds",
      "Time from decoding a request to its reply, by operation.", MetricType::Histogram);
  for (size_t o = 0; o < kMetricOps; ++o) {
    const OpSample& op = r.ops[o];
    if (op.count == 0) continue;
    const std::string name = OpLabel(static_cast<wire::Op>(o));
    for (size_t c = 0; c < kMetricCodes; ++c) {
      if (op.by_status[c] == 0) continue;
      ClientMetric m;
      m.label = {{"op", name}, {"status", StatusLabel(static_cast<Code>(c))}};
      m.counter.value = static_cast<double>(op.by_status[c]);
      total.metric.push_back(std::move(m));
    }
    latency.metric.push_back(prom::Histogram({{"op", name}}, op.count, op.sum_ns,
                                             op.buckets, kLatencyBuckets));
  }
  out.push_back(std::move(total));
  out.push_back(std::move(latency));
  out.push_back(One("shovel_received_bytes_total",
                    "Payload bytes received in requests (values written).",
                    MetricType::Counter, static_cast<double>(r.bytes_in)));
  out.push_back(One("shovel_sent_bytes_total",
                    "Payload bytes sent in replies (values read).", MetricType::Counter,
                    static_cast<double>(r.bytes_out)));
  out.push_back(One("shovel_busy_replies_total",
                    "Requests answered \"busy\": their connection was not taking its "
                    "replies.",
                    MetricType::Counter, static_cast<double>(r.busy)));
  out.push_back(One("shovel_disconnects_total",
                    "Connections the worker closed: replies stuck past stuck-timeout, or "
                    "idle past idle-timeout.",
                    MetricType::Counter, static_cast<double>(r.disconnected)));
  out.push_back(One("shovel_refused_connections_total",
                    "Connections closed at once past max-connections.",
                    MetricType::Counter, static_cast<double>(r.refused_connections)));
  out.push_back(One("shovel_cache_hits_total", "GETs answered with data.",
                    MetricType::Counter, static_cast<double>(r.hits())));
  out.push_back(One("shovel_cache_misses_total",
                    "GETs of an id this worker does not hold.", MetricType::Counter,
                    static_cast<double>(r.misses())));
}

}  // namespace

std::vector<MetricFamily> PrometheusFamilies(const WorkerSample& s) {
  std::vector<MetricFamily> out;
  {
    MetricFamily info =
        Family("shovel_build_info", "Always 1; the labels say which worker and version.",
               MetricType::Gauge);
    ClientMetric m;
    m.label = {{"node_id", s.node_id}, {"version", std::string(SHOVEL_METRICS_VERSION)}};
    m.gauge.value = 1;
    info.metric.push_back(std::move(m));
    out.push_back(std::move(info));
  }
  AddRequests(s.requests, out);
  auto gauge = [&](const char* name, const char* help, double v) {
    out.push_back(One(name, help, MetricType::Gauge, v));
  };
  auto counter = [&](const char* name, const char* help, double v) {
    out.push_back(One(name, help, MetricType::Counter, v));
  };
  counter("shovel_evictions_total", "Unpinned ids evicted to make room.",
          static_cast<double>(s.evictions));
  counter("shovel_evicted_bytes_total",
          "Memory given back by evictions (stored + overhead).",
          static_cast<double>(s.evicted_bytes));
  gauge("shovel_memory_used_bytes", "Memory charged: stored bytes plus overhead.",
        static_cast<double>(s.mem_used));
  gauge("shovel_memory_limit_bytes", "The worker's max-memory.",
        static_cast<double>(s.mem_limit));
  gauge("shovel_raw_bytes", "Sum of the sizes of the blobs held.",
        static_cast<double>(s.raw_bytes));
  gauge("shovel_stored_bytes", "What the blobs held take in memory, compressed.",
        static_cast<double>(s.stored_bytes));
  gauge("shovel_pinned_bytes", "Memory charged for pinned ids (never evicted).",
        static_cast<double>(s.pinned_bytes));
  gauge("shovel_compression_ratio", "raw_bytes / stored_bytes (1 when empty).",
        s.stored_bytes == 0
            ? 1.0
            : static_cast<double>(s.raw_bytes) / static_cast<double>(s.stored_bytes));
  counter("shovel_decoded_cache_hits_total",
          "Reads of compressed chunks served from the decoded-chunk cache.",
          static_cast<double>(s.decoded_hits));
  counter("shovel_decoded_cache_misses_total",
          "Reads of compressed chunks the decoded-chunk cache did not hold.",
          static_cast<double>(s.decoded_misses));
  gauge("shovel_decoded_cache_bytes",
        "Decompressed bytes the decoded-chunk cache holds (part of memory used).",
        static_cast<double>(s.decoded_bytes));
  gauge("shovel_decoded_cache_capacity_bytes", "What the decoded-chunk cache may hold.",
        static_cast<double>(s.decoded_capacity));
  gauge("shovel_ids", "Ids held.", static_cast<double>(s.ids));
  gauge("shovel_uploads", "Streamed writes open (begun, not committed).",
        static_cast<double>(s.uploads));
  gauge("shovel_requests_in_flight",
        "Requests dispatched to the handler lanes and not yet answered (queue depth).",
        static_cast<double>(s.in_flight));
  gauge("shovel_connections", "TCP connections open to the worker (clients and peers).",
        static_cast<double>(s.connections));
  counter("shovel_malformed_messages_total",
          "Messages that failed to decode (dropped or answered with an error).",
          static_cast<double>(s.malformed));
  counter("shovel_handover_ids_total",
          "Ids copied to other workers by hand-overs: to joining workers and in this "
          "worker's leave.",
          static_cast<double>(s.handover_ids));
  counter("shovel_handover_bytes_total", "Bytes those hand-over copies sent.",
          static_cast<double>(s.handover_bytes));
  gauge("shovel_handovers_in_progress",
        "Hand-overs running: to joining workers, and this worker's leave.",
        static_cast<double>(s.handover_jobs));
  gauge("shovel_leave_state",
        "This worker's leave: 0 not leaving, 1 copying, 2 final pass, 3 left.",
        static_cast<double>(s.leave_state));
  if (s.consul_registered >= 0) {
    gauge("shovel_consul_registered",
          "1 while the worker is registered with its Consul agent, 0 while not.",
          static_cast<double>(s.consul_registered));
  }
  return out;
}

class MetricsEndpoint::Collector : public prometheus::Collectable {
 public:
  explicit Collector(FamiliesFn families) : families_(std::move(families)) {}
  std::vector<MetricFamily> Collect() const override { return families_(); }

 private:
  const FamiliesFn families_;
};

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& listen,
                                                                SampleFn sample) {
  return StartFamilies(
      listen, [sample = std::move(sample)] { return PrometheusFamilies(sample()); });
}

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::StartFamilies(
    const std::string& listen, FamiliesFn families) {
  size_t colon = listen.rfind(':');
  const std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return Status::InvalidArgument("metrics-listen '" + listen +
                                   "' is not HOST:PORT (e.g. 0.0.0.0:9464; port 0 picks "
                                   "a free one)");
  }
  std::unique_ptr<MetricsEndpoint> e(new MetricsEndpoint);
  try {
    // Two threads: a scrape never waits behind another for long.
    e->exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& ex) {
    return Status::Unavailable("metrics-listen " + listen + ": cannot listen there (" +
                               ex.what() + ")");
  }
  e->collector_ = std::make_shared<Collector>(std::move(families));
  e->exposer_->RegisterCollectable(e->collector_);
  auto ports = e->exposer_->GetListeningPorts();
  e->port_ = ports.empty() ? 0 : ports[0];
  std::string shown = host == "0.0.0.0" || host == "[::]" ? "127.0.0.1" : host;
  e->url_ = "http://" + shown + ":" + std::to_string(e->port_) + "/metrics";
  return e;
}

MetricsEndpoint::~MetricsEndpoint() {
  exposer_.reset();  // stops the threads that may call the collector
}

}  // namespace shovel::worker
