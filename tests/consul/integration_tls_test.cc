// shovel_consul Client against consul-test-agent serving https with a CA the
// test makes (make_test_pki.sh, openssl): the right CA works, a CA that does
// not match fails at once with a message naming the cause and the variable,
// and an agent that requires client certificates (Consul's verify_incoming)
// is reached only with CONSUL_CLIENT_CERT/KEY.
#include <memory>

#include "consul/consul_agent_fixture.h"
#include "consul/integration_util.h"

namespace shovel::consul::testing {
namespace {

ServiceRegistration Service(const std::string& id) {
  ServiceRegistration s;
  s.id = id;
  s.name = "shoveling-tls";
  s.port = 7001;
  return s;
}

bool Has(const Status& s, const std::string& part) {
  return s.message().find(part) != std::string::npos;
}

class ConsulTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = TestPki::Create();
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    pki_ = std::move(*pki);
  }

  // Starts an https agent; `require_client_cert` asks for certificates the
  // test CA signed. The fixture's own readiness probe uses the right CA and,
  // when required, the client certificate.
  // `cert` names the agent's certificate and key in the test PKI.
  void StartAgent(bool require_client_cert, const std::string& cert = "server") {
    TestAgentOptions o;
    o.tls_cert = pki_->Path(cert + ".pem");
    o.tls_key = pki_->Path(cert + ".key");
    o.client_tls.ca_file = pki_->Path("ca.pem");
    // The fixture's readiness probe cannot check a certificate made for
    // another host name against 127.0.0.1.
    if (cert == "wrong-host") o.client_tls.verify = false;
    if (require_client_cert) {
      o.tls_client_ca = pki_->Path("ca.pem");
      o.client_tls.client_cert = pki_->Path("client.pem");
      o.client_tls.client_key = pki_->Path("client.key");
    }
    auto agent = ConsulTestAgent::Start(o);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(*agent);
    ASSERT_TRUE(agent_->node(0).url().starts_with("https://127.0.0.1:"));
  }

  // A client of the agent with `tls` in place of the fixture's.
  std::unique_ptr<Client> ClientWith(const TlsConfig& tls) {
    Config config = agent_->ConfigFor(0);
    config.tls = tls;
    config.timeout = milliseconds(5000);
    auto client = Client::Create(config);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // What a health query through a client with `tls` fails with; it must
  // fail, and at once (within 2 s), not after the timeout.
  Status RefusedAtOnce(const TlsConfig& tls) {
    auto c = ClientWith(tls);
    if (c == nullptr) return Status::Internal("no client");
    auto start = Clock::now();
    auto h = c->HealthService("shoveling-tls", false);
    EXPECT_LT(SecondsSince(start), 2.0);
    EXPECT_FALSE(h.ok()) << "a health query with this TLS configuration succeeded";
    return h.ok() ? Status::Ok() : h.status();
  }

  void TearDown() override {
    if (agent_) {
      EXPECT_TRUE(agent_->Stop().ok());
    }
  }

  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<ConsulTestAgent> agent_;
};

TEST_F(ConsulTlsTest, RegistersAndListsOverHttpsWithTheRightCa) {
  StartAgent(/*require_client_cert=*/false);
  TlsConfig tls;
  tls.ca_file = pki_->Path("ca.pem");
  auto c = ClientWith(tls);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->RegisterService(Service("w1")).ok());
  auto h = c->HealthService("shoveling-tls", false);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->value.size(), 1u);
  EXPECT_EQ(h->value[0].service.id, "w1");
}

TEST_F(ConsulTlsTest, ACaThatDoesNotMatchFailsAtOnceNamingIt) {
  StartAgent(/*require_client_cert=*/false);
  TlsConfig tls;
  tls.ca_file = pki_->Path("other-ca.pem");
  const Status s = RefusedAtOnce(tls);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_TRUE(Has(s, "TLS certificate of the Consul agent not trusted")) << s.ToString();
  EXPECT_TRUE(Has(s, "CONSUL_CACERT=" + pki_->Path("other-ca.pem"))) << s.ToString();
  EXPECT_TRUE(Has(s, agent_->node(0).url())) << s.ToString();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.ToString();

  // No CA given: the system store does not know the test CA either.
  const Status sys = RefusedAtOnce(TlsConfig{});
  EXPECT_TRUE(Has(sys, "set CONSUL_CACERT")) << sys.ToString();
}

