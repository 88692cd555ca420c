// Client request building and response parsing against FakeTransport.
#include "shovel/consul/client.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_transport.h"

namespace shovel::consul {
namespace {

using nlohmann::json;
using testing::FakeTransport;

class ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> MakeClient(std::string token = "") {
    Config config;
    config.address = "http://fake:8500";
    config.token = std::move(token);
    config.timeout = std::chrono::milliseconds(2000);
    return std::make_unique<Client>(config, fake_);
  }
  std::shared_ptr<FakeTransport> fake_ = std::make_shared<FakeTransport>();
};

std::optional<std::string> HeaderOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST_F(ClientTest, RegisterServiceBuildsConsulJson) {
  auto client = MakeClient();
  fake_->Respond(200, "");
  ServiceRegistration s;
  s.id = "shoveling-w1";
  s.name = "shoveling";
  s.address = "10.0.0.7";
  s.port = 7000;
  s.tags = {"worker"};
  s.meta = {{"cores", "4"}};
  s.check = TtlCheck{};
  s.check->ttl = std::chrono::seconds(10);
  s.check->deregister_critical_after = std::chrono::minutes(1);
  ASSERT_TRUE(client->RegisterService(s).ok());
  HttpRequest r = fake_->last();
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.path, "/v1/agent/service/register?replace-existing-checks=true");
  json body = json::parse(r.body);
  EXPECT_EQ(body["ID"], "shoveling-w1");
  EXPECT_EQ(body["Name"], "shoveling");
  EXPECT_EQ(body["Address"], "10.0.0.7");
  EXPECT_EQ(body["Port"], 7000);
  EXPECT_EQ(body["Tags"], json({"worker"}));
  EXPECT_EQ(body["Meta"]["cores"], "4");
  EXPECT_EQ(body["Check"]["TTL"], "10s");
  EXPECT_EQ(body["Check"]["DeregisterCriticalServiceAfter"], "60s");
  EXPECT_EQ(body["Check"]["Status"], "passing");
  EXPECT_FALSE(HeaderOf(r, "X-Consul-Token"));
}

TEST_F(ClientTest, TokenIsSentAsHeader) {
  auto client = MakeClient("s3cret");
  fake_->Respond(
      200,
      R"({"Config":{"NodeName":"n1","Datacenter":"dc1"},"Member":{"Addr":"10.1.1.1"}})");
  auto self = client->Self();
  ASSERT_TRUE(self.ok()) << self.status().ToString();
  EXPECT_EQ(self->node_name, "n1");
  EXPECT_EQ(self->member_addr, "10.1.1.1");
  EXPECT_EQ(HeaderOf(fake_->last(), "X-Consul-Token"), "s3cret");
}

TEST_F(ClientTest, CheckUpdatesUseAgentEndpoints) {
  auto client = MakeClient();
  fake_->Respond(200, "");
  fake_->Respond(200, "");
  fake_->Respond(200, "");
  ASSERT_TRUE(client->UpdateTtlCheck("service:w/1", CheckStatus::kWarning, "slow").ok());
  EXPECT_EQ(fake_->last().path, "/v1/agent/check/update/service%3Aw%2F1");
  EXPECT_EQ(json::parse(fake_->last().body),
            json({{"Status", "warning"}, {"Output", "slow"}}));
  ASSERT_TRUE(client->PassTtl("c1", "all good").ok());
  EXPECT_EQ(fake_->last().path, "/v1/agent/check/pass/c1?note=all%20good");
  ASSERT_TRUE(client->FailTtl("c1").ok());
  EXPECT_EQ(fake_->last().path, "/v1/agent/check/fail/c1");
}

constexpr char kHealthBody[] = R"([
 {"Node":{"Node":"n1","Address":"10.0.0.1"},
  "Service":{"ID":"w1","Service":"shoveling","Address":"","Port":7000,"Meta":{"cores":"4"},"Tags":null},
  "Checks":[{"Node":"n1","CheckID":"serfHealth","Status":"passing"},
            {"Node":"n1","CheckID":"service:w1","Status":"warning","Output":"slow","ServiceID":"w1"}]},
 {"Node":{"Node":"n2","Address":"10.0.0.2"},
  "Service":{"ID":"w2","Service":"shoveling","Address":"10.9.9.2","Port":7001},
  "Checks":[{"CheckID":"service:w2","Status":"critical","ServiceID":"w2"}]}])";

TEST_F(ClientTest, HealthServiceParsesEntries) {
  auto client = MakeClient();
  fake_->Respond(200, kHealthBody, "42");
  auto health = client->HealthService("shoveling", false);
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(fake_->last().path, "/v1/health/service/shoveling");
  EXPECT_EQ(health->index, 42u);
  ASSERT_EQ(health->value.size(), 2u);
  const HealthEntry& e1 = health->value[0];
  EXPECT_EQ(e1.node, "n1");
  EXPECT_EQ(e1.Host(), "10.0.0.1");  // falls back to the node address
  EXPECT_EQ(e1.service.port, 7000);
  EXPECT_EQ(e1.service.meta.at("cores"), "4");
  EXPECT_EQ(e1.aggregated, CheckStatus::kWarning);
  EXPECT_EQ(e1.checks[1].output, "slow");
  EXPECT_EQ(health->value[1].Host(), "10.9.9.2");
  EXPECT_EQ(health->value[1].aggregated, CheckStatus::kCritical);
}

