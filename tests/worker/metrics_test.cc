// The worker's metrics core: lock-free request counters, the named counters
// NODE_STATS carries, and the Prometheus families as the text format shows
// them (prometheus-cpp's serializer, no HTTP).
#include "shovel/worker/metrics.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <thread>

#include "shovel/worker/metrics_endpoint.h"

namespace shovel::worker {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

std::string Text(const WorkerSample& s) {
  return prometheus::TextSerializer().Serialize(PrometheusFamilies(s));
}

TEST(RequestCounters, CountsByOpStatusAndLatencyBucket) {
  RequestCounters c;
  c.Record(wire::Op::kGet, Code::kOk, 0, 100, microseconds(30));
  c.Record(wire::Op::kGet, Code::kOk, 0, 50, microseconds(700));
  c.Record(wire::Op::kGet, Code::kNotFound, 0, 0, milliseconds(2));
  c.Record(wire::Op::kSet, Code::kNoSpace, 1000, 0, std::chrono::seconds(10));
  RequestSample s = c.Sample();
  const OpSample& get = s.ops[static_cast<size_t>(wire::Op::kGet)];
  EXPECT_EQ(get.count, 3u);
  EXPECT_EQ(get.by_status[0], 2u);
  EXPECT_EQ(s.hits(), 2u);
  EXPECT_EQ(s.misses(), 1u);
  EXPECT_EQ(get.buckets[0], 1u);  // <= 50 us
  EXPECT_EQ(get.buckets[4], 1u);  // (0.5 ms, 1 ms]
  EXPECT_EQ(get.buckets[5], 1u);  // (1 ms, 2.5 ms]
  EXPECT_EQ(get.sum_ns, 30'000u + 700'000u + 2'000'000u);
  const OpSample& set = s.ops[static_cast<size_t>(wire::Op::kSet)];
  EXPECT_EQ(set.buckets.back(), 1u);  // past the last bound: +Inf
  EXPECT_EQ(s.bytes_in, 1000u);
  EXPECT_EQ(s.bytes_out, 150u);
}

TEST(RequestCounters, ManyThreadsLoseNothing) {
  RequestCounters c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) {
        c.Record(wire::Op::kGet, Code::kOk, 1, 2, microseconds(1));
      }
    });
  }
  for (auto& t : threads) t.join();
  RequestSample s = c.Sample();
  EXPECT_EQ(s.hits(), 40000u);
  EXPECT_EQ(s.bytes_in, 40000u);
  EXPECT_EQ(s.bytes_out, 80000u);
}

TEST(MetricsLabels, AreSnakeCase) {
  EXPECT_EQ(OpLabel(wire::Op::kUploadData), "upload_data");
  EXPECT_EQ(OpLabel(wire::Op::kGet), "get");
  EXPECT_EQ(StatusLabel(Code::kOk), "ok");
  EXPECT_EQ(StatusLabel(Code::kNotFound), "not_found");
  EXPECT_EQ(StatusLabel(Code::kInternal), "internal");
}

WorkerSample Sample() {
  RequestCounters c;
  c.Record(wire::Op::kGet, Code::kOk, 0, 10, microseconds(80));
  c.Record(wire::Op::kGet, Code::kNotFound, 0, 0, microseconds(80));
  c.Record(wire::Op::kSet, Code::kOk, 4096, 0, microseconds(300));
  WorkerSample s;
  s.node_id = "w1";
  s.requests = c.Sample();
  s.evictions = 10;
  s.evicted_bytes = 10 << 20;
  s.mem_used = 7 << 20;
  s.mem_limit = 8 << 20;
  s.raw_bytes = 3000;
  s.stored_bytes = 1000;
  s.ids = 7;
  s.malformed = 2;
  return s;
}

