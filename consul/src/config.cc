#include "shovel/consul/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace shovel::consul {
namespace {

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

Status BadAddress(std::string_view address, std::string_view why) {
  return Status::InvalidArgument(
      "Consul address '" + std::string(address) + "' " + std::string(why) +
      "; use host:port, http://host:port, https://host:port or unix:///path");
}

}  // namespace

Result<Endpoint> ParseAddress(std::string_view address) {
  Endpoint e;
  e.display = std::string(address);
  if (address.empty()) return BadAddress(address, "is empty");
  if (address.starts_with("unix://")) {
    std::string_view path = address.substr(7);
    if (path.empty() || path[0] != '/') {
      return BadAddress(address, "needs an absolute socket path");
    }
    e.unix_socket = std::string(path);
    e.base_url = "http://localhost";
    return e;
  }
  std::string_view scheme = "http://";
  std::string_view rest = address;
  if (address.starts_with("http://")) {
    rest = address.substr(7);
  } else if (address.starts_with("https://")) {
    scheme = "https://";
    rest = address.substr(8);
  } else if (address.find("://") != std::string_view::npos) {
    return BadAddress(address, "has an unknown scheme");
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return BadAddress(address, "has no host");
  if (rest.find('/') != std::string_view::npos) {
    return BadAddress(address, "must not contain a path");
  }
  e.base_url = std::string(scheme) + std::string(rest);
  return e;
}

Result<Config> Config::FromEnvironment() {
  return FromEnvironment([](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  });
}

Result<Config> Config::FromEnvironment(const Getenv& getenv) {
  Config config;
  auto addr = getenv("CONSUL_HTTP_ADDR");
  auto ssl = getenv("CONSUL_HTTP_SSL");
  if (addr && !addr->empty()) {
    config.address = *addr;
    if (ssl && (*ssl == "true" || *ssl == "1") &&
        addr->find("://") == std::string::npos) {
      config.address = "https://" + *addr;
    }
  }
  auto parsed = ParseAddress(config.address);
  if (!parsed.ok()) return parsed.status().WithContext("CONSUL_HTTP_ADDR");
  if (auto token = getenv("CONSUL_HTTP_TOKEN"); token) config.token = Trim(*token);
  if (auto file = getenv("CONSUL_HTTP_TOKEN_FILE"); file && !file->empty()) {
    std::ifstream in(*file);
    if (!in) {
      return Status::InvalidArgument("CONSUL_HTTP_TOKEN_FILE: cannot read '" + *file +
                                     "'; fix the path or unset the variable");
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string token = Trim(text.str());
    if (!token.empty()) config.token = token;
  }
  return config;
}

}  // namespace shovel::consul
