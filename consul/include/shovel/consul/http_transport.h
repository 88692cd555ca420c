// HttpTransport: the seam between the Consul client core and the network.
//
// The Client builds HttpRequests and interprets HttpResponses; a transport
// only moves bytes. NewCurlTransport() is the production implementation
// (libcurl); unit tests use an in-memory fake. Implementations must be
// thread-safe: Send() may be called from many threads at once.
//
// CancelToken lets another thread abandon a request that is in flight (a
// blocking query that may hang for minutes); the owner of the token outlives
// every request that points at it.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shovel/status.h"

namespace shovel::consul {

// Set once from any thread; requests that point at it end with kUnavailable
// ("cancelled") within about 50 ms. Thread-safe.
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

struct HttpRequest {
  std::string method = "GET";  // GET, PUT, DELETE
  std::string path;            // "/v1/kv/a%2Fb?recurse", already escaped
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // whole request, connect included
  const CancelToken* cancel = nullptr;       // optional; not owned
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The value of header `name` (any case), if present.
  std::optional<std::string> Header(std::string_view name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // Sends one request and returns the response, whatever its HTTP status
  // (the caller judges 4xx/5xx). Errors, with the URL in the message:
  //   kUnavailable - no connection, connection reset, or cancelled;
  //   kTimeout     - request.timeout passed before the response completed.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;

  // "http://127.0.0.1:8500" or "unix:///run/consul.sock": for messages.
  virtual std::string Describe() const = 0;
};

struct Endpoint;   // config.h
struct TlsConfig;  // config.h

// A libcurl transport for `endpoint`, verifying an https agent as `tls` says.
// Keeps a small pool of easy handles so connections are reused; thread-safe.
// Besides the errors of Send(), TLS failures name their cause and the
// variable to fix, in one line:
//   kPermissionDenied - the agent's certificate is not trusted (or not for
//                       this host), or the agent refused our client
//                       certificate or wants one we did not give;
//   kInvalidArgument  - a CA, certificate or key file libcurl cannot use;
//   kUnavailable      - another handshake failure (plain http on the port?).
std::unique_ptr<HttpTransport> NewCurlTransport(const Endpoint& endpoint,
                                                const TlsConfig& tls);

}  // namespace shovel::consul
