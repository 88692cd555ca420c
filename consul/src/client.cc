// Client: request plumbing, agent, health, sessions and coordinates.
// KV lives in client_kv.cc.
#include "shovel/consul/client.h"

#include <charconv>

#include "codec.h"

namespace shovel::consul {
namespace {

constexpr size_t kMaxErrorBody = 300;
constexpr std::chrono::minutes kDefaultWait{5};

std::string Join(std::string_view path, std::string_view params) {
  std::string out(path);
  if (!params.empty()) {
    out += '?';
    out += params;
  }
  return out;
}

void AddParam(std::string& params, std::string_view param) {
  if (!params.empty()) params += '&';
  params += param;
}

Status HttpError(const std::string& what, int status, std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
    body.remove_suffix(1);
  }
  std::string text = what + ": HTTP " + std::to_string(status);
  if (!body.empty()) {
    text += ": " + std::string(body.substr(0, kMaxErrorBody));
    if (body.size() > kMaxErrorBody) text += "...";
  }
  switch (status) {
    case 400:
    case 413:
      return Status::InvalidArgument(text);
    case 401:
    case 403:
      return Status::InvalidArgument(text + " (check CONSUL_HTTP_TOKEN)");
    case 404:
      return Status::NotFound(text);
    case 409:
      return Status::Conflict(text);
    default:
      if (status == 429 || status >= 500) return Status::Unavailable(text);
      return Status::Protocol(text + " (unexpected HTTP status)");
  }
}

}  // namespace

std::string UrlEscape(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string WaitParam(std::chrono::milliseconds wait) { return codec::GoDuration(wait); }

Client::Client(Config config, std::shared_ptr<HttpTransport> transport)
    : config_(std::move(config)), transport_(std::move(transport)) {}

Result<std::unique_ptr<Client>> Client::Create(Config config) {
  config.address = config.EffectiveAddress();
  SHOVEL_ASSIGN_OR_RETURN(Endpoint endpoint, ParseAddress(config.address));
  std::shared_ptr<HttpTransport> transport = NewCurlTransport(endpoint, config.tls);
  return std::make_unique<Client>(std::move(config), std::move(transport));
}

Result<Client::Raw> Client::Do(HttpRequest request, bool not_found_ok) {
  if (!config_.token.empty())
    request.headers.emplace_back("X-Consul-Token", config_.token);
  const std::string what = request.method + " " + transport_->Describe() + request.path;
  Result<HttpResponse> response = transport_->Send(request);
  if (!response.ok()) return response.status();
  Raw raw;
  raw.status = response->status;
  if (auto index = response->Header("X-Consul-Index"); index) {
    auto [end, ec] =
        std::from_chars(index->data(), index->data() + index->size(), raw.index);
    if (ec != std::errc() || end != index->data() + index->size()) {
      return Status::Protocol(what + ": X-Consul-Index '" + *index + "' is not a number");
    }
  }
  if (raw.status >= 200 && raw.status < 300) {
    raw.body = std::move(response->body);
    return raw;
  }
  if (raw.status == 404 && not_found_ok) return raw;
  return HttpError(what, raw.status, response->body);
}

Result<Client::Raw> Client::Get(std::string_view path, std::string_view params,
                                const QueryOptions& query, bool not_found_ok) {
  HttpRequest request;
  request.method = "GET";
  request.timeout = config_.timeout;
  request.cancel = query.cancel;
  std::string all(params);
  if (query.index > 0) {
    AddParam(all, "index=" + std::to_string(query.index));
    auto wait = query.wait.count() > 0 ? query.wait : kDefaultWait;
    if (query.wait.count() > 0) AddParam(all, "wait=" + WaitParam(query.wait));
    // Consul may add up to wait/16 of jitter before it answers.
    request.timeout += wait + wait / 16;
  }
  request.path = Join(path, all);
  return Do(std::move(request), not_found_ok);
}

Result<Client::Raw> Client::Write(std::string_view method, std::string_view path,
                                  std::string_view params, std::string body) {
  HttpRequest request;
  request.method = std::string(method);
  request.path = Join(path, params);
  request.body = std::move(body);
  request.timeout = config_.timeout;
  return Do(std::move(request), false);
}

Status Client::RegisterService(const ServiceRegistration& service) {
  if (service.name.empty()) {
    return Status::InvalidArgument("a Consul service registration needs a name");
  }
  auto r = Write("PUT", "/v1/agent/service/register", "replace-existing-checks=true",
                 codec::EncodeRegistration(service));
  return r.ok() ? Status::Ok() : r.status().WithContext("register service");
}

Status Client::DeregisterService(std::string_view service_id) {
  auto r = Write("PUT", "/v1/agent/service/deregister/" + UrlEscape(service_id), "", "");
  return r.ok() ? Status::Ok() : r.status().WithContext("deregister service");
}

Status Client::UpdateTtlCheck(std::string_view check_id, CheckStatus status,
                              std::string_view output) {
  auto r = Write("PUT", "/v1/agent/check/update/" + UrlEscape(check_id), "",
                 codec::EncodeCheckUpdate(status, output));
  return r.ok() ? Status::Ok() : r.status().WithContext("update TTL check");
}

Status Client::CheckUpdate(std::string_view verb, std::string_view check_id,
                           std::string_view note) {
  std::string params = note.empty() ? "" : "note=" + UrlEscape(note);
  auto r =
      Write("PUT", "/v1/agent/check/" + std::string(verb) + "/" + UrlEscape(check_id),
            params, "");
  return r.ok() ? Status::Ok() : r.status().WithContext(std::string(verb) + " TTL check");
}

Status Client::PassTtl(std::string_view id, std::string_view note) {
  return CheckUpdate("pass", id, note);
}
Status Client::WarnTtl(std::string_view id, std::string_view note) {
  return CheckUpdate("warn", id, note);
}
Status Client::FailTtl(std::string_view id, std::string_view note) {
  return CheckUpdate("fail", id, note);
}

Result<AgentSelf> Client::Self() {
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get("/v1/agent/self", "", {}));
  auto self = codec::DecodeSelf(raw.body);
  if (!self.ok()) return self.status().WithContext("GET /v1/agent/self");
  return self;
}

