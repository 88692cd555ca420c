#include "shovel/consul/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace shovel::consul {
namespace {

Config::Getenv Env(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ParseAddressTest, AcceptedForms) {
  EXPECT_EQ(ParseAddress("127.0.0.1:8500")->base_url, "http://127.0.0.1:8500");
  EXPECT_EQ(ParseAddress("http://consul:8500/")->base_url, "http://consul:8500");
  EXPECT_EQ(ParseAddress("https://consul:8501")->base_url, "https://consul:8501");
  auto unix_addr = ParseAddress("unix:///run/consul/http.sock");
  ASSERT_TRUE(unix_addr.ok());
  EXPECT_EQ(unix_addr->unix_socket, "/run/consul/http.sock");
  EXPECT_EQ(unix_addr->base_url, "http://localhost");
}

TEST(ParseAddressTest, RejectedFormsNameTheRule) {
  for (const char* bad :
       {"", "ftp://x:1", "unix://relative.sock", "http://", "http://h:1/v1"}) {
    auto r = ParseAddress(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("unix:///path"), std::string::npos);
  }
}

TEST(ConfigTest, DefaultsWithoutEnvironment) {
  auto c = Config::FromEnvironment(Env({}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->address, "http://127.0.0.1:8500");
  EXPECT_EQ(c->token, "");
}

TEST(ConfigTest, ReadsAddressTokenAndSsl) {
  auto c = Config::FromEnvironment(Env({{"CONSUL_HTTP_ADDR", "10.0.0.5:8501"},
                                        {"CONSUL_HTTP_SSL", "true"},
                                        {"CONSUL_HTTP_TOKEN", " s3cret\n"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->address, "https://10.0.0.5:8501");
  EXPECT_EQ(c->token, "s3cret");
  auto u = Config::FromEnvironment(Env({{"CONSUL_HTTP_ADDR", "unix:///tmp/c.sock"}}));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->address, "unix:///tmp/c.sock");
}

TEST(ConfigTest, TokenFileWinsOverToken) {
  char path[] = "/tmp/consul-token-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "from-file\n";
  auto c = Config::FromEnvironment(
      Env({{"CONSUL_HTTP_TOKEN", "from-env"}, {"CONSUL_HTTP_TOKEN_FILE", path}}));
  std::remove(path);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->token, "from-file");
}

TEST(ConfigTest, BadValuesNameTheVariable) {
  auto missing =
      Config::FromEnvironment(Env({{"CONSUL_HTTP_TOKEN_FILE", "/nonexistent/t"}}));
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("CONSUL_HTTP_TOKEN_FILE"), std::string::npos);
  auto addr = Config::FromEnvironment(Env({{"CONSUL_HTTP_ADDR", "gopher://x:1"}}));
  EXPECT_EQ(addr.status().code(), Code::kInvalidArgument);
  EXPECT_NE(addr.status().message().find("CONSUL_HTTP_ADDR"), std::string::npos);
}

TEST(ConfigTest, ReadsTlsVariables) {
  char ca[] = "/tmp/consul-ca-XXXXXX";
  int fd = mkstemp(ca);
  ASSERT_GE(fd, 0);
  close(fd);
  auto c = Config::FromEnvironment(Env({{"CONSUL_HTTP_ADDR", "127.0.0.1:8501"},
                                        {"CONSUL_HTTP_SSL", "T"},
                                        {"CONSUL_CACERT", ca},
                                        {"CONSUL_CAPATH", "/tmp"},
                                        {"CONSUL_CLIENT_CERT", ca},
                                        {"CONSUL_CLIENT_KEY", ca},
                                        {"CONSUL_HTTP_SSL_VERIFY", "false"}}));
  std::remove(ca);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->address, "https://127.0.0.1:8501");
  EXPECT_EQ(c->tls.ca_file, ca);
  EXPECT_EQ(c->tls.ca_path, "/tmp");
  EXPECT_EQ(c->tls.client_cert, ca);
  EXPECT_EQ(c->tls.client_key, ca);
  EXPECT_FALSE(c->tls.verify);
  // CONSUL_HTTP_SSL also applies to an address a flag sets later.
  c->address = "10.0.0.7:8501";
  EXPECT_EQ(c->EffectiveAddress(), "https://10.0.0.7:8501");
  c->address = "http://10.0.0.7:8500";
  EXPECT_EQ(c->EffectiveAddress(), "http://10.0.0.7:8500");
  auto s = Config::FromEnvironment(Env({{"CONSUL_HTTP_SSL", "1"}}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->address, "https://127.0.0.1:8500");
  auto d = Config::FromEnvironment(Env({}));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->tls.verify);
  EXPECT_TRUE(d->tls.ca_file.empty());
}

TEST(ConfigTest, BadTlsValuesNameTheVariable) {
  struct Case {
    std::map<std::string, std::string> env;
    std::string names;
  };
  for (const Case& k : std::vector<Case>{
           {{{"CONSUL_CACERT", "/nonexistent/ca.pem"}}, "CONSUL_CACERT"},
           {{{"CONSUL_CLIENT_CERT", "/nonexistent/c.pem"}}, "CONSUL_CLIENT_CERT"},
           {{{"CONSUL_CLIENT_KEY", "/proc/self/status"}}, "CONSUL_CLIENT_CERT is not"},
           {{{"CONSUL_CAPATH", "/proc/self/status"}}, "CONSUL_CAPATH"},
           {{{"CONSUL_HTTP_SSL_VERIFY", "maybe"}}, "CONSUL_HTTP_SSL_VERIFY"},
           {{{"CONSUL_HTTP_SSL", "yes"}}, "CONSUL_HTTP_SSL"}}) {
    auto c = Config::FromEnvironment(Env(k.env));
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument) << k.names;
    EXPECT_NE(c.status().message().find(k.names), std::string::npos)
        << c.status().ToString();
  }
}

}  // namespace
}  // namespace shovel::consul
