// ConsulTestAgent / ConsulAgentTest: start a Consul agent for a test and end
// it by pid.
//
// By default this runs the project's consul-test-agent (TEST EQUIPMENT, see
// consul/README.md) with one agent node per requested name, each on a free
// loopback port learned through --ready-file. With SHOVEL_TEST_REAL_CONSUL=1
// and a `consul` binary on PATH, a single-node request runs `consul agent
// -dev` instead (multi-node requests keep the test agent).
//
// A ConsulTestAgent owns its child process: the destructor sends SIGTERM and
// reaps it (SIGKILL after 5 s). Not thread-safe; use it from the test thread.
// Link `shovel_consul_testing` and include "consul/consul_agent_fixture.h".
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shovel/consul/client.h"
#include "shovel/consul/config.h"
#include "shovel/status.h"

namespace shovel::consul::testing {

struct AgentNode {
  std::string name;     // Consul node name
  std::string address;  // "127.0.0.1:PORT", or "unix:///path" with unix_sockets
  bool https = false;   // the node serves TLS (TestAgentOptions::tls_cert)
  std::string url() const {
    if (address.starts_with("unix://")) return address;
    return (https ? "https://" : "http://") + address;
  }
};

struct TestAgentOptions {
  std::vector<std::string> nodes = {"node1"};
  std::string acl_token;  // when set, the agent refuses requests without it
  std::chrono::milliseconds session_ttl_min{10000};  // Consul's own minimum
  std::chrono::milliseconds start_timeout{15000};
  bool allow_real_consul = true;
  bool unix_sockets = false;  // nodes listen on unix sockets (test agent only)
  // Listen host of each node (test agent only; e.g. the root side of a veth
  // pair in a network-namespace test). Missing entries: 127.0.0.1.
  std::vector<std::string> hosts;
  // Serve https with this PEM certificate and key (test agent only, TCP
  // nodes). With tls_client_ca, require client certificates it signed.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // What ConfigFor() puts in Config::tls (which CA to trust, our cert).
  TlsConfig client_tls;
};

// A throwaway PKI made by make_test_pki.sh (openssl) in a fresh temporary
// directory, removed by the destructor. File names as in that script:
// ca.pem, server.pem/.key, client.pem/.key, other-ca.pem.
class TestPki {
 public:
  static Result<std::unique_ptr<TestPki>> Create();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

 private:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

class ConsulTestAgent {
 public:
  // Starts the agent and waits until every node answers. kUnavailable with
  // the reason (binary missing, exited early, start_timeout passed).
  static Result<std::unique_ptr<ConsulTestAgent>> Start(TestAgentOptions options);

  ~ConsulTestAgent();
  ConsulTestAgent(const ConsulTestAgent&) = delete;
  ConsulTestAgent& operator=(const ConsulTestAgent&) = delete;

  // SIGTERM, then SIGKILL after 5 s; reaps the child. Idempotent. kInternal
  // when it did not exit cleanly (non-zero status or a signal).
  Status Stop();
  // SIGKILL now (a crash); reaps the child.
  void Kill();
  // Stop() then start again on the same addresses. All state is lost, as with
  // `consul agent -dev`.
  Status Restart();

  const std::vector<AgentNode>& nodes() const { return nodes_; }
  const AgentNode& node(size_t i) const { return nodes_.at(i); }
  pid_t pid() const { return pid_; }
  bool real_consul() const { return real_consul_; }
  // A Config pointing at node i (token filled in when the agent has one).
  Config ConfigFor(size_t i) const;

  // Where consul-test-agent is in the build tree.
  static std::string TestAgentPath();

 private:
  explicit ConsulTestAgent(TestAgentOptions options) : options_(std::move(options)) {}
  Status Launch(bool reuse_addresses);
  Status LaunchTestAgent(bool reuse_addresses);
  Status LaunchRealConsul(bool reuse_addresses);
  Status WaitReady();

  TestAgentOptions options_;
  std::vector<AgentNode> nodes_;
  std::string dir_;  // temporary dir for the ready file
  pid_t pid_ = -1;
  bool real_consul_ = false;
};

// GoogleTest fixture: SetUp starts an agent with AgentOptions() (override it
// for more nodes), TearDown stops it.
class ConsulAgentTest : public ::testing::Test {
 protected:
  virtual TestAgentOptions AgentOptions() const { return {}; }
  void SetUp() override;
  void TearDown() override;

  // A Client for node i with `timeout` per request.
  std::unique_ptr<Client> ClientFor(size_t i, std::chrono::milliseconds timeout =
                                                  std::chrono::milliseconds(5000)) const;

  std::unique_ptr<ConsulTestAgent> agent_;
};

}  // namespace shovel::consul::testing
