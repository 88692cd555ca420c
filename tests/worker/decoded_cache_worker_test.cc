// A real shovel-worker with its decoded-chunk cache on: every write through
// the client is seen by the next read, whether the bytes came from the
// cache or from zstd, and the cache's counters show in NODE_STATS.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "shovel/client.h"
#include "worker_fixture.h"

namespace shovel {
namespace {

std::string Text(size_t n, int seed) {
  std::string s;
  while (s.size() < n) {
    s += "line " + std::to_string(seed) + " of the text: " + std::to_string(s.size()) +
         "\n";
  }
  s.resize(n);
  return s;
}

class DecodedCacheWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::WorkerProcess::Start("d1", "64MiB", "tcp://127.0.0.1:0",
                                           {"--decoded-cache", "16MiB"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    worker_ = std::move(*w);
    ClientOptions o;
    o.workers = {worker_->endpoint()};
    auto c = Client::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  uint64_t Counter(const std::string& name) {
    auto m = client_->Members();
    EXPECT_TRUE(m.ok());
    if (!m.ok() || m->empty()) return 0;
    auto it = (*m)[0].counters.find(name);
    EXPECT_NE(it, (*m)[0].counters.end()) << name;
    return it == (*m)[0].counters.end() ? 0 : it->second;
  }
  // Waits (up to 60 s: the compressor runs at idle priority, and a loaded
  // machine leaves it little) until the worker stores `id` compressed.
  void WaitCompressed(const std::string& id) {
    for (int i = 0; i < 6000; ++i) {
      auto st = client_->Stat(id);
      ASSERT_TRUE(st.ok());
      if (st->stored_bytes < st->size) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << id << " was not compressed within 60 s";
  }
  std::unique_ptr<testing::WorkerProcess> worker_;
  std::unique_ptr<Client> client_;
};

TEST_F(DecodedCacheWorkerTest, SetGetAppendGetDeleteGetReturnTheRightBytes) {
  const std::string v1 = Text(1 << 20, 1), v2 = Text(1 << 20, 2);
  const std::string tail = Text(300 << 10, 3);
  ASSERT_TRUE(client_->Set("f", v1).ok());
  WaitCompressed("f");
  for (int i = 0; i < 3; ++i) {
    auto g = client_->Get("f");
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_TRUE(*g == v1);
  }
  EXPECT_GE(Counter("decoded_cache_hits"), 2u);
  EXPECT_GT(Counter("decoded_cache_bytes"), 0u);
  ASSERT_TRUE(client_->Set("f", v2).ok());
  EXPECT_TRUE(*client_->Get("f") == v2);  // raw: before it is compressed
  WaitCompressed("f");
  EXPECT_TRUE(*client_->Get("f") == v2);
  EXPECT_TRUE(*client_->Get("f") == v2);
  EXPECT_GT(Counter("decoded_cache_bytes"), 0u);
  ASSERT_TRUE(client_->Append("f", tail).ok());
  // The append rewrote the short last chunk as a raw tail: the cached bytes
  // of the compressed one went with the blob it replaced.
  EXPECT_EQ(Counter("decoded_cache_bytes"), 0u);
  EXPECT_TRUE(*client_->Get("f") == v2 + tail);
  EXPECT_TRUE(*client_->Get("f") == v2 + tail);
  auto range = client_->Get("f", (1 << 20) - 10, 20);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(*range, (v2 + tail).substr((1 << 20) - 10, 20));
  ASSERT_TRUE(client_->Delete("f").ok());
  EXPECT_EQ(client_->Get("f").status().code(), Code::kNotFound);
  EXPECT_EQ(Counter("decoded_cache_bytes"), 0u);
  // Written again under the same id: the new bytes, never the old.
  ASSERT_TRUE(client_->Set("f", v1).ok());
  WaitCompressed("f");
  EXPECT_TRUE(*client_->Get("f") == v1);
}

}  // namespace
}  // namespace shovel
