// Building blocks for prometheus-cpp metric families, shared by the worker's
// (metrics_endpoint.cc) and a mount's (fs/src/mount_metrics_families.cc).
// Pure functions; header-only so each user links prometheus-cpp::core itself.
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace shovel::worker::prom {

// A family with no metrics yet.
inline prometheus::MetricFamily Family(std::string name, std::string help,
                                       prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

// A family of one unlabelled counter (type kCounter) or gauge (any other).
inline prometheus::MetricFamily One(std::string name, std::string help,
                                    prometheus::MetricType type, double v) {
  prometheus::MetricFamily f = Family(std::move(name), std::move(help), type);
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
  return f;
}

// A histogram of `count` samples summing to `sum_ns` nanoseconds (exposed in
// seconds). `buckets` holds each bucket's own count, not cumulative, for the
// upper bounds `bounds` (seconds) and then +Inf; a bucket past the end of
// `bounds` gets +Inf.
inline prometheus::ClientMetric Histogram(
    std::vector<prometheus::ClientMetric::Label> labels, uint64_t count, uint64_t sum_ns,
    std::span<const uint64_t> buckets, std::span<const double> bounds) {
  prometheus::ClientMetric h;
  h.label = std::move(labels);
  h.histogram.sample_count = count;
  h.histogram.sample_sum = static_cast<double>(sum_ns) / 1e9;
  uint64_t cumulative = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    cumulative += buckets[b];
    prometheus::ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound =
        b < bounds.size() ? bounds[b] : std::numeric_limits<double>::infinity();
    h.histogram.bucket.push_back(bucket);
  }
  return h;
}

}  // namespace shovel::worker::prom
