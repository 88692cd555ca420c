// The Prometheus side of a worker's metrics (metrics.h): the metric
// families of one WorkerSample (pure, unit-tested through prometheus-cpp's
// text serializer) and an HTTP endpoint serving them in the Prometheus text
// format at /metrics, with prometheus-cpp's pull Exposer (civetweb); no
// HTTP server of ours. docs/operations.md lists every metric. Library
// shovel_worker_metrics (the worker binary and shovelfs link it).
//
// Thread-safety: PrometheusFamilies is pure. MetricsEndpoint calls `sample`
// on the exposer's threads (one scrape at a time or several at once: it must
// be thread-safe); destroying the endpoint stops them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shovel/status.h"
#include "shovel/worker/metrics.h"

namespace prometheus {
class Exposer;
struct MetricFamily;
}  // namespace prometheus

namespace shovel::worker {

std::vector<prometheus::MetricFamily> PrometheusFamilies(const WorkerSample& s);

class MetricsEndpoint {
 public:
  using SampleFn = std::function<WorkerSample()>;
  // Listens on `listen` ("HOST:PORT"; port 0 picks one). kInvalidArgument
  // for an address that is not HOST:PORT, kUnavailable when it cannot be
  // bound (the message names it and the cause).
  static Result<std::unique_ptr<MetricsEndpoint>> Start(const std::string& listen,
                                                        SampleFn sample);
  // The same endpoint for other metric families (a mount's, shovelfs -o
  // metrics=): `families` is called on each scrape, on the exposer's threads.
  using FamiliesFn = std::function<std::vector<prometheus::MetricFamily>()>;
  static Result<std::unique_ptr<MetricsEndpoint>> StartFamilies(const std::string& listen,
                                                                FamiliesFn families);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  int port() const { return port_; }
  // http://HOST:PORT/metrics
  const std::string& url() const { return url_; }

 private:
  MetricsEndpoint() = default;
  class Collector;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  std::string url_;
};

}  // namespace shovel::worker
