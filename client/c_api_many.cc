// shovel_set_many / shovel_get_many: many ids in one call, over
// Client::MultiSet / MultiGet (BATCH messages per worker, each id with its
// own outcome). The checks and the filling of the caller's arrays are
// shared with the started calls (c_api_pending.cc).
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "c_api_internal.h"

using shovel::Status;
namespace capi = shovel::capi;

namespace shovel::capi {

Status CheckManyCall(const shovel_client* client, size_t n, const char* const* ids,
                     std::initializer_list<std::pair<const void*, const char*>> arrays) {
  SHOVEL_RETURN_IF_ERROR(CheckClient(client));
  if (n == 0) return Status::Ok();
  SHOVEL_RETURN_IF_ERROR(CheckOut(ids, "ids"));
  for (auto [array, name] : arrays) SHOVEL_RETURN_IF_ERROR(CheckOut(array, name));
  for (size_t i = 0; i < n; ++i) {
    SHOVEL_RETURN_IF_ERROR(CheckId(ids[i], ("ids[" + std::to_string(i) + "]").c_str()));
  }
  return Status::Ok();
}

namespace {

// Fills statuses[] (and messages[], when not NULL) from `results` and
// returns the first failure (OK if none).
template <typename T>
Status ItemStatuses(const std::vector<shovel::Result<T>>& results,
                    shovel_status* statuses, char** messages) {
  Status first;
  for (size_t i = 0; messages && i < results.size(); ++i) messages[i] = nullptr;
  try {
    for (size_t i = 0; i < results.size(); ++i) {
      const Status& s = results[i].status();
      statuses[i] = static_cast<shovel_status>(s.code());
      if (s.ok()) continue;
      if (first.ok()) first = s;
      if (messages) messages[i] = capi::CopyString(s.ToString());
    }
  } catch (...) {
    for (size_t i = 0; messages && i < results.size(); ++i) {
      std::free(messages[i]);
      messages[i] = nullptr;
    }
    throw;
  }
  return first;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> SetItems(size_t n,
                                                                  const char* const* ids,
                                                                  const void* const* data,
                                                                  const size_t* lens) {
  std::vector<std::pair<std::string, std::string>> items;
  items.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    SHOVEL_RETURN_IF_ERROR(
        CheckData(data[i], lens[i]).WithContext("item " + std::to_string(i)));
    items.emplace_back(ids[i], std::string(static_cast<const char*>(data[i]), lens[i]));
  }
  return items;
}

Status FillSetResults(const std::vector<Result<uint64_t>>& results, uint64_t* versions,
                      shovel_status* statuses, char** messages) {
  for (size_t i = 0; versions && i < results.size(); ++i) {
    versions[i] = results[i].ok() ? *results[i] : 0;
  }
  return ItemStatuses(results, statuses, messages);
}

Status FillGetResults(const std::vector<Result<std::string>>& results, void** data,
                      size_t* lens, shovel_status* statuses, char** messages) {
  const size_t n = results.size();
  for (size_t i = 0; i < n; ++i) data[i] = nullptr, lens[i] = 0;
  Status first = ItemStatuses(results, statuses, messages);
  try {
    for (size_t i = 0; i < n; ++i) {
      if (!results[i].ok()) continue;
      const std::string& v = *results[i];
      data[i] = std::malloc(v.empty() ? 1 : v.size());
      if (!data[i]) throw std::bad_alloc();
      if (!v.empty()) std::memcpy(data[i], v.data(), v.size());
      lens[i] = v.size();
    }
  } catch (...) {
    for (size_t i = 0; i < n; ++i) {
      std::free(data[i]), data[i] = nullptr;
      if (messages) std::free(messages[i]), messages[i] = nullptr;
    }
    throw;
  }
  return first;
}

}  // namespace shovel::capi

extern "C" {

shovel_status shovel_set_many(shovel_client* client, size_t n, const char* const* ids,
                              const void* const* data, const size_t* lens,
                              uint64_t* versions, shovel_status* statuses,
                              char** messages, char** err) {
  return capi::Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(capi::CheckManyCall(
        client, n, ids, {{data, "data"}, {lens, "lens"}, {statuses, "statuses"}}));
    SHOVEL_ASSIGN_OR_RETURN(auto items, capi::SetItems(n, ids, data, lens));
    return capi::FillSetResults(client->client->MultiSet(items), versions, statuses,
                                messages);
  });
}

shovel_status shovel_get_many(shovel_client* client, size_t n, const char* const* ids,
                              void** data, size_t* lens, shovel_status* statuses,
                              char** messages, char** err) {
  return capi::Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(capi::CheckManyCall(
        client, n, ids, {{data, "data"}, {lens, "lens"}, {statuses, "statuses"}}));
    std::vector<std::string> keys(ids, ids + n);
    return capi::FillGetResults(client->client->MultiGet(keys), data, lens, statuses,
                                messages);
  });
}

}  // extern "C"
