// Helpers shared by the C ABI's translation units (c_api.cc,
// c_api_many.cc, c_api_memory.cc, c_api_pending.cc). Not installed; not part of the ABI.
//
// Memory rule: everything handed to a C caller is allocated with malloc here
// and released by the shovel_*_free functions, so callers never mix
// allocators. The copy helpers throw std::bad_alloc when malloc fails; Guard
// turns that (and every other exception) into a shovel_status.
#pragma once

#include <exception>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shovel/client.h"
#include "shovel/shovel.h"
#include "shovel/status.h"

struct shovel_options {
  shovel::ClientOptions options;
};

struct shovel_client {
  std::unique_ptr<shovel::Client> client;
};

struct shovel_pending {
  // One of them is set: the started call's kind.
  std::unique_ptr<shovel::Pending<uint64_t>> sets;
  std::unique_ptr<shovel::Pending<std::string>> gets;
  size_t count = 0;
  bool waited = false;
};

struct shovel_writer {
  std::unique_ptr<shovel::Writer> writer;
  bool finished = false;  // committed or aborted
};

namespace shovel::capi {

// A NUL-terminated copy from malloc.
char* CopyString(std::string_view s);
// A malloc'ed array of CopyString copies (a 1-element array when empty, so
// the result is never NULL).
char** CopyStrings(const std::vector<std::string>& strings);
shovel_blob_stat* NewBlobStat(const BlobStat& stat);
shovel_node_info* NewNodeInfos(const std::vector<NodeInfo>& nodes);

// Stores `s` into *err (when err is not NULL) and returns its code.
shovel_status Report(const Status& s, char** err);

inline Status Invalid(std::string message) {
  return Status::InvalidArgument(std::move(message));
}

// The checks every entry point makes before touching its handle.
inline Status CheckClient(const shovel_client* c) {
  return c && c->client ? Status::Ok() : Invalid("client handle is NULL");
}

inline Status CheckOut(const void* out, const char* what) {
  return out ? Status::Ok()
             : Invalid(std::string("output argument '") + what + "' is NULL");
}

inline Status CheckData(const void* data, size_t len) {
  return data || len == 0 ? Status::Ok() : Invalid("data is NULL but len is not 0");
}

// Ids must be non-NULL; the client validates the rest (and names the rule).
inline Status CheckId(const char* id, const char* what = "id") {
  return id ? Status::Ok() : Invalid(std::string(what) + " is NULL");
}

// The checks of a call over n ids (c_api_many.cc): the handle, then, when n
// is not 0, `ids` and each (array, name) of `arrays` not NULL, then every
// id pointer.
Status CheckManyCall(const shovel_client* client, size_t n, const char* const* ids,
                     std::initializer_list<std::pair<const void*, const char*>> arrays);
// The (id, value) items of a set_many (copies of the caller's bytes).
Result<std::vector<std::pair<std::string, std::string>>> SetItems(size_t n,
                                                                  const char* const* ids,
                                                                  const void* const* data,
                                                                  const size_t* lens);
// Fill the caller's arrays from a MultiSet / MultiGet's results, as
// shovel_set_many / shovel_get_many document them, and return the first
// failure (OK if none). Arrays other than statuses may be NULL where those
// functions allow it.
Status FillSetResults(const std::vector<Result<uint64_t>>& results, uint64_t* versions,
                      shovel_status* statuses, char** messages);
Status FillGetResults(const std::vector<Result<std::string>>& results, void** data,
                      size_t* lens, shovel_status* statuses, char** messages);

// NULL-safe view of a C string.
inline std::string_view Str(const char* s) { return s ? std::string_view(s) : ""; }

// Runs `body` (returning a Status) and reports its outcome through `err`;
// no exception escapes.
template <typename Body>
shovel_status Guard(char** err, Body&& body) noexcept {
  try {
    return Report(body(), err);
  } catch (const std::bad_alloc&) {
    return Report(Status::Internal("out of memory"), err);
  } catch (const std::exception& e) {
    try {
      return Report(Status::Internal(std::string("unexpected exception: ") + e.what()),
                    err);
    } catch (...) {
    }
  } catch (...) {
  }
  return Report(Status::Internal("unexpected exception"), err);
}

}  // namespace shovel::capi