TEST(PrometheusFamilies, TextFormatHasEveryMetricWithItsType) {
  std::string t = Text(Sample());
  for (const char* line : {
           "# TYPE shovel_requests_total counter",
           "shovel_requests_total{op=\"get\",status=\"ok\"} 1",
           "shovel_requests_total{op=\"get\",status=\"not_found\"} 1",
           "shovel_requests_total{op=\"set\",status=\"ok\"} 1",
           "# TYPE shovel_request_duration_seconds histogram",
           "shovel_request_duration_seconds_bucket{op=\"get\",le=\"0.0001\"} 2",
           "shovel_request_duration_seconds_bucket{op=\"get\",le=\"+Inf\"} 2",
           "shovel_request_duration_seconds_count{op=\"set\"} 1",
           "# TYPE shovel_received_bytes_total counter",
           "shovel_received_bytes_total 4096",
           "shovel_sent_bytes_total 10",
           "shovel_cache_hits_total 1",
           "shovel_cache_misses_total 1",
           "# TYPE shovel_evictions_total counter",
           "shovel_evictions_total 10",
           "shovel_evicted_bytes_total 10485760",
           "# TYPE shovel_memory_used_bytes gauge",
           "shovel_memory_used_bytes 7340032",
           "shovel_memory_limit_bytes 8388608",
           "shovel_raw_bytes 3000",
           "shovel_stored_bytes 1000",
           "shovel_pinned_bytes 0",
           "shovel_compression_ratio 3",
           "shovel_ids 7",
           "shovel_uploads 0",
           "shovel_requests_in_flight 0",
           "shovel_malformed_messages_total 2",
           "shovel_build_info{node_id=\"w1\",version=\"",
       }) {
    EXPECT_NE(t.find(line), std::string::npos) << "missing: " << line << "\n" << t;
  }
  // Without Consul there is no Consul gauge; with it, 0 or 1.
  EXPECT_EQ(t.find("shovel_consul_registered"), std::string::npos);
  WorkerSample s = Sample();
  s.consul_registered = 1;
  EXPECT_NE(Text(s).find("shovel_consul_registered 1"), std::string::npos);
  // An empty store compresses nothing: ratio 1, not a division by zero.
  EXPECT_NE(Text(WorkerSample{}).find("shovel_compression_ratio 1"), std::string::npos);
}

TEST(NamedCounters, AreWhatNodeStatsCarries) {
  auto n = NamedCounters(Sample());
  EXPECT_EQ(n["requests.get"], 2u);
  EXPECT_EQ(n["requests.set"], 1u);
  EXPECT_EQ(n.count("requests.append"), 0u);  // none served: not listed
  EXPECT_EQ(n["hits"], 1u);
  EXPECT_EQ(n["misses"], 1u);
  EXPECT_EQ(n["errors"], 0u);  // not found is an answer, not an error
  EXPECT_EQ(n["bytes_in"], 4096u);
  EXPECT_EQ(n["evictions"], 10u);
  EXPECT_EQ(n["evicted_bytes"], 10u << 20);
  EXPECT_EQ(n["raw_bytes"], 3000u);
}

TEST(RequestCounters, RefusalsReachNodeStatsAndPrometheus) {
  RequestCounters c;
  c.CountBusy();
  c.CountBusy();
  c.CountDisconnected();
  for (int i = 0; i < 3; ++i) c.CountRefusedConnection();
  WorkerSample s;
  s.requests = c.Sample();
  auto n = NamedCounters(s);
  EXPECT_EQ(n["busy"], 2u);
  EXPECT_EQ(n["disconnected"], 1u);
  EXPECT_EQ(n["refused_connections"], 3u);
  // Through the NODE_STATS codec: the counters map carries them as is.
  wire::NodeStats ns;
  ns.counters = n;
  auto back = wire::DecodeNodeStats(wire::EncodeNodeStats(ns));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->counters.at("refused_connections"), 3u);
  EXPECT_EQ(back->counters.at("busy"), 2u);
  const std::string t = Text(s);
  EXPECT_NE(t.find("shovel_busy_replies_total 2"), std::string::npos) << t;
  EXPECT_NE(t.find("shovel_disconnects_total 1"), std::string::npos) << t;
  EXPECT_NE(t.find("shovel_refused_connections_total 3"), std::string::npos) << t;
}

TEST(MetricsEndpoint, RefusesAnAddressThatIsNotHostPort) {
  for (const char* bad : {"9464", "localhost", ":9464", "host:", "h:99999", "h:x"}) {
    auto e = MetricsEndpoint::Start(bad, [] { return WorkerSample{}; });
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(e.status().message().find("is not HOST:PORT"), std::string::npos);
  }
}

}  // namespace
}  // namespace shovel::worker
