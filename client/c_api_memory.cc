// The C ABI's memory and status helpers: what the library allocates for a
// caller and the functions that free it. See c_api_internal.h.
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "c_api_internal.h"
#include "shovel/shovel.h"
#include "shovel/status.h"

// shovel_status mirrors shovel::Code number for number (shovel.h promises it).
#define SHOVEL_SAME_CODE(c, k) \
  static_assert(static_cast<int>(c) == static_cast<int>(shovel::Code::k), #c)
SHOVEL_SAME_CODE(SHOVEL_OK, kOk);
SHOVEL_SAME_CODE(SHOVEL_NOT_FOUND, kNotFound);
SHOVEL_SAME_CODE(SHOVEL_ALREADY_EXISTS, kAlreadyExists);
SHOVEL_SAME_CODE(SHOVEL_INVALID_ARGUMENT, kInvalidArgument);
SHOVEL_SAME_CODE(SHOVEL_NO_SPACE, kNoSpace);
SHOVEL_SAME_CODE(SHOVEL_UNAVAILABLE, kUnavailable);
SHOVEL_SAME_CODE(SHOVEL_TIMEOUT, kTimeout);
SHOVEL_SAME_CODE(SHOVEL_CORRUPTION, kCorruption);
SHOVEL_SAME_CODE(SHOVEL_INTERNAL, kInternal);
SHOVEL_SAME_CODE(SHOVEL_REDIRECT, kRedirect);
SHOVEL_SAME_CODE(SHOVEL_PROTOCOL, kProtocol);
SHOVEL_SAME_CODE(SHOVEL_CONFLICT, kConflict);
SHOVEL_SAME_CODE(SHOVEL_PERMISSION_DENIED, kPermissionDenied);
#undef SHOVEL_SAME_CODE

#ifndef SHOVEL_VERSION_STRING
#define SHOVEL_VERSION_STRING "0.0.0"
#endif

namespace shovel::capi {

char* CopyString(std::string_view s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  if (!s.empty()) std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return out;
}

char** CopyStrings(const std::vector<std::string>& strings) {
  size_t n = strings.size();
  char** out = static_cast<char**>(std::calloc(n ? n : 1, sizeof(char*)));
  if (!out) throw std::bad_alloc();
  try {
    for (size_t i = 0; i < n; ++i) out[i] = CopyString(strings[i]);
  } catch (...) {
    shovel_strings_free(out, n);
    throw;
  }
  return out;
}

shovel_blob_stat* NewBlobStat(const BlobStat& stat) {
  auto* out = static_cast<shovel_blob_stat*>(std::calloc(1, sizeof(shovel_blob_stat)));
  if (!out) throw std::bad_alloc();
  try {
    out->id = CopyString(stat.id);
    out->holders = CopyStrings(stat.holders);
    out->n_holders = stat.holders.size();
  } catch (...) {
    shovel_blob_stat_free(out);
    throw;
  }
  out->size = stat.size;
  out->stored_bytes = stat.stored_bytes;
  out->version = stat.version;
  out->ctime_ns = stat.ctime_ns;
  out->mtime_ns = stat.mtime_ns;
  out->atime_ns = stat.atime_ns;
  out->pinned = stat.pinned ? 1 : 0;
  return out;
}

shovel_node_info* NewNodeInfos(const std::vector<NodeInfo>& nodes) {
  size_t n = nodes.size();
  auto* out =
      static_cast<shovel_node_info*>(std::calloc(n ? n : 1, sizeof(shovel_node_info)));
  if (!out) throw std::bad_alloc();
  try {
    for (size_t i = 0; i < n; ++i) {
      const NodeInfo& in = nodes[i];
      shovel_node_info& o = out[i];
      o.node_id = CopyString(in.node_id);
      o.endpoint = CopyString(in.endpoint);
      o.consul_node = CopyString(in.consul_node);
      o.healthy = in.healthy ? 1 : 0;
      o.cores = in.cores;
      o.mem_used = in.mem_used;
      o.mem_limit = in.mem_limit;
      o.ids = in.ids;
      o.load = in.load;
    }
  } catch (...) {
    shovel_members_free(out, n);
    throw;
  }
  return out;
}

shovel_status Report(const Status& s, char** err) {
  if (err) {
    *err = nullptr;
    if (!s.ok()) {
      try {
        *err = CopyString(s.ToString());
      } catch (...) {
        *err = nullptr;  // out of memory: the code alone must do
      }
    }
  }
  return static_cast<shovel_status>(s.code());
}

}  // namespace shovel::capi

extern "C" {

const char* shovel_version(void) { return SHOVEL_VERSION_STRING; }

const char* shovel_status_name(shovel_status status) {
  int code = static_cast<int>(status);
  if (code < SHOVEL_OK || code > SHOVEL_PERMISSION_DENIED) return "unknown";
  // CodeName returns views of string literals, so .data() is NUL-terminated.
  return shovel::CodeName(static_cast<shovel::Code>(code)).data();
}

void shovel_free(void* ptr) { std::free(ptr); }

void shovel_error_free(char* err) { std::free(err); }

void shovel_strings_free(char** strings, size_t n) {
  if (!strings) return;
  for (size_t i = 0; i < n; ++i) std::free(strings[i]);
  std::free(strings);
}

void shovel_blob_stat_free(shovel_blob_stat* stat) {
  if (!stat) return;
  std::free(stat->id);
  shovel_strings_free(stat->holders, stat->n_holders);
  std::free(stat);
}

void shovel_members_free(shovel_node_info* nodes, size_t n) {
  if (!nodes) return;
  for (size_t i = 0; i < n; ++i) {
    std::free(nodes[i].node_id);
    std::free(nodes[i].endpoint);
    std::free(nodes[i].consul_node);
  }
  std::free(nodes);
}

}  // extern "C"