TEST_F(ClientTest, BlockingQueryAddsIndexWaitAndStretchesTimeout) {
  auto client = MakeClient();
  fake_->Respond(200, "[]", "43");
  QueryOptions q;
  q.index = 42;
  q.wait = std::chrono::seconds(16);
  auto health = client->HealthService("shoveling", true, q);
  ASSERT_TRUE(health.ok());
  HttpRequest r = fake_->last();
  EXPECT_EQ(r.path, "/v1/health/service/shoveling?passing&index=42&wait=16s");
  // client timeout + wait + wait/16 (Consul's jitter)
  EXPECT_EQ(r.timeout, std::chrono::milliseconds(2000 + 16000 + 1000));
}

TEST_F(ClientTest, MalformedJsonIsAClearProtocolError) {
  auto client = MakeClient();
  fake_->Respond(200, "[{\"Node\": ", "1");
  auto health = client->HealthService("shoveling", false);
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.status().code(), Code::kProtocol);
  EXPECT_NE(health.status().message().find("malformed JSON"), std::string::npos);
  EXPECT_NE(health.status().message().find("/v1/health/service/shoveling"),
            std::string::npos);

  fake_->Respond(200, R"({"not":"an array"})", "1");
  EXPECT_EQ(client->HealthService("shoveling", false).status().code(), Code::kProtocol);
  fake_->Respond(200, R"([{"Node":{"Node":5}}])", "1");
  auto wrong_type = client->HealthService("shoveling", false);
  EXPECT_EQ(wrong_type.status().code(), Code::kProtocol);
  EXPECT_NE(wrong_type.status().message().find("Node is not a string"),
            std::string::npos);
  fake_->Respond(200, R"([{"Checks":[{"Status":"sleepy"}]}])", "1");
  EXPECT_EQ(client->HealthService("shoveling", false).status().code(), Code::kProtocol);
}

TEST_F(ClientTest, BadIndexHeaderIsAProtocolError) {
  auto client = MakeClient();
  fake_->Respond(200, "[]", "12abc");
  auto r = client->HealthService("shoveling", false);
  EXPECT_EQ(r.status().code(), Code::kProtocol);
  EXPECT_NE(r.status().message().find("X-Consul-Index"), std::string::npos);
}

TEST_F(ClientTest, HttpErrorsCarryUrlStatusAndBody) {
  auto client = MakeClient();
  fake_->Respond(500, "rpc error: No cluster leader\n");
  auto r = client->KvGet("a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("GET http://fake:8500/v1/kv/a"), std::string::npos);
  EXPECT_NE(r.status().message().find("HTTP 500"), std::string::npos);
  EXPECT_NE(r.status().message().find("No cluster leader"), std::string::npos);

  fake_->Respond(404, "Unknown service ID \"w9\"");
  Status gone = client->DeregisterService("w9");
  EXPECT_EQ(gone.code(), Code::kNotFound);
  EXPECT_NE(gone.message().find("/v1/agent/service/deregister/w9"), std::string::npos);

  fake_->Respond(403, "Permission denied");
  EXPECT_EQ(client->AgentServices().status().code(), Code::kInvalidArgument);
}

TEST_F(ClientTest, TransportErrorsPassThrough) {
  auto client = MakeClient();
  fake_->Fail(Status::Unavailable("GET http://fake:8500/v1/agent/self: refused"));
  fake_->Fail(Status::Timeout("GET http://fake:8500/v1/agent/self: slow"));
  EXPECT_EQ(client->Self().status().code(), Code::kUnavailable);
  EXPECT_EQ(client->Self().status().code(), Code::kTimeout);
}

TEST_F(ClientTest, KvGetDecodesBase64AndIndexes) {
  auto client = MakeClient();
  fake_->Respond(200,
                 R"([{"Key":"a b/c","Value":"aGVsbG8=","Flags":7,"CreateIndex":3,)"
                 R"("ModifyIndex":9,"LockIndex":1,"Session":"s1"}])",
                 "9");
  auto kv = client->KvGet("a b/c");
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  EXPECT_EQ(fake_->last().path, "/v1/kv/a%20b/c");
  ASSERT_TRUE(kv->value.has_value());
  EXPECT_EQ(kv->value->value, "hello");
  EXPECT_EQ(kv->value->flags, 7u);
  EXPECT_EQ(kv->value->create_index, 3u);
  EXPECT_EQ(kv->value->modify_index, 9u);
  EXPECT_EQ(kv->value->lock_index, 1u);
  EXPECT_EQ(kv->value->session, "s1");
  EXPECT_EQ(kv->index, 9u);

  fake_->Respond(200, R"([{"Key":"e","Value":null,"ModifyIndex":4}])", "4");
  EXPECT_EQ(client->KvGet("e")->value->value, "");
  fake_->Respond(200, R"([{"Key":"bad","Value":"!!!!"}])", "4");
  EXPECT_EQ(client->KvGet("bad").status().code(), Code::kProtocol);
}

TEST_F(ClientTest, KvMissingKeyIsEmptyNotError) {
  auto client = MakeClient();
  fake_->Respond(404, "", "17");
  auto kv = client->KvGet("nope");
  ASSERT_TRUE(kv.ok());
  EXPECT_FALSE(kv->value.has_value());
  EXPECT_EQ(kv->index, 17u);
  fake_->Respond(404, "", "17");
  auto list = client->KvList("dir/");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->value.empty());
  EXPECT_EQ(fake_->last().path, "/v1/kv/dir/?recurse");
}

