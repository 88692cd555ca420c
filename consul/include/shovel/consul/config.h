// Config: where the Consul agent is and how to talk to it.
//
// Built from explicit values or from the environment variables every Consul
// tool reads (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE,
// CONSUL_HTTP_SSL). Plain values; thread-compatible.
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

struct Config {
  std::string address = "http://127.0.0.1:8500";  // any form ParseAddress takes
  std::string token;                              // X-Consul-Token; empty: none
  std::chrono::milliseconds timeout{10000};       // per non-blocking request

  using Getenv = std::function<std::optional<std::string>(const char* name)>;

  // Defaults overridden by the environment. CONSUL_HTTP_SSL=true turns a
  // scheme-less address into https. When CONSUL_HTTP_TOKEN_FILE names a file
  // with a non-empty token it wins over CONSUL_HTTP_TOKEN (as Consul's own
  // api package does). kInvalidArgument for a bad address or an unreadable
  // token file, naming the variable.
  static Result<Config> FromEnvironment();
  static Result<Config> FromEnvironment(const Getenv& getenv);
};

}  // namespace shovel::consul
