// shovel_start_set_many / shovel_start_get_many and their shovel_pending,
// over Client::StartMultiSet / StartMultiGet: many requests in flight from
// one thread.
#include <memory>
#include <string>
#include <vector>

#include "c_api_internal.h"

using shovel::Status;
namespace capi = shovel::capi;

namespace {

// The checks of a wait: a pending of the kind `has` says, not waited for.
Status CheckWait(const shovel_pending* p, bool has, const char* kind) {
  if (!p) return capi::Invalid("pending handle is NULL");
  if (!has) {
    return capi::Invalid(std::string("the pending was not started by shovel_start_") +
                         kind + "_many");
  }
  if (p->waited) return capi::Invalid("the pending's results were already taken");
  return Status::Ok();
}

}  // namespace

extern "C" {

shovel_status shovel_start_set_many(shovel_client* client, size_t n,
                                    const char* const* ids, const void* const* data,
                                    const size_t* lens, shovel_pending** pending,
                                    char** err) {
  if (pending) *pending = nullptr;
  return capi::Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(capi::CheckOut(pending, "pending"));
    SHOVEL_RETURN_IF_ERROR(
        capi::CheckManyCall(client, n, ids, {{data, "data"}, {lens, "lens"}}));
    SHOVEL_ASSIGN_OR_RETURN(auto items, capi::SetItems(n, ids, data, lens));
    auto p = std::make_unique<shovel_pending>();
    p->count = n;
    p->sets = client->client->StartMultiSet(std::move(items));
    *pending = p.release();
    return Status::Ok();
  });
}

shovel_status shovel_start_get_many(shovel_client* client, size_t n,
                                    const char* const* ids, shovel_pending** pending,
                                    char** err) {
  if (pending) *pending = nullptr;
  return capi::Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(capi::CheckOut(pending, "pending"));
    SHOVEL_RETURN_IF_ERROR(capi::CheckManyCall(client, n, ids, {}));
    auto p = std::make_unique<shovel_pending>();
    p->count = n;
    p->gets = client->client->StartMultiGet(std::vector<std::string>(ids, ids + n));
    *pending = p.release();
    return Status::Ok();
  });
}

shovel_status shovel_pending_wait_set(shovel_pending* pending, uint64_t* versions,
                                      shovel_status* statuses, char** messages,
                                      char** err) {
  return capi::Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckWait(pending, pending && pending->sets, "set"));
    if (pending->count > 0) SHOVEL_RETURN_IF_ERROR(capi::CheckOut(statuses, "statuses"));
    pending->waited = true;
    return capi::FillSetResults(pending->sets->Wait(), versions, statuses, messages);
  });
}

shovel_status shovel_pending_wait_get(shovel_pending* pending, void** data, size_t* lens,
                                      shovel_status* statuses, char** messages,
                                      char** err) {
  return capi::Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckWait(pending, pending && pending->gets, "get"));
    if (pending->count > 0) {
      SHOVEL_RETURN_IF_ERROR(capi::CheckOut(data, "data"));
      SHOVEL_RETURN_IF_ERROR(capi::CheckOut(lens, "lens"));
      SHOVEL_RETURN_IF_ERROR(capi::CheckOut(statuses, "statuses"));
    }
    pending->waited = true;
    return capi::FillGetResults(pending->gets->Wait(), data, lens, statuses, messages);
  });
}

size_t shovel_pending_count(const shovel_pending* pending) {
  return pending ? pending->count : 0;
}

void shovel_pending_free(shovel_pending* pending) { delete pending; }

}  // extern "C"
