#include "reachability.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

namespace shovel::client {
namespace {

// Splits tcp://HOST:PORT (HOST may be [v6]); false when not tcp://.
bool SplitTcp(const std::string& endpoint, std::string& host, std::string& port) {
  constexpr std::string_view kScheme = "tcp://";
  if (endpoint.compare(0, kScheme.size(), kScheme) != 0) return false;
  std::string addr = endpoint.substr(kScheme.size());
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  host = addr.substr(0, colon);
  port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // ZeroMQ's "*" and a "src;dst" pair: left to ZeroMQ.
  return host != "*" && host.find(';') == std::string::npos;
}

// One connect attempt with a deadline: 0 when it connected, else an errno.
int TryConnect(const addrinfo& ai, std::chrono::milliseconds timeout) {
  int fd =
      socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return errno;
  int err = 0;
  if (connect(fd, ai.ai_addr, ai.ai_addrlen) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int n = poll(&p, 1, static_cast<int>(timeout.count()));
      if (n == 0) {
        err = ETIMEDOUT;
      } else if (n < 0) {
        err = errno;
      } else {
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
  }
  close(fd);
  return err;
}

}  // namespace

Status CheckReachable(const std::string& endpoint, std::chrono::milliseconds timeout) {
  std::string host, port;
  if (!SplitTcp(endpoint, host, port)) return Status::Ok();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    return Status::InvalidArgument("worker " + endpoint + ": cannot resolve host '" +
                                   host + "' (" + gai_strerror(rc) + ")");
  }
  int err = 0;
  for (addrinfo* ai = list; ai; ai = ai->ai_next) {
    err = TryConnect(*ai, timeout);
    if (err == 0) break;
  }
  freeaddrinfo(list);
  if (err == 0) return Status::Ok();
  if (err == ETIMEDOUT) {
    return Status::Unavailable("worker " + endpoint + ": no answer within " +
                               std::to_string(timeout.count()) + " ms");
  }
  std::string why = err == ECONNREFUSED ? "connection refused (is shovel-worker running "
                                          "and listening on port " +
                                              port + "?)"
                                        : std::string(std::strerror(err));
  return Status::Unavailable("worker " + endpoint + ": " + why);
}

Status CheckAnyReachable(const std::vector<std::string>& endpoints,
                         std::chrono::milliseconds timeout) {
  std::vector<std::future<Status>> checks;
  checks.reserve(endpoints.size());
  for (const auto& e : endpoints) {
    checks.push_back(std::async(std::launch::async,
                                [&e, timeout] { return CheckReachable(e, timeout); }));
  }
  Status first = Status::Ok();
  bool any = endpoints.empty();
  for (auto& c : checks) {
    Status s = c.get();
    if (s.code() == Code::kInvalidArgument) return s;
    if (s.ok()) {
      any = true;
    } else if (first.ok()) {
      first = s;
    }
  }
  return any ? Status::Ok() : first;
}

}  // namespace shovel::client
