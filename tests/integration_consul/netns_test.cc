// Workers in separate network namespaces, each with its own address, as on
// separate hosts. The test creates two namespaces (shvt-<pid>-a/b), a veth
// pair from each to the root namespace with a 169.254.N.x/30 link-local pair
// of addresses (only addresses on interfaces it created, so no traffic can
// leave the machine), runs one Consul test agent node on the root side of
// each veth, one shovel-worker inside each namespace registered with "its"
// agent node, and a client in the root namespace that reaches both. Teardown
// ends the workers by pid and deletes the namespaces (which removes the
// veths). Needs root (CAP_NET_ADMIN); without it the test FAILS with the
// reason, it does not skip.
#include <unistd.h>

#include <cstdlib>

#include "consul/consul_agent_fixture.h"
#include "consul/integration_util.h"
#include "processes.h"
#include "shovel/client.h"

namespace shovel::consul_it {
namespace {

using consul::testing::Eventually;
using std::chrono::milliseconds;

// Runs a command line; returns its exit status (stderr kept for messages).
int Sh(const std::string& cmd, std::string* err = nullptr) {
  std::string path = "/tmp/shvt-sh-" + std::to_string(getpid());
  int rc = std::system((cmd + " 2>" + path).c_str());
  if (err) {
    FILE* f = std::fopen(path.c_str(), "r");
    char buf[512] = {0};
    if (f) {
      err->assign(buf, std::fread(buf, 1, sizeof buf - 1, f));
      std::fclose(f);
    }
  }
  std::remove(path.c_str());
  return rc;
}

struct Namespace {
  std::string name, veth_root, veth_ns, root_ip, ns_ip;
};

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int pid = getpid();
    int octet = 100 + pid % 100;
    for (int i = 0; i < 2; ++i) {
      char tag = "ab"[i];
      Namespace n;
      n.name = "shvt-" + std::to_string(pid) + "-" + tag;
      n.veth_root = "shv" + std::to_string(pid % 1000000) + tag;
      n.veth_ns = n.veth_root + "p";
      std::string base = "169.254." + std::to_string(octet) + ".";
      n.root_ip = base + std::to_string(4 * i + 1);
      n.ns_ip = base + std::to_string(4 * i + 2);
      ns_.push_back(n);
    }
    std::string err;
    for (auto& n : ns_) {
      std::string in = "ip netns exec " + n.name + " ";
      const std::vector<std::string> steps = {
          "ip netns add " + n.name,
          "ip link add " + n.veth_root + " type veth peer name " + n.veth_ns,
          "ip link set " + n.veth_ns + " netns " + n.name,
          "ip addr add " + n.root_ip + "/30 dev " + n.veth_root,
          "ip link set " + n.veth_root + " up",
          in + "ip addr add " + n.ns_ip + "/30 dev " + n.veth_ns,
          in + "ip link set " + n.veth_ns + " up",
          in + "ip link set lo up"};
      for (const auto& step : steps) {
        if (Sh(step, &err) != 0) {
          FAIL() << "network namespaces are needed for this test (run as root with "
                    "iproute2); '"
                 << step << "' failed: " << err;
        }
        if (step.starts_with("ip netns add")) created_.push_back(n.name);
        if (step.starts_with("ip link add")) links_.push_back(n.veth_root);
      }
    }
  }
  void TearDown() override {
    workers_.clear();  // SIGKILL by pid, reaped
    agent_.reset();
    for (const auto& name : created_) Sh("ip netns del " + name);
    for (const auto& link : links_) Sh("ip link del " + link + " 2>/dev/null");
  }

  std::vector<Namespace> ns_;
  std::vector<std::string> created_, links_;
  std::unique_ptr<consul::testing::ConsulTestAgent> agent_;
  std::vector<std::unique_ptr<Proc>> workers_;
};

TEST_F(NetnsTest, WorkersInTheirOwnNamespacesServeOneClient) {
  ASSERT_EQ(ns_.size(), 2u);
  auto agent = consul::testing::ConsulTestAgent::Start(
      {.nodes = {"host-a", "host-b"},
       .allow_real_consul = false,
       .hosts = {ns_[0].root_ip, ns_[1].root_ip}});
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  agent_ = std::move(*agent);
  for (int i = 0; i < 2; ++i) {
    WorkerArgs a{.node_id = std::string("w-") + "ab"[i],
                 .consul = agent_->node(i).url(),
                 .listen = "tcp://" + ns_[i].ns_ip + ":0",
                 .netns = ns_[i].name};
    a.extra = {"--consul-ttl", "2s"};
    auto w = Proc::StartWorker(a);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->endpoint().rfind("tcp://" + ns_[i].ns_ip + ":", 0), 0u);
    workers_.push_back(std::move(*w));
  }
  // The worker cannot see the root namespace's loopback: its own address only.
  std::string err;
  EXPECT_NE(Sh("ip netns exec " + ns_[0].name + " ip -4 addr show dev lo | grep -q " +
                   ns_[1].ns_ip,
               &err),
            0);
  auto consul_client = agent_->ConfigFor(0);
  auto cc = consul::Client::Create(consul_client);
  ASSERT_TRUE(cc.ok());
  ASSERT_TRUE(Eventually(
      [&] {
        auto h = (*cc)->HealthService("shoveling", true);
        return h.ok() && h->value.size() == 2;
      },
      milliseconds(10000)))
      << workers_[0]->Stderr() << workers_[1]->Stderr();
  ClientOptions o;
  o.consul_addr = agent_->node(0).url();
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto members = (*client)->Members();
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].endpoint, workers_[0]->endpoint());
  EXPECT_EQ((*members)[0].consul_node, "host-a");
  EXPECT_EQ((*members)[1].endpoint, workers_[1]->endpoint());
  EXPECT_EQ((*members)[1].consul_node, "host-b");
  EXPECT_TRUE((*members)[0].healthy && (*members)[1].healthy);
  std::map<std::string, int> per_node;
  for (int i = 0; i < 40; ++i) {
    std::string id = "ns/" + std::to_string(i);
    ASSERT_TRUE((*client)->Set(id, "value " + std::to_string(i)).ok());
    EXPECT_EQ((*client)->Get(id).value(), "value " + std::to_string(i));
    ++per_node[(*client)->NodeIds(id).value()[0]];
  }
  EXPECT_EQ(per_node.size(), 2u) << "both workers hold data";
}

}  // namespace
}  // namespace shovel::consul_it