Result<std::map<std::string, AgentService>> Client::AgentServices() {
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get("/v1/agent/services", "", {}));
  auto services = codec::DecodeAgentServices(raw.body);
  if (!services.ok()) return services.status().WithContext("GET /v1/agent/services");
  return services;
}

Result<Indexed<std::vector<HealthEntry>>> Client::HealthService(
    std::string_view name, bool passing_only, const QueryOptions& query) {
  std::string path = "/v1/health/service/" + UrlEscape(name);
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get(path, passing_only ? "passing" : "", query));
  auto entries = codec::DecodeHealth(raw.body);
  if (!entries.ok()) return entries.status().WithContext("GET " + path);
  return Indexed<std::vector<HealthEntry>>{std::move(*entries), raw.index};
}

Result<std::string> Client::SessionCreate(const SessionOptions& options) {
  SHOVEL_ASSIGN_OR_RETURN(
      Raw raw, Write("PUT", "/v1/session/create", "", codec::EncodeSession(options)));
  auto id = codec::DecodeSessionId(raw.body);
  if (!id.ok()) return id.status().WithContext("PUT /v1/session/create");
  return id;
}

Status Client::SessionDestroy(std::string_view id) {
  auto r = Write("PUT", "/v1/session/destroy/" + UrlEscape(id), "", "");
  return r.ok() ? Status::Ok() : r.status().WithContext("destroy session");
}

Result<SessionInfo> Client::SessionRenew(std::string_view id) {
  std::string path = "/v1/session/renew/" + UrlEscape(id);
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Write("PUT", path, "", ""));
  auto sessions = codec::DecodeSessions(raw.body);
  if (!sessions.ok()) return sessions.status().WithContext("PUT " + path);
  if (sessions->empty()) {
    return Status::NotFound("PUT " + path + ": session '" + std::string(id) +
                            "' does not exist (expired or destroyed)");
  }
  return std::move(sessions->front());
}

Result<std::optional<SessionInfo>> Client::SessionInfoOf(std::string_view id) {
  std::string path = "/v1/session/info/" + UrlEscape(id);
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get(path, "", {}, /*not_found_ok=*/true));
  if (raw.status == 404) return std::optional<SessionInfo>();
  auto sessions = codec::DecodeSessions(raw.body);
  if (!sessions.ok()) return sessions.status().WithContext("GET " + path);
  if (sessions->empty()) return std::optional<SessionInfo>();
  return std::optional<SessionInfo>(std::move(sessions->front()));
}

Result<Indexed<std::vector<CoordinateEntry>>> Client::CoordinateNodes(
    const QueryOptions& query) {
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get("/v1/coordinate/nodes", "", query));
  auto entries = codec::DecodeCoordinates(raw.body);
  if (!entries.ok()) return entries.status().WithContext("GET /v1/coordinate/nodes");
  return Indexed<std::vector<CoordinateEntry>>{std::move(*entries), raw.index};
}

Result<CoordinateEntry> Client::CoordinateNode(std::string_view node) {
  std::string path = "/v1/coordinate/node/" + UrlEscape(node);
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get(path, "", {}));
  auto entries = codec::DecodeCoordinates(raw.body);
  if (!entries.ok()) return entries.status().WithContext("GET " + path);
  if (entries->empty()) {
    return Status::NotFound("GET " + path + ": node '" + std::string(node) +
                            "' has no network coordinate yet");
  }
  return std::move(entries->front());
}

Status Client::CoordinateUpdate(const CoordinateEntry& entry) {
  auto r = Write("PUT", "/v1/coordinate/update", "", codec::EncodeCoordinateEntry(entry));
  return r.ok() ? Status::Ok() : r.status().WithContext("update coordinate");
}

}  // namespace shovel::consul
