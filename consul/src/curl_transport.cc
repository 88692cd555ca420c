// The libcurl HttpTransport. Each request uses an (easy, multi) handle pair
// taken from a pool, so connections are reused across calls and a request in
// flight can be abandoned through its CancelToken (the multi loop polls it
// every 50 ms). libcurl's global init runs once, before the first handle.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include "shovel/consul/config.h"
#include "shovel/consul/http_transport.h"

namespace shovel::consul {
namespace {

constexpr size_t kMaxIdleHandles = 8;
constexpr int kPollMs = 50;
constexpr long kMaxConnectMs = 5000;

struct Handles {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after 100-continue or a redirect)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() &&
         (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  (*headers)[name] = std::string(value);
  return size * n;
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// The host of `base_url` ("https://host:port" or "https://[v6]:port").
std::string HostOf(const std::string& base_url) {
  std::string_view rest = base_url;
  if (auto scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
  }
  if (rest.starts_with("[")) return std::string(rest.substr(1, rest.find(']') - 1));
  return std::string(rest.substr(0, rest.find_first_of(":/")));
}

// A one-line status for a TLS failure, naming the cause and what to set; Ok
// when `code` is not one. `what` is "GET https://host:port/v1/...", `host`
// the host of the agent's address.
Status TlsError(const std::string& what, const std::string& host, CURLcode code,
                const std::string& detail, const TlsConfig& tls) {
  // A server that refuses our certificate (or its absence) sends an alert;
  // with TLS 1.3 it arrives on the first read, not in the handshake.
  const bool refused_us = Contains(detail, "alert certificate required") ||
                          Contains(detail, "alert bad certificate") ||
                          Contains(detail, "alert unknown ca") ||
                          Contains(detail, "alert handshake failure") ||
                          Contains(detail, "alert certificate unknown");
  // The chain is trusted, the name is not the address's: OpenSSL through
  // libcurl says "no alternative certificate subject name matches target
  // host name 'H'" or "certificate subject name 'X' does not match target
  // host name 'H'".
  if (code == CURLE_PEER_FAILED_VERIFICATION && Contains(detail, "subject name") &&
      Contains(detail, "target host name")) {
    return Status::PermissionDenied(
        what + ": TLS certificate of the Consul agent is not for " + host +
        " (the CA is trusted; use an address its certificate names, or give the agent "
        "a certificate whose subjectAltName has " +
        host + "): " + detail);
  }
  if (code == CURLE_PEER_FAILED_VERIFICATION) {
    return Status::PermissionDenied(
        what + ": TLS certificate of the Consul agent not trusted (" +
        tls.DescribeTrust() + "): " + detail);
  }
  if (code == CURLE_SSL_CACERT_BADFILE) {
    return Status::InvalidArgument(what + ": cannot load the CA certificates (" +
                                   tls.DescribeTrust() + "): " + detail);
  }
  if (code == CURLE_SSL_CERTPROBLEM) {
    return Status::InvalidArgument(
        what + ": cannot use the TLS client certificate (" + tls.DescribeClientCert() +
        (tls.client_key.empty() ? "" : ", CONSUL_CLIENT_KEY=" + tls.client_key) +
        "): " + detail);
  }
  if (refused_us && tls.client_cert.empty()) {
    return Status::PermissionDenied(
        what +
        ": the Consul agent requires a TLS client certificate; set "
        "CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY: " +
        detail);
  }
  if (refused_us) {
    return Status::PermissionDenied(what +
                                    ": the Consul agent refused the TLS client "
                                    "certificate (" +
                                    tls.DescribeClientCert() + "): " + detail);
  }
  if (code == CURLE_SSL_CONNECT_ERROR) {
    return Status::Unavailable(what + ": TLS handshake with the Consul agent failed (" +
                               detail + "); does it serve https on this port?");
  }
  return Status::Ok();
}

class CurlTransport final : public HttpTransport {
 public:
  CurlTransport(Endpoint endpoint, TlsConfig tls)
      : endpoint_(std::move(endpoint)), tls_(std::move(tls)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  ~CurlTransport() override {
    for (Handles& h : idle_) Free(h);
  }

  std::string Describe() const override {
    return endpoint_.unix_socket.empty() ? endpoint_.base_url
                                         : "unix://" + endpoint_.unix_socket;
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    Handles h = Acquire();
    if (h.easy == nullptr || h.multi == nullptr) {
      Free(h);
      return Status::Internal("libcurl could not create a handle");
    }
    Result<HttpResponse> result = Perform(h, request);
    Release(h);
    return result;
  }

 private:
  Result<HttpResponse> Perform(Handles& h, const HttpRequest& request) {
    CURL* easy = h.easy;
    curl_easy_reset(easy);
    const std::string url = endpoint_.base_url + request.path;
    const std::string what = request.method + " " + Describe() + request.path;
    HttpResponse response;
    char error[CURL_ERROR_SIZE] = {0};

    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    if (!endpoint_.unix_socket.empty()) {
      curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, endpoint_.unix_socket.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (https_) SetTlsOptions(easy);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
    long timeout_ms = std::max<long>(1, request.timeout.count());
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     std::min(timeout_ms, kMaxConnectMs));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &response.headers);
    if (request.method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      if (request.method != "DELETE" || !request.body.empty()) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
      }
    }
    curl_slist* headers = curl_slist_append(nullptr, "Expect:");
    for (const auto& [name, value] : request.headers) {
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

    CURLcode code = CURLE_OK;
    bool cancelled = false;
    curl_multi_add_handle(h.multi, easy);
    for (;;) {
      int running = 0;
      CURLMcode mc = curl_multi_perform(h.multi, &running);
      if (mc != CURLM_OK) {
        code = CURLE_SEND_ERROR;
        break;
      }
      if (running == 0) {
        int queued = 0;
        code = CURLE_GOT_NOTHING;
        while (CURLMsg* msg = curl_multi_info_read(h.multi, &queued)) {
          if (msg->msg == CURLMSG_DONE) code = msg->data.result;
        }
        break;
      }
      if (request.cancel != nullptr && request.cancel->cancelled()) {
        cancelled = true;
        break;
      }
      curl_multi_poll(h.multi, nullptr, 0, kPollMs, nullptr);
    }
    curl_multi_remove_handle(h.multi, easy);
    curl_slist_free_all(headers);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);

    if (cancelled) return Status::Unavailable(what + ": cancelled");
    if (code != CURLE_OK) {
      std::string detail = error[0] != 0 ? error : curl_easy_strerror(code);
      if (https_) {
        Status tls = TlsError(what, HostOf(endpoint_.base_url), code, detail, tls_);
        if (!tls.ok()) return tls;
      }
      if (code == CURLE_OPERATION_TIMEDOUT) {
        return Status::Timeout(what + ": no answer from the Consul agent within " +
                               std::to_string(timeout_ms) + " ms (" + detail + ")");
      }
      if (code == CURLE_GOT_NOTHING && !https_) {
        return Status::Unavailable(what + ": the Consul agent closed the connection (" +
                                   detail +
                                   "); if it serves https, use an https:// address or "
                                   "CONSUL_HTTP_SSL=true");
      }
      return Status::Unavailable(what + ": cannot reach the Consul agent (" + detail +
                                 "); is it running at " + Describe() + "?");
    }
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    return response;
  }

  void SetTlsOptions(CURL* easy) const {
    if (!tls_.ca_file.empty())
      curl_easy_setopt(easy, CURLOPT_CAINFO, tls_.ca_file.c_str());
    if (!tls_.ca_path.empty())
      curl_easy_setopt(easy, CURLOPT_CAPATH, tls_.ca_path.c_str());
    if (!tls_.client_cert.empty()) {
      curl_easy_setopt(easy, CURLOPT_SSLCERT, tls_.client_cert.c_str());
      if (!tls_.client_key.empty()) {
        curl_easy_setopt(easy, CURLOPT_SSLKEY, tls_.client_key.c_str());
      }
    }
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, tls_.verify ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, tls_.verify ? 2L : 0L);
  }

  Handles Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        Handles h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return Handles{curl_easy_init(), curl_multi_init()};
  }

  void Release(Handles h) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(h);
    } else {
      Free(h);
    }
  }

  static void Free(Handles& h) {
    if (h.multi != nullptr) curl_multi_cleanup(h.multi);
    if (h.easy != nullptr) curl_easy_cleanup(h.easy);
    h = Handles{};
  }

  const Endpoint endpoint_;
  const TlsConfig tls_;
  const bool https_ = endpoint_.base_url.starts_with("https://");
  std::mutex mu_;  // guards idle_
  std::vector<Handles> idle_;
};

}  // namespace

std::unique_ptr<HttpTransport> NewCurlTransport(const Endpoint& endpoint,
                                                const TlsConfig& tls) {
  return std::make_unique<CurlTransport>(endpoint, tls);
}

}  // namespace shovel::consul
