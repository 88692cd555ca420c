#include "shovel/fs/mount_metrics_families.h"

#include <prometheus/metric_family.h>

#include "shovel/worker/prometheus_families.h"

namespace shovel::fs {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
namespace prom = worker::prom;
using prom::Family;

MetricFamily Counter(std::string name, std::string help, uint64_t v) {
  return prom::One(std::move(name), std::move(help), MetricType::Counter,
                   static_cast<double>(v));
}

}  // namespace

std::vector<MetricFamily> MountFamilies(const MountSample& s,
                                        const std::string& mountpoint) {
  std::vector<MetricFamily> out;
  {
    MetricFamily info =
        Family("shovel_mount_info", "Always 1; the label says which mount point.",
               MetricType::Gauge);
    ClientMetric m;
    m.label = {{"mountpoint", mountpoint}};
    m.gauge.value = 1;
    info.metric.push_back(std::move(m));
    out.push_back(std::move(info));
  }
  MetricFamily total =
      Family("shovel_fuse_operations_total", "FUSE requests answered, by operation.",
             MetricType::Counter);
  MetricFamily latency =
      Family("shovel_fuse_operation_duration_seconds",
             "Time from a FUSE request's arrival to its reply, by operation.",
             MetricType::Histogram);
  for (size_t o = 0; o < kFuseOps; ++o) {
    const FuseOpSample& op = s.ops[o];
    if (op.count == 0) continue;
    const std::string name(FuseOpName(static_cast<FuseOp>(o)));
    ClientMetric c;
    c.label = {{"op", name}};
    c.counter.value = static_cast<double>(op.count);
    total.metric.push_back(std::move(c));
    latency.metric.push_back(prom::Histogram({{"op", name}}, op.count, op.sum_ns,
                                             op.buckets, kFuseLatencyBuckets));
  }
  out.push_back(std::move(total));
  out.push_back(std::move(latency));
  out.push_back(Counter("shovel_fuse_read_bytes_total",
                        "Bytes returned to reads through the mount.", s.read_bytes));
  out.push_back(Counter("shovel_fuse_written_bytes_total",
                        "Bytes taken from writes through the mount.", s.written_bytes));
  out.push_back(Counter("shovel_fuse_page_cache_kept_total",
                        "Opens that kept the kernel's cached pages (version unchanged).",
                        s.cache_kept));
  out.push_back(Counter("shovel_fuse_page_cache_dropped_total",
                        "Opens that dropped the kernel's cached pages (changed or new).",
                        s.cache_dropped));
  MetricFamily errors =
      Family("shovel_fuse_errors_total", "FUSE replies with an error, by errno.",
             MetricType::Counter);
  for (const auto& [e, n] : s.errors) {
    ClientMetric m;
    m.label = {{"errno", ErrnoName(e)}};
    m.counter.value = static_cast<double>(n);
    errors.metric.push_back(std::move(m));
  }
  out.push_back(std::move(errors));
  return out;
}

Result<std::unique_ptr<worker::MetricsEndpoint>> StartMountMetrics(
    const std::string& listen, const MountMetrics* metrics, std::string mountpoint,
    worker::MetricsEndpoint::SampleFn embedded) {
  return worker::MetricsEndpoint::StartFamilies(
      listen, [metrics, point = std::move(mountpoint), embedded = std::move(embedded)] {
        std::vector<prometheus::MetricFamily> out =
            MountFamilies(metrics->Sample(), point);
        if (embedded) {
          for (auto& f : worker::PrometheusFamilies(embedded()))
            out.push_back(std::move(f));
        }
        return out;
      });
}

}  // namespace shovel::fs
