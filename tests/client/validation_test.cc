// Id rules enforced through the public API before any I/O.
#include <gtest/gtest.h>

#include "shovel/client.h"

namespace shovel {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Client> Unreachable() {
  ClientOptions o;
  o.workers = {"tcp://127.0.0.1:1"};
  o.deadline = 100ms;
  auto c = Client::Connect(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(*c);
}

TEST(Validation, BadIdsAreRejectedWithTheRule) {
  auto c = Unreachable();
  auto s = c->Set("a//b", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("empty path component"), std::string::npos)
      << s.status().message();
  for (std::string bad : {std::string(""), std::string("a/../b"), std::string("/a"),
                          std::string(4097, 'x'), std::string("a\0b", 3)}) {
    EXPECT_EQ(c->Get(bad).status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(c->Delete(bad).code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(c->Stat(bad).status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(c->Append(bad, "x").status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(c->NodeIds(bad).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(c->Init({"ok", "a//b"}, InitStrategy::kUniformNodes).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(c->List("a//").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->List("a", "", 10, true).status().code(), Code::kInvalidArgument);
}

TEST(Validation, Strategies) {
  auto bad = ParseInitStrategy("round_robin");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("uniform_nodes, uniform_cpu, uniform_memory"),
            std::string::npos);
  EXPECT_EQ(*ParseInitStrategy("uniform_cpu"), InitStrategy::kUniformCpu);
  EXPECT_EQ(InitStrategyName(InitStrategy::kUniformMemory), "uniform_memory");
}

TEST(Validation, UnreachableWorkerErrorsAfterTheDeadline) {
  auto c = Unreachable();
  auto start = std::chrono::steady_clock::now();
  auto r = c->Get("some/id");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("tcp://127.0.0.1:1"), std::string::npos);
}

TEST(Validation, NoWorkersIsAClearError) {
  ClientOptions o;
  unsetenv("SHOVEL_WORKERS");
  unsetenv("CONSUL_HTTP_ADDR");
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("SHOVEL_WORKERS"), std::string::npos);
}

TEST(Validation, AnEndpointThatCannotBeReachedIsRefusedAtConnect) {
  for (const char* bad : {"tcp://127.0.0.1:99999", "tcp://127.0.0.1:0", "tcp://127.0.0.1",
                          "tcp://127.0.0.1:7x", "127.0.0.1:7070", "://x"}) {
    ClientOptions o;
    o.workers = {bad};
    auto c = Client::Connect(o);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(
        c.status().message().find("worker '" + std::string(bad) +
                                  "' is not a ZeroMQ endpoint (expected tcp://HOST:PORT"),
        0u)
        << c.status().message();
  }
  setenv("SHOVEL_WORKERS", "tcp://127.0.0.1:65536", 1);
  auto c = Client::Connect(ClientOptions{});
  unsetenv("SHOVEL_WORKERS");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("the port is 1 to 65535"), std::string::npos)
      << c.status().message();
}

TEST(Validation, IoThreadsOutOfRangeIsAClearError) {
  for (int bad : {0, -1, 17}) {
    ClientOptions o;
    o.workers = {"tcp://127.0.0.1:1"};
    o.io_threads = bad;
    auto c = Client::Connect(o);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
    EXPECT_NE(c.status().message().find("io_threads must be 1 to 16"), std::string::npos)
        << c.status().message();
  }
}

}  // namespace
}  // namespace shovel