TEST_F(ClientTest, KvWritesBuildQueryStrings) {
  auto client = MakeClient();
  fake_->Respond(200, "true");
  KvPutOptions put;
  put.cas = 0;
  put.flags = 42;
  put.acquire = "sess-1";
  auto ok = client->KvPut("cfg/max-memory", "1GiB", put);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(*ok);
  EXPECT_EQ(fake_->last().method, "PUT");
  EXPECT_EQ(fake_->last().path, "/v1/kv/cfg/max-memory?cas=0&flags=42&acquire=sess-1");
  EXPECT_EQ(fake_->last().body, "1GiB");

  fake_->Respond(200, "false");
  auto lost = client->KvPut("k", "v", {.cas = 5});
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(*lost);

  fake_->Respond(200, "true");
  ASSERT_TRUE(client->KvDelete("dir/", {.recurse = true, .cas = 3}).ok());
  EXPECT_EQ(fake_->last().method, "DELETE");
  EXPECT_EQ(fake_->last().path, "/v1/kv/dir/?recurse&cas=3");

  fake_->Respond(200, "maybe");
  EXPECT_EQ(client->KvPut("k", "v").status().code(), Code::kProtocol);
  EXPECT_EQ(client->KvPut("", "v").status().code(), Code::kInvalidArgument);
}

TEST_F(ClientTest, KvKeysWithSeparator) {
  auto client = MakeClient();
  fake_->Respond(200, R"(["shoveling/config/","shoveling/nodes/"])", "5");
  auto keys = client->KvKeys("shoveling/", "/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(fake_->last().path, "/v1/kv/shoveling/?keys&separator=%2F");
  EXPECT_EQ(keys->value,
            (std::vector<std::string>{"shoveling/config/", "shoveling/nodes/"}));
}

TEST_F(ClientTest, Sessions) {
  auto client = MakeClient();
  fake_->Respond(200, R"({"ID":"adf4238a-882b-9ddc-4a9d-5b6758e4159e"})");
  SessionOptions o;
  o.name = "lock";
  o.ttl = std::chrono::seconds(15);
  o.behavior = "delete";
  auto id = client->SessionCreate(o);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
  json body = json::parse(fake_->last().body);
  EXPECT_EQ(body["TTL"], "15s");
  EXPECT_EQ(body["Behavior"], "delete");
  EXPECT_EQ(body["LockDelay"], "15s");

  fake_->Respond(200, R"([{"ID":"x","TTL":"15s","Node":"n1"}])");
  auto renewed = client->SessionRenew("x");
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->ttl, "15s");
  EXPECT_EQ(fake_->last().path, "/v1/session/renew/x");
  fake_->Respond(404, "Session id 'x' not found");
  EXPECT_EQ(client->SessionRenew("x").status().code(), Code::kNotFound);
}

TEST_F(ClientTest, Coordinates) {
  auto client = MakeClient();
  fake_->Respond(200,
                 R"([{"Node":"n1","Segment":"","Coord":{"Vec":[0.1,0.2],"Error":0.5,)"
                 R"("Adjustment":-0.001,"Height":0.002}}])",
                 "8");
  auto nodes = client->CoordinateNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->value.size(), 1u);
  EXPECT_EQ(nodes->value[0].coord.vec, (std::vector<double>{0.1, 0.2}));
  EXPECT_DOUBLE_EQ(nodes->value[0].coord.adjustment, -0.001);
  EXPECT_DOUBLE_EQ(nodes->value[0].coord.height, 0.002);

  fake_->Respond(200, "[]");
  EXPECT_EQ(client->CoordinateNode("n9").status().code(), Code::kNotFound);
  EXPECT_EQ(fake_->last().path, "/v1/coordinate/node/n9");

  fake_->Respond(200, "");
  CoordinateEntry e{"n1", "", Coordinate{{1.0, 2.0}, 1.5, 0.0, 0.01}};
  ASSERT_TRUE(client->CoordinateUpdate(e).ok());
  json body = json::parse(fake_->last().body);
  EXPECT_EQ(body["Node"], "n1");
  EXPECT_EQ(body["Coord"]["Vec"], json({1.0, 2.0}));
  EXPECT_EQ(body["Coord"]["Height"], 0.01);
}

}  // namespace
}  // namespace shovel::consul
