#include "shovel/worker/metrics.h"

#include <algorithm>
#include <cctype>

namespace shovel::worker {
namespace {

size_t BucketOf(std::chrono::nanoseconds took) {
  const double s = std::chrono::duration<double>(took).count();
  size_t i = 0;
  while (i < kLatencyBuckets.size() && s > kLatencyBuckets[i]) ++i;
  return i;
}

std::string Snake(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

uint64_t RequestSample::hits() const {
  return ops[static_cast<size_t>(wire::Op::kGet)].by_status[0];
}

uint64_t RequestSample::misses() const {
  return ops[static_cast<size_t>(wire::Op::kGet)]
      .by_status[static_cast<size_t>(Code::kNotFound)];
}

void RequestCounters::Record(wire::Op op, Code status, uint64_t bytes_in,
                             uint64_t bytes_out, std::chrono::nanoseconds took) {
  const size_t o = static_cast<size_t>(op);
  const size_t c = static_cast<size_t>(status);
  if (o >= kMetricOps || c >= kMetricCodes) return;  // decoded: never
  Op& m = ops_[o];
  m.by_status[c].fetch_add(1, std::memory_order_relaxed);
  m.buckets[BucketOf(took)].fetch_add(1, std::memory_order_relaxed);
  m.sum_ns.fetch_add(static_cast<uint64_t>(std::max<int64_t>(took.count(), 0)),
                     std::memory_order_relaxed);
  if (bytes_in) bytes_in_.fetch_add(bytes_in, std::memory_order_relaxed);
  if (bytes_out) bytes_out_.fetch_add(bytes_out, std::memory_order_relaxed);
}

RequestSample RequestCounters::Sample() const {
  RequestSample s;
  for (size_t o = 0; o < kMetricOps; ++o) {
    const Op& m = ops_[o];
    OpSample& out = s.ops[o];
    for (size_t c = 0; c < kMetricCodes; ++c) {
      out.by_status[c] = m.by_status[c].load(std::memory_order_relaxed);
    }
    for (size_t b = 0; b < out.buckets.size(); ++b) {
      out.buckets[b] = m.buckets[b].load(std::memory_order_relaxed);
      out.count += out.buckets[b];
    }
    out.sum_ns = m.sum_ns.load(std::memory_order_relaxed);
  }
  s.bytes_in = bytes_in_.load(std::memory_order_relaxed);
  s.bytes_out = bytes_out_.load(std::memory_order_relaxed);
  s.busy = busy_.load(std::memory_order_relaxed);
  s.disconnected = disconnected_.load(std::memory_order_relaxed);
  s.refused_connections = refused_.load(std::memory_order_relaxed);
  return s;
}

std::string OpLabel(wire::Op op) { return Snake(wire::OpName(op)); }

std::string StatusLabel(Code code) {
  if (code == Code::kInternal) return "internal";
  if (code == Code::kProtocol) return "protocol";
  return Snake(CodeName(code));
}

std::map<std::string, uint64_t> NamedCounters(const WorkerSample& s) {
  std::map<std::string, uint64_t> out;
  uint64_t errors = 0;
  for (size_t o = 0; o < kMetricOps; ++o) {
    const OpSample& op = s.requests.ops[o];
    if (op.count) out["requests." + OpLabel(static_cast<wire::Op>(o))] = op.count;
    for (size_t c = 0; c < kMetricCodes; ++c) {
      auto code = static_cast<Code>(c);
      if (code != Code::kOk && code != Code::kNotFound && code != Code::kRedirect) {
        errors += op.by_status[c];
      }
    }
  }
  out["errors"] = errors;
  out["hits"] = s.requests.hits();
  out["misses"] = s.requests.misses();
  out["bytes_in"] = s.requests.bytes_in;
  out["bytes_out"] = s.requests.bytes_out;
  out["evictions"] = s.evictions;
  out["evicted_bytes"] = s.evicted_bytes;
  out["raw_bytes"] = s.raw_bytes;
  out["stored_bytes"] = s.stored_bytes;
  out["decoded_cache_hits"] = s.decoded_hits;
  out["decoded_cache_misses"] = s.decoded_misses;
  out["decoded_cache_bytes"] = s.decoded_bytes;
  out["decoded_cache_capacity"] = s.decoded_capacity;
  out["uploads"] = s.uploads;
  out["in_flight"] = static_cast<uint64_t>(std::max<int64_t>(s.in_flight, 0));
  out["connections"] = static_cast<uint64_t>(std::max<int64_t>(s.connections, 0));
  out["busy"] = s.requests.busy;
  out["disconnected"] = s.requests.disconnected;
  out["refused_connections"] = s.requests.refused_connections;
  return out;
}

}  // namespace shovel::worker
