#include "shovel/consul/config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

// Go's strconv.ParseBool, which Consul's CLI uses for its boolean variables.
Result<bool> ParseBool(const char* var, const std::string& v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") {
    return true;
  }
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") {
    return false;
  }
  return Status::InvalidArgument(std::string(var) + "='" + v +
                                 "' is not a boolean; use true or false");
}

// The value of a file variable, checked readable now so a typo is named at
// start rather than as a TLS failure later.
Result<std::string> ReadableFile(const Config::Getenv& getenv, const char* var) {
  auto v = getenv(var);
  if (!v || v->empty()) return std::string();
  std::ifstream in(*v);
  if (!in) {
    return Status::InvalidArgument(std::string(var) + ": cannot read '" + *v + "' (" +
                                   std::strerror(errno) +
                                   "); fix the path or unset the variable");
  }
  return *v;
}

Status ReadTls(const Config::Getenv& getenv, TlsConfig& tls) {
  SHOVEL_ASSIGN_OR_RETURN(tls.ca_file, ReadableFile(getenv, "CONSUL_CACERT"));
  SHOVEL_ASSIGN_OR_RETURN(tls.client_cert, ReadableFile(getenv, "CONSUL_CLIENT_CERT"));
  SHOVEL_ASSIGN_OR_RETURN(tls.client_key, ReadableFile(getenv, "CONSUL_CLIENT_KEY"));
  if (!tls.client_key.empty() && tls.client_cert.empty()) {
    return Status::InvalidArgument(
        "CONSUL_CLIENT_KEY is set but CONSUL_CLIENT_CERT is not; set both");
  }
  if (auto dir = getenv("CONSUL_CAPATH"); dir && !dir->empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(*dir, ec)) {
      return Status::InvalidArgument("CONSUL_CAPATH: '" + *dir +
                                     "' is not a directory; fix the path or unset "
                                     "the variable");
    }
    tls.ca_path = *dir;
  }
  if (auto verify = getenv("CONSUL_HTTP_SSL_VERIFY"); verify && !verify->empty()) {
    SHOVEL_ASSIGN_OR_RETURN(tls.verify, ParseBool("CONSUL_HTTP_SSL_VERIFY", *verify));
  }
  return Status::Ok();
}

}  // namespace

std::string TlsConfig::DescribeTrust() const {
  std::string out;
  if (!ca_file.empty()) out = "CONSUL_CACERT=" + ca_file;
  if (!ca_path.empty()) out += (out.empty() ? "" : ", ") + ("CONSUL_CAPATH=" + ca_path);
  return out.empty() ? "the system CA store; set CONSUL_CACERT to the agent's CA" : out;
}

std::string TlsConfig::DescribeClientCert() const {
  return client_cert.empty() ? "none given" : "CONSUL_CLIENT_CERT=" + client_cert;
}

std::string Config::EffectiveAddress() const {
  if (ssl && address.find("://") == std::string::npos) return "https://" + address;
  return address;
}

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
  if (ssl && !ssl->empty()) {
    SHOVEL_ASSIGN_OR_RETURN(config.ssl, ParseBool("CONSUL_HTTP_SSL", *ssl));
  }
  if (addr && !addr->empty()) {
    config.address = *addr;
  } else if (config.ssl) {
    config.address = "127.0.0.1:8500";  // Consul's default, now https
  }
  config.address = config.EffectiveAddress();
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
  SHOVEL_RETURN_IF_ERROR(ReadTls(getenv, config.tls));
  return config;
}

}  // namespace shovel::consul
