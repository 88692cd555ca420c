// A real shovel-worker with --metrics-listen, scraped with curl: the metric
// names and types, and counters that move with the requests made (10
// evictions show as +10, a joiner's hand-over as the ids it got).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <regex>
#include <thread>

#include "random_bytes.h"
#include "shovel/client.h"
#include "worker_fixture.h"

namespace shovel {
namespace {

using test::RandomBytes;

// curl's output for `url` ("" when curl fails).
std::string Curl(const std::string& url) {
  std::string cmd = "curl -sS --max-time 5 '" + url + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[65536];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  return pclose(p) == 0 ? out : "";
}

// The value of the sample line `name` (with its labels, exactly), or -1.
double Value(const std::string& text, const std::string& name) {
  size_t pos = 0;
  while ((pos = text.find(name + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      return std::stod(text.substr(pos + name.size() + 1));
    }
    pos += name.size();
  }
  return -1;
}

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::WorkerProcess::Start("m1", "8MiB", "tcp://127.0.0.1:0",
                                           {"--metrics-listen", "127.0.0.1:0"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    worker_ = std::move(*w);
    ASSERT_EQ(worker_->metrics_url().rfind("http://127.0.0.1:", 0), 0u)
        << worker_->metrics_url();
    ClientOptions o;
    o.workers = {worker_->endpoint()};
    auto c = Client::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  std::unique_ptr<testing::WorkerProcess> worker_;
  std::unique_ptr<Client> client_;
};

TEST_F(MetricsEndpointTest, NamesAndTypesInTheTextFormat) {
  std::string t = Curl(worker_->metrics_url());
  ASSERT_FALSE(t.empty()) << "curl " << worker_->metrics_url() << " failed";
  for (const char* type : {
           "# TYPE shovel_requests_total counter",
           "# TYPE shovel_request_duration_seconds histogram",
           "# TYPE shovel_received_bytes_total counter",
           "# TYPE shovel_sent_bytes_total counter",
           "# TYPE shovel_cache_hits_total counter",
           "# TYPE shovel_cache_misses_total counter",
           "# TYPE shovel_evictions_total counter",
           "# TYPE shovel_evicted_bytes_total counter",
           "# TYPE shovel_memory_used_bytes gauge",
           "# TYPE shovel_memory_limit_bytes gauge",
           "# TYPE shovel_raw_bytes gauge",
           "# TYPE shovel_stored_bytes gauge",
           "# TYPE shovel_pinned_bytes gauge",
           "# TYPE shovel_compression_ratio gauge",
           "# TYPE shovel_ids gauge",
           "# TYPE shovel_requests_in_flight gauge",
           "# TYPE shovel_malformed_messages_total counter",
           "# TYPE shovel_build_info gauge",
       }) {
    EXPECT_NE(t.find(type), std::string::npos) << "missing " << type << "\n" << t;
  }
  EXPECT_EQ(Value(t, "shovel_memory_limit_bytes"), 8 << 20);
  EXPECT_NE(t.find("shovel_build_info{node_id=\"m1\""), std::string::npos) << t;
}

TEST_F(MetricsEndpointTest, CountersMoveWithRequests) {
  std::string before = Curl(worker_->metrics_url());
  ASSERT_FALSE(before.empty());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->Set("k" + std::to_string(i), std::string(1000, 'x')).ok());
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client_->Get("k1").ok());
  EXPECT_EQ(client_->Get("absent").status().code(), Code::kNotFound);
  std::string after = Curl(worker_->metrics_url());
  auto grew = [&](const std::string& name) {
    return Value(after, name) - std::max(0.0, Value(before, name));
  };
  EXPECT_EQ(grew("shovel_requests_total{op=\"set\",status=\"ok\"}"), 5) << after;
  EXPECT_EQ(grew("shovel_requests_total{op=\"get\",status=\"ok\"}"), 3) << after;
  EXPECT_EQ(grew("shovel_requests_total{op=\"get\",status=\"not_found\"}"), 1);
  EXPECT_EQ(grew("shovel_cache_hits_total"), 3);
  EXPECT_EQ(grew("shovel_cache_misses_total"), 1);
  EXPECT_EQ(grew("shovel_received_bytes_total"), 5000);
  EXPECT_EQ(grew("shovel_sent_bytes_total"), 3000);  // not the miss's error text
  EXPECT_EQ(grew("shovel_request_duration_seconds_count{op=\"set\"}"), 5);
  EXPECT_EQ(Value(after, "shovel_ids"), 5);
  EXPECT_EQ(Value(after, "shovel_raw_bytes"), 5000);
  // Written raw at first (compressed in the background a second later).
  EXPECT_GE(Value(after, "shovel_compression_ratio"), 1);
}

TEST_F(MetricsEndpointTest, TenEvictionsShowAsTen) {
  // Fill the 8 MiB worker with 1 MiB values that do not compress; from then
  // on each new one evicts exactly one (they are all charged the same).
  const std::string value = RandomBytes(1 << 20, 1);
  int i = 0;
  for (;; ++i) {
    ASSERT_TRUE(client_->Set("fill" + std::to_string(i), value).ok());
    auto m = client_->Members();
    ASSERT_TRUE(m.ok());
    if ((*m)[0].evictions > 0) break;
    ASSERT_LT(i, 20) << "no eviction after 20 MiB into 8 MiB";
  }
  std::string before = Curl(worker_->metrics_url());
  for (int k = 0; k < 10; ++k) {
    ASSERT_TRUE(client_->Set("more" + std::to_string(k), value).ok());
  }
  std::string after = Curl(worker_->metrics_url());
  EXPECT_EQ(
      Value(after, "shovel_evictions_total") - Value(before, "shovel_evictions_total"),
      10)
      << after;
  double evicted = Value(after, "shovel_evicted_bytes_total") -
                   Value(before, "shovel_evicted_bytes_total");
  EXPECT_GE(evicted, 10.0 * (1 << 20));
  EXPECT_LT(evicted, 11.0 * (1 << 20));
  EXPECT_LE(Value(after, "shovel_memory_used_bytes"), 8 << 20);
  // The client library no longer drops them: NODE_STATS says the same.
  auto m = client_->Members();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(static_cast<double>((*m)[0].evictions),
            Value(after, "shovel_evictions_total"));
  EXPECT_EQ(static_cast<double>((*m)[0].counters.at("evicted_bytes")),
            Value(after, "shovel_evicted_bytes_total"));
}

TEST_F(MetricsEndpointTest, ConnectionsOpenAndClose) {
  ASSERT_TRUE(client_->Set("c", "v").ok());
  std::string t = Curl(worker_->metrics_url());
  EXPECT_GE(Value(t, "shovel_connections"), 1) << t;
  client_.reset();  // closes its sockets
  double open = -1;
  for (int i = 0; i < 50 && open != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    open = Value(Curl(worker_->metrics_url()), "shovel_connections");
  }
  EXPECT_EQ(open, 0);
}

// A worker joining (shovel-worker --join): the worker it joins hands over
// the ids that now belong to the joiner, and its hand-over metrics count
// them: as many ids as the joiner then holds, and their bytes.
TEST_F(MetricsEndpointTest, HandOverProgressCountsTheIdsCopied) {
  constexpr int kIds = 60;
  constexpr size_t kSize = 1000;
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(client_->Set("h" + std::to_string(i), std::string(kSize, 'h')).ok());
  }
  std::string before = Curl(worker_->metrics_url());
  EXPECT_EQ(Value(before, "shovel_handover_ids_total"), 0) << before;
  EXPECT_EQ(Value(before, "shovel_handovers_in_progress"), 0);
  EXPECT_EQ(Value(before, "shovel_leave_state"), 0);
  for (const char* type :
       {"# TYPE shovel_handover_ids_total counter",
        "# TYPE shovel_handover_bytes_total counter",
        "# TYPE shovel_handovers_in_progress gauge", "# TYPE shovel_leave_state gauge"}) {
    EXPECT_NE(before.find(type), std::string::npos) << "missing " << type;
  }
  auto joiner = testing::WorkerProcess::Start("j1", "64MiB", "tcp://127.0.0.1:0",
                                              {"--join", worker_->endpoint()});
  ASSERT_TRUE(joiner.ok()) << joiner.status().ToString();
  ClientOptions o;
  o.workers = {(*joiner)->endpoint()};
  auto to_joiner = Client::Connect(o);
  ASSERT_TRUE(to_joiner.ok()) << to_joiner.status().ToString();
  std::string after;
  double copied = 0, held = -1;
  for (int i = 0; i < 100; ++i) {
    after = Curl(worker_->metrics_url());
    copied = Value(after, "shovel_handover_ids_total");
    auto m = (*to_joiner)->Members();
    if (m.ok()) {
      for (const auto& n : *m) {
        if (n.node_id == "j1") held = static_cast<double>(n.ids);
      }
    }
    if (copied > 0 && copied == held && Value(after, "shovel_handovers_in_progress") == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(copied, 0) << after;
  EXPECT_LT(copied, kIds) << "the joiner takes a share, not all";
  EXPECT_EQ(copied, held) << "ids copied vs ids the joiner holds";
  EXPECT_GE(Value(after, "shovel_handover_bytes_total"), copied * kSize);
  EXPECT_EQ(Value(after, "shovel_handovers_in_progress"), 0);
  EXPECT_EQ(Value(after, "shovel_leave_state"), 0);
}

TEST(MetricsListenFlag, BadAddressIsAUsageError) {
  auto w = testing::WorkerProcess::Start("bad", "8MiB", "tcp://127.0.0.1:0",
                                         {"--metrics-listen", "9464"});
  EXPECT_FALSE(w.ok());
}

}  // namespace
}  // namespace shovel
