#include "memcached_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace shovel::bench {

MemcachedConn::MemcachedConn(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

MemcachedConn::~MemcachedConn() {
  if (fd_ >= 0) close(fd_);
}

bool MemcachedConn::SendAll(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd_, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool MemcachedConn::ReadLine(std::string* line) {
  while (true) {
    size_t pos = buf_.find("\r\n");
    if (pos != std::string::npos) {
      line->assign(buf_, 0, pos);
      buf_.erase(0, pos + 2);
      return true;
    }
    char tmp[65536];
    ssize_t r = recv(fd_, tmp, sizeof tmp, 0);
    if (r <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(r));
  }
}

bool MemcachedConn::ReadExact(size_t n, std::string* out) {
  out->clear();
  out->reserve(n);
  size_t take = std::min(n, buf_.size());
  out->append(buf_, 0, take);
  buf_.erase(0, take);
  while (out->size() < n) {
    size_t want = n - out->size();
    size_t old = out->size();
    out->resize(n);
    ssize_t r = recv(fd_, out->data() + old, want, 0);
    if (r <= 0) return false;
    out->resize(old + static_cast<size_t>(r));
  }
  return true;
}

bool MemcachedConn::Set(const std::string& key, const std::string& value) {
  std::string head = "set " + key + " 0 0 " + std::to_string(value.size()) + "\r\n";
  if (!SendAll(head.data(), head.size()) || !SendAll(value.data(), value.size()) ||
      !SendAll("\r\n", 2)) {
    return false;
  }
  std::string line;
  return ReadLine(&line) && line == "STORED";
}

bool MemcachedConn::Get(const std::string& key, std::string* value) {
  std::string req = "get " + key + "\r\n";
  if (!SendAll(req.data(), req.size())) return false;
  std::string line;
  if (!ReadLine(&line)) return false;
  if (line == "END") return false;
  // VALUE <key> <flags> <bytes>
  size_t sp = line.rfind(' ');
  if (line.rfind("VALUE ", 0) != 0 || sp == std::string::npos) return false;
  size_t n = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
  std::string crlf, end;
  return ReadExact(n, value) && ReadExact(2, &crlf) && ReadLine(&end) && end == "END";
}

}  // namespace shovel::bench
