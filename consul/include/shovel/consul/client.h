// Client: the Consul HTTP API as shoveling uses it.
//
// Every call is one HTTP request through the HttpTransport given at
// construction (shared, thread-safe), so a Client is thread-safe and cheap to
// share. No exception escapes; every error is a Status whose message names
// the method, the URL and, when there was a response, the HTTP status and
// Consul's error text. Codes:
//   kUnavailable     - agent unreachable, or HTTP 5xx/429;
//   kTimeout         - the request deadline passed;
//   kNotFound        - HTTP 404 (unknown service id, check id, session);
//   kInvalidArgument - HTTP 400/403/413 (bad request, ACL token refused);
//   kProtocol        - a response that is not the JSON Consul sends.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/consul/config.h"
#include "shovel/consul/coordinate.h"
#include "shovel/consul/http_transport.h"
#include "shovel/consul/types.h"
#include "shovel/status.h"

namespace shovel::consul {

class Client {
 public:
  Client(Config config, std::shared_ptr<HttpTransport> transport);

  // A Client over libcurl for config.address.
  static Result<std::unique_ptr<Client>> Create(Config config);

  const Config& config() const { return config_; }

  // --- agent (the agent this client talks to) ---
  // PUT /v1/agent/service/register?replace-existing-checks=true
  Status RegisterService(const ServiceRegistration& service);
  Status DeregisterService(std::string_view service_id);
  // PUT /v1/agent/check/update/:id with {Status, Output}.
  Status UpdateTtlCheck(std::string_view check_id, CheckStatus status,
                        std::string_view output);
  // PUT /v1/agent/check/pass|warn|fail/:id?note=...
  Status PassTtl(std::string_view check_id, std::string_view note = {});
  Status WarnTtl(std::string_view check_id, std::string_view note = {});
  Status FailTtl(std::string_view check_id, std::string_view note = {});
  Result<AgentSelf> Self();
  Result<std::map<std::string, AgentService>> AgentServices();

  // --- health and catalog ---
  // GET /v1/health/service/:name[?passing]; blocking with `query`.
  Result<Indexed<std::vector<HealthEntry>>> HealthService(std::string_view name,
                                                          bool passing_only,
                                                          const QueryOptions& query = {});

  // --- KV ---
  // A missing key is nullopt (not an error) so that it can be watched.
  Result<Indexed<std::optional<KvPair>>> KvGet(std::string_view key,
                                               const QueryOptions& query = {});
  // Every pair under `prefix` (?recurse); empty when none.
  Result<Indexed<std::vector<KvPair>>> KvList(std::string_view prefix,
                                              const QueryOptions& query = {});
  // Keys under `prefix` (?keys), folded at `separator` when not empty.
  Result<Indexed<std::vector<std::string>>> KvKeys(std::string_view prefix,
                                                   std::string_view separator = {},
                                                   const QueryOptions& query = {});
  // false when a cas/acquire/release condition did not hold.
  Result<bool> KvPut(std::string_view key, std::string_view value,
                     const KvPutOptions& options = {});
  // false when the cas condition did not hold.
  Result<bool> KvDelete(std::string_view key, const KvDeleteOptions& options = {});

  // --- sessions ---
  Result<std::string> SessionCreate(const SessionOptions& options);  // the ID
  Status SessionDestroy(std::string_view session_id);
  Result<SessionInfo> SessionRenew(std::string_view session_id);  // kNotFound: gone
  Result<std::optional<SessionInfo>> SessionInfoOf(std::string_view session_id);

  // --- network coordinates ---
  Result<Indexed<std::vector<CoordinateEntry>>> CoordinateNodes(
      const QueryOptions& query = {});
  // kNotFound when the node has no coordinate.
  Result<CoordinateEntry> CoordinateNode(std::string_view node);
  // PUT /v1/coordinate/update (Consul agents do this themselves; tests use
  // it to place nodes).
  Status CoordinateUpdate(const CoordinateEntry& entry);

  // --- the building blocks the calls above use ---
  // GET path?query[&index=N&wait=Xms]. `params` is an already-escaped query
  // string without '?' (may be empty). Non-2xx becomes a Status, except 404
  // when `not_found_ok` (then the body is empty and index is kept).
  struct Raw {
    int status = 0;
    std::string body;
    uint64_t index = 0;  // X-Consul-Index, 0 when absent
  };
  Result<Raw> Get(std::string_view path, std::string_view params,
                  const QueryOptions& query, bool not_found_ok = false);
  // PUT/DELETE with a body; non-2xx becomes a Status.
  Result<Raw> Write(std::string_view method, std::string_view path,
                    std::string_view params, std::string body);

 private:
  Result<Raw> Do(HttpRequest request, bool not_found_ok);
  Status CheckUpdate(std::string_view verb, std::string_view check_id,
                     std::string_view note);

  const Config config_;
  const std::shared_ptr<HttpTransport> transport_;
};

// Percent-escapes `s` for a URL path segment or query value (RFC 3986
// unreserved characters pass; with keep_slash, '/' passes too).
std::string UrlEscape(std::string_view s, bool keep_slash = false);

// Go duration text for a wait parameter: "1500ms".
std::string WaitParam(std::chrono::milliseconds wait);

}  // namespace shovel::consul
