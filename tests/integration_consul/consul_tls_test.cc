// Consul over TLS with real processes: a shovel-worker registers with an
// https agent that requires client certificates (CONSUL_CACERT,
// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY in its environment) and shovelctl
// lists it; shovelctl with a CA that does not match, or without a client
// certificate, fails at once and says why.
#include <cstdlib>

#include "consul/consul_agent_fixture.h"
#include "consul/integration_util.h"
#include "processes.h"

namespace shovel::consul_it {
namespace {

using consul::testing::Clock;
using consul::testing::Eventually;
using consul::testing::SecondsSince;
using std::chrono::milliseconds;

constexpr const char* kTlsVars[] = {"CONSUL_CACERT", "CONSUL_CLIENT_CERT",
                                    "CONSUL_CLIENT_KEY", "CONSUL_HTTP_ADDR",
                                    "CONSUL_HTTP_SSL"};

class ConsulTlsClusterTest : public consul::testing::ConsulAgentTest {
 protected:
  void SetUp() override {
    auto pki = consul::testing::TestPki::Create();
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    pki_ = std::move(*pki);
    ConsulAgentTest::SetUp();
  }
  void TearDown() override {
    for (const char* v : kTlsVars) unsetenv(v);  // spawned processes inherit them
    ConsulAgentTest::TearDown();
  }
  consul::testing::TestAgentOptions AgentOptions() const override {
    consul::testing::TestAgentOptions o{.nodes = {"n1"}, .allow_real_consul = false};
    o.tls_cert = pki_->Path("server.pem");
    o.tls_key = pki_->Path("server.key");
    o.tls_client_ca = pki_->Path("ca.pem");
    o.client_tls.ca_file = pki_->Path("ca.pem");
    o.client_tls.client_cert = pki_->Path("client.pem");
    o.client_tls.client_key = pki_->Path("client.key");
    return o;
  }
  void SetTlsEnv(const std::string& ca, bool client_cert) {
    setenv("CONSUL_CACERT", pki_->Path(ca).c_str(), 1);
    if (client_cert) {
      setenv("CONSUL_CLIENT_CERT", pki_->Path("client.pem").c_str(), 1);
      setenv("CONSUL_CLIENT_KEY", pki_->Path("client.key").c_str(), 1);
    } else {
      unsetenv("CONSUL_CLIENT_CERT");
      unsetenv("CONSUL_CLIENT_KEY");
    }
  }

  std::unique_ptr<consul::testing::TestPki> pki_;
};

TEST_F(ConsulTlsClusterTest, WorkerRegistersOverTlsAndShovelctlListsIt) {
  const std::string url = agent_->node(0).url();
  ASSERT_TRUE(url.starts_with("https://")) << url;
  SetTlsEnv("ca.pem", /*client_cert=*/true);
  WorkerArgs a{.node_id = "w1", .consul = url};
  a.extra = {"--consul-ttl", "1s", "--consul-retry-max", "300ms"};
  auto w = Proc::StartWorker(a);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto passing = [&] {
    auto h = ClientFor(0)->HealthService("shoveling", true);
    return h.ok() && h->value.size() == 1;
  };
  ASSERT_TRUE(Eventually(passing, milliseconds(5000))) << (*w)->Stderr();

  CtlResult m = Ctl({"--consul", url, "members"});
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.out.find("passing (n1)"), std::string::npos) << m.out;

  // A CA that did not sign the agent's certificate: refused at once, named.
  SetTlsEnv("other-ca.pem", /*client_cert=*/true);
  auto start = Clock::now();
  CtlResult bad_ca = Ctl({"--consul", url, "members"});
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_NE(bad_ca.code, 0);
  EXPECT_NE(bad_ca.err.find("TLS certificate of the Consul agent not trusted"),
            std::string::npos)
      << bad_ca.err;
  EXPECT_NE(bad_ca.err.find("CONSUL_CACERT=" + pki_->Path("other-ca.pem")),
            std::string::npos)
      << bad_ca.err;

  // The agent requires a client certificate and none is given.
  SetTlsEnv("ca.pem", /*client_cert=*/false);
  start = Clock::now();
  CtlResult no_cert = Ctl({"--consul", url, "members"});
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_NE(no_cert.code, 0);
  EXPECT_NE(no_cert.err.find("requires a TLS client certificate"), std::string::npos)
      << no_cert.err;
  EXPECT_NE(no_cert.err.find("CONSUL_CLIENT_CERT"), std::string::npos) << no_cert.err;

  // As Consul's CLI: a host:port address with CONSUL_HTTP_SSL=true is https.
  SetTlsEnv("ca.pem", /*client_cert=*/true);
  setenv("CONSUL_HTTP_ADDR", agent_->node(0).address.c_str(), 1);
  setenv("CONSUL_HTTP_SSL", "true", 1);
  CtlResult env = Ctl({"members"});
  ASSERT_EQ(env.code, 0) << env.err;
  EXPECT_NE(env.out.find("passing (n1)"), std::string::npos) << env.out;
}

}  // namespace
}  // namespace shovel::consul_it