// CONSUL_CAPATH, a directory of hashed CAs (openssl rehash), as Consul's CLI
// reads it: the directory with the agent's CA works on its own, one without
// it fails at once naming the variable.
TEST_F(ConsulTlsTest, ACaPathDirectoryIsTrustedAndAWrongOneNamed) {
  StartAgent(/*require_client_cert=*/false);
  TlsConfig tls;
  tls.ca_path = pki_->Path("capath");
  auto c = ClientWith(tls);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->RegisterService(Service("w5")).ok());

  tls.ca_path = pki_->Path("other-capath");
  const Status s = RefusedAtOnce(tls);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_TRUE(Has(s, "TLS certificate of the Consul agent not trusted")) << s.ToString();
  EXPECT_TRUE(Has(s, "CONSUL_CAPATH=" + pki_->Path("other-capath"))) << s.ToString();
}

// The agent's certificate is signed by the right CA but names another host
// (consul.invalid) than the address (127.0.0.1): refused at once, and the
// error says the name is what does not match, not the CA.
TEST_F(ConsulTlsTest, ACertificateForAnotherHostNameIsRefusedNamingIt) {
  StartAgent(/*require_client_cert=*/false, "wrong-host");
  TlsConfig tls;
  tls.ca_file = pki_->Path("ca.pem");
  const Status s = RefusedAtOnce(tls);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_TRUE(Has(s, "TLS certificate of the Consul agent is not for 127.0.0.1"))
      << s.ToString();
  EXPECT_FALSE(Has(s, "not trusted")) << s.ToString();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.ToString();
}

TEST_F(ConsulTlsTest, VerifyOffAcceptsAnyCertificate) {
  StartAgent(/*require_client_cert=*/false);
  TlsConfig tls;
  tls.verify = false;
  auto c = ClientWith(tls);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->RegisterService(Service("w2")).ok());
}

TEST_F(ConsulTlsTest, PlainHttpToATlsAgentSaysToUseHttps) {
  StartAgent(/*require_client_cert=*/false);
  Config config;
  config.address = "http://" + agent_->node(0).address;
  config.timeout = milliseconds(5000);
  auto c = Client::Create(config);
  ASSERT_TRUE(c.ok());
  auto h = (*c)->HealthService("shoveling-tls", false);
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(Has(h.status(), "https")) << h.status().ToString();
}

TEST_F(ConsulTlsTest, AgentRequiringAClientCertificate) {
  StartAgent(/*require_client_cert=*/true);
  TlsConfig tls;
  tls.ca_file = pki_->Path("ca.pem");
  auto without = ClientWith(tls);
  ASSERT_NE(without, nullptr);
  auto start = Clock::now();
  Status refused = without->RegisterService(Service("w3"));
  EXPECT_LT(SecondsSince(start), 2.0);
  EXPECT_EQ(refused.code(), Code::kPermissionDenied) << refused.ToString();
  EXPECT_TRUE(Has(refused, "requires a TLS client certificate")) << refused.ToString();
  EXPECT_TRUE(Has(refused, "CONSUL_CLIENT_CERT")) << refused.ToString();

  tls.client_cert = pki_->Path("client.pem");
  tls.client_key = pki_->Path("client.key");
  auto with = ClientWith(tls);
  ASSERT_NE(with, nullptr);
  ASSERT_TRUE(with->RegisterService(Service("w3")).ok());
  auto h = with->HealthService("shoveling-tls", false);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->value.size(), 1u);
}

TEST_F(ConsulTlsTest, AClientKeyThatIsNotAKeyIsNamed) {
  StartAgent(/*require_client_cert=*/true);
  TlsConfig tls;
  tls.ca_file = pki_->Path("ca.pem");
  tls.client_cert = pki_->Path("client.pem");
  tls.client_key = pki_->Path("ca.pem");  // a certificate, not a key
  auto c = ClientWith(tls);
  ASSERT_NE(c, nullptr);
  Status s = c->RegisterService(Service("w4"));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(Has(s, "cannot use the TLS client certificate")) << s.ToString();
  EXPECT_TRUE(Has(s, "CONSUL_CLIENT_KEY=" + pki_->Path("ca.pem"))) << s.ToString();
}

}  // namespace
}  // namespace shovel::consul::testing
