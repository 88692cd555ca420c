#include "shovel/consul/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

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

}  // namespace
}  // namespace shovel::consul
