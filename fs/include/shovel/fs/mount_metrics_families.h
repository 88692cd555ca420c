// A mount's metrics (mount_metrics.h) as Prometheus metric families, for
// shovelfs -o metrics=HOST:PORT, and the endpoint serving them (the
// worker's prometheus-cpp exposer). MountFamilies is pure;
// docs/operations.md lists each metric.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shovel/fs/mount_metrics.h"
#include "shovel/status.h"
#include "shovel/worker/metrics_endpoint.h"

namespace prometheus {
struct MetricFamily;
}

namespace shovel::fs {

std::vector<prometheus::MetricFamily> MountFamilies(const MountSample& s,
                                                    const std::string& mountpoint);

// Serves `metrics` (which must outlive the endpoint) at
// http://LISTEN/metrics; errors as worker::MetricsEndpoint::Start. With
// `embedded` (a mount's embedded worker, which must outlive the endpoint
// too) the same page has that worker's metrics (shovel_memory_used_bytes,
// shovel_evictions_total, ...) after the mount's.
Result<std::unique_ptr<worker::MetricsEndpoint>> StartMountMetrics(
    const std::string& listen, const MountMetrics* metrics, std::string mountpoint,
    worker::MetricsEndpoint::SampleFn embedded = nullptr);

}  // namespace shovel::fs
