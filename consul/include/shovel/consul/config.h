// Config: where the Consul agent is and how to talk to it.
//
// Built from explicit values or from the environment variables every Consul
// tool reads (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE,
// CONSUL_HTTP_SSL, and for https CONSUL_CACERT, CONSUL_CAPATH,
// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_HTTP_SSL_VERIFY). Plain
// values; thread-compatible.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "shovel/status.h"

namespace shovel::consul {

// A parsed agent address.
struct Endpoint {
  std::string base_url;     // "http://127.0.0.1:8500" (no trailing slash)
  std::string unix_socket;  // "/run/consul.sock" when the address is unix://
  std::string display;      // what the user gave, for messages
};

// Accepts "host:port", "http://host:port", "https://host:port" and
// "unix:///path/to/socket". kInvalidArgument names the accepted forms.
Result<Endpoint> ParseAddress(std::string_view address);

// How an https:// agent is verified and how we prove who we are to it. Only
// used for https addresses. Empty strings: libcurl's defaults (the system CA
// store; no client certificate).
struct TlsConfig {
  std::string ca_file;      // PEM bundle of CAs to trust (CONSUL_CACERT)
  std::string ca_path;      // directory of hashed PEM CAs (CONSUL_CAPATH)
  std::string client_cert;  // PEM client certificate (CONSUL_CLIENT_CERT)
  std::string client_key;   // its PEM key (CONSUL_CLIENT_KEY); empty: in cert
  // false (CONSUL_HTTP_SSL_VERIFY=false): accept any certificate and host
  // name. INSECURE: anyone on the path can read and change the traffic.
  bool verify = true;

  // "CONSUL_CACERT=/path" (or the system CA store): for error messages.
  std::string DescribeTrust() const;
  // "CONSUL_CLIENT_CERT=/path" or "none given": for error messages.
  std::string DescribeClientCert() const;
};

struct Config {
  std::string address = "http://127.0.0.1:8500";  // any form ParseAddress takes
  std::string token;                              // X-Consul-Token; empty: none
  std::chrono::milliseconds timeout{10000};       // per non-blocking request
  TlsConfig tls;                                  // for https:// addresses
  // CONSUL_HTTP_SSL: a scheme-less `address` ("host:port") means https, also
  // when a caller sets `address` after FromEnvironment (a --consul flag).
  bool ssl = false;

  // `address` with https:// added when `ssl` is set and it has no scheme.
  std::string EffectiveAddress() const;

  using Getenv = std::function<std::optional<std::string>(const char* name)>;

  // Defaults overridden by the environment. CONSUL_HTTP_SSL=true turns a
  // scheme-less address into https. When CONSUL_HTTP_TOKEN_FILE names a file
  // with a non-empty token it wins over CONSUL_HTTP_TOKEN (as Consul's own
  // api package does). CONSUL_HTTP_SSL and CONSUL_HTTP_SSL_VERIFY take Go's
  // boolean spellings (1/t/true/0/f/false...). kInvalidArgument for a bad
  // address, a bad boolean, an unreadable token, CA or certificate file, a
  // CONSUL_CAPATH that is not a directory, or CONSUL_CLIENT_KEY without
  // CONSUL_CLIENT_CERT, naming the variable.
  static Result<Config> FromEnvironment();
  static Result<Config> FromEnvironment(const Getenv& getenv);
};

}  // namespace shovel::consul
