// A minimal blocking memcached text-protocol client (set/get), used only by
// the benchmark as the load generator for memcached. One connection; not
// thread-safe (use one per thread).
#pragma once

#include <string>

namespace shovel::bench {

class MemcachedConn {
 public:
  explicit MemcachedConn(int port);
  ~MemcachedConn();
  bool ok() const { return fd_ >= 0; }
  bool Set(const std::string& key, const std::string& value);
  // Returns false on a miss or an error.
  bool Get(const std::string& key, std::string* value);

 private:
  bool SendAll(const char* p, size_t n);
  bool ReadLine(std::string* line);
  bool ReadExact(size_t n, std::string* out);
  int fd_ = -1;
  std::string buf_;  // bytes read past the last parsed item
};

}  // namespace shovel::bench
