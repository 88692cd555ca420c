// Test equipment shared by the client's integration tests: a client of
// given workers, and a fixture of three real workers with one client.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shovel/client.h"
#include "worker_fixture.h"

namespace shovel::testing {

// A client of `endpoints` (with `replicas` copies of each id; 0: the
// default); null (and a test failure) if it cannot connect.
inline std::unique_ptr<Client> ConnectTo(
    const std::vector<std::string>& endpoints,
    std::chrono::milliseconds deadline = std::chrono::milliseconds(5000),
    uint64_t chunk = 4ull << 20, uint32_t replicas = 0) {
  ClientOptions o;
  o.workers = endpoints;
  o.deadline = deadline;
  o.stream_chunk = chunk;
  o.replicas = replicas;
  auto c = Client::Connect(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

// What one worker alone holds: a client of that worker only, no routing.
inline Result<std::string> HeldBy(const WorkerProcess& w, const std::string& id) {
  ClientOptions o;
  o.workers = {w.endpoint()};
  o.replicas = 1;
  SHOVEL_ASSIGN_OR_RETURN(auto c, Client::Connect(o));
  return c->Get(id);
}

class ThreeWorkers : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Cluster::Start(3);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    client_ = ConnectTo(cluster_.endpoints());
    ASSERT_NE(client_, nullptr);
  }
  Cluster cluster_;
  std::unique_ptr<Client> client_;
};

}  // namespace shovel::testing
