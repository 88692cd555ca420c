// The C ABI (shovel/shovel.h) over shovel::Client.
//
// Every exported function runs its body inside Guard(), which turns a
// shovel::Status into a shovel_status + optional message and catches every
// exception (std::bad_alloc included), so none crosses the ABI. Memory handed
// to the caller comes from malloc (c_api_memory.cc) and goes back through
// shovel_free and friends.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "c_api_internal.h"
#include "shovel/client.h"
#include "shovel/shovel.h"
#include "shovel/status.h"

using shovel::Status;
using shovel::capi::CheckClient;
using shovel::capi::CheckData;
using shovel::capi::CheckId;
using shovel::capi::CheckOut;
using shovel::capi::CopyString;
using shovel::capi::CopyStrings;
using shovel::capi::Guard;
using shovel::capi::Invalid;
using shovel::capi::Str;

namespace {

std::vector<std::string> SplitWorkers(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

extern "C" {

// ---- connecting -------------------------------------------------------------

shovel_options* shovel_options_create(void) {
  try {
    return new shovel_options();
  } catch (...) {
    return nullptr;
  }
}

void shovel_options_destroy(shovel_options* options) { delete options; }

void shovel_options_set_workers(shovel_options* options, const char* workers) {
  if (!options) return;
  try {
    options->options.workers = SplitWorkers(Str(workers));
  } catch (...) {
    options->options.workers.clear();
  }
}

void shovel_options_set_consul(shovel_options* options, const char* consul_addr) {
  if (!options) return;
  try {
    options->options.consul_addr = Str(consul_addr);
  } catch (...) {
    options->options.consul_addr.clear();
  }
}

void shovel_options_set_service_name(shovel_options* options, const char* name) {
  if (!options || !name || !*name) return;
  try {
    options->options.service_name = name;
  } catch (...) {
  }
}

void shovel_options_set_deadline_ms(shovel_options* options, uint64_t deadline_ms) {
  if (options && deadline_ms > 0) {
    options->options.deadline = std::chrono::milliseconds(deadline_ms);
  }
}

void shovel_options_set_stream_chunk(shovel_options* options, uint64_t bytes) {
  if (options && bytes > 0) options->options.stream_chunk = bytes;
}

void shovel_options_set_key_file(shovel_options* options, const char* path) {
  if (!options) return;
  try {
    options->options.key_file = path ? path : "";
  } catch (...) {
    options->options.key_file.clear();
  }
}

void shovel_options_set_worker_key(shovel_options* options, const char* key) {
  if (!options) return;
  try {
    options->options.worker_key = key ? key : "";
  } catch (...) {
    options->options.worker_key.clear();
  }
}

void shovel_options_set_replicas(shovel_options* options, uint32_t replicas) {
  if (options) options->options.replicas = replicas;
}

shovel_status shovel_connect(const shovel_options* options, shovel_client** client,
                             char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckOut(client, "client"));
    shovel::ClientOptions defaults;
    auto connected = shovel::Client::Connect(options ? options->options : defaults);
    if (!connected.ok()) return connected.status();
    *client = new shovel_client{std::move(connected).value()};
    return Status::Ok();
  });
}

void shovel_close(shovel_client* client) {
  try {
    delete client;
  } catch (...) {
  }
}

// ---- values -----------------------------------------------------------------

shovel_status shovel_set(shovel_client* client, const char* id, const void* data,
                         size_t len, uint64_t* version, char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckData(data, len));
    auto r = client->client->Set(
        id, std::string_view(len ? static_cast<const char*>(data) : "", len));
    if (!r.ok()) return r.status();
    if (version) *version = *r;
    return Status::Ok();
  });
}

shovel_status shovel_get(shovel_client* client, const char* id, uint64_t offset,
                         uint64_t length, void** data, size_t* len, char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckOut(data, "data"));
    SHOVEL_RETURN_IF_ERROR(CheckOut(len, "len"));
    auto r = client->client->GetBytes(id, offset, length);  // one copy, not two
    if (!r.ok()) return r.status();
    const shovel::Bytes& value = *r;
    void* buf = std::malloc(value.size() ? value.size() : 1);
    if (!buf) throw std::bad_alloc();
    if (!value.empty()) std::memcpy(buf, value.data(), value.size());
    *data = buf;
    *len = value.size();
    return Status::Ok();
  });
}

shovel_status shovel_get_into(shovel_client* client, const char* id, uint64_t offset,
                              void* buf, size_t capacity, size_t* len, char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckData(buf, capacity));
    SHOVEL_RETURN_IF_ERROR(CheckOut(len, "len"));
    size_t filled = 0;
    char* out = static_cast<char*>(buf);
    Status s = client->client->GetTo(
        id, offset, capacity, [&](std::string_view piece) -> Status {
          if (piece.size() > capacity - filled) {
            return Status::Internal("get_into received more bytes than asked for");
          }
          std::memcpy(out + filled, piece.data(), piece.size());
          filled += piece.size();
          return Status::Ok();
        });
    if (!s.ok()) return s;
    *len = filled;
    return Status::Ok();
  });
}

shovel_status shovel_append(shovel_client* client, const char* id, const void* data,
                            size_t len, uint64_t* version, char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckData(data, len));
    auto r = client->client->Append(
        id, std::string_view(len ? static_cast<const char*>(data) : "", len));
    if (!r.ok()) return r.status();
    if (version) *version = *r;
    return Status::Ok();
  });
}

shovel_status shovel_delete(shovel_client* client, const char* id, char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    return client->client->Delete(id);
  });
}

shovel_status shovel_exists(shovel_client* client, const char* id, int* exists,
                            char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckOut(exists, "exists"));
    auto r = client->client->Exists(id);
    if (!r.ok()) return r.status();
    *exists = *r ? 1 : 0;
    return Status::Ok();
  });
}

shovel_status shovel_rename(shovel_client* client, const char* from, const char* to,
                            char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(from, "from"));
    SHOVEL_RETURN_IF_ERROR(CheckId(to, "to"));
    return client->client->Rename(from, to);
  });
}

// ---- placement --------------------------------------------------------------

shovel_status shovel_init(shovel_client* client, const char* const* ids, size_t n,
                          const char* strategy, char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    if (!ids && n > 0) return Invalid("ids is NULL but n is not 0");
    auto parsed = shovel::ParseInitStrategy(strategy ? strategy : "uniform_nodes");
    if (!parsed.ok()) return parsed.status();
    std::vector<std::string> list;
    list.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (!ids[i]) return Invalid("ids[" + std::to_string(i) + "] is NULL");
      list.emplace_back(ids[i]);
    }
    return client->client->Init(list, *parsed);
  });
}

shovel_status shovel_node_ids(shovel_client* client, const char* id, char*** nodes,
                              size_t* n, char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckOut(nodes, "nodes"));
    SHOVEL_RETURN_IF_ERROR(CheckOut(n, "n"));
    auto r = client->client->NodeIds(id);
    if (!r.ok()) return r.status();
    *nodes = CopyStrings(*r);
    *n = r->size();
    return Status::Ok();
  });
}

shovel_status shovel_node_id(shovel_client* client, const char* id, const char* strategy,
                             char** node, char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckOut(node, "node"));
    auto r = client->client->NodeId(id, strategy ? strategy : "default");
    if (!r.ok()) return r.status();
    *node = CopyString(*r);
    return Status::Ok();
  });
}

shovel_status shovel_node_cache_score(shovel_client* client, const char* node,
                                      const char* id, double* score, int* known,
                                      char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(node, "node"));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckOut(score, "score"));
    SHOVEL_RETURN_IF_ERROR(CheckOut(known, "known"));
    auto r = client->client->NodeCacheScore(node, id);
    if (!r.ok()) return r.status();
    *known = r->has_value() ? 1 : 0;
    *score = r->value_or(0.0);
    return Status::Ok();
  });
}

// ---- metadata ---------------------------------------------------------------

shovel_status shovel_stat(shovel_client* client, const char* id, shovel_blob_stat** stat,
                          char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckOut(stat, "stat"));
    auto r = client->client->Stat(id);
    if (!r.ok()) return r.status();
    *stat = shovel::capi::NewBlobStat(*r);
    return Status::Ok();
  });
}

shovel_status shovel_list(shovel_client* client, const char* prefix, const char* cursor,
                          uint32_t limit, char*** ids, size_t* n, char** next_cursor,
                          char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckOut(ids, "ids"));
    SHOVEL_RETURN_IF_ERROR(CheckOut(n, "n"));
    SHOVEL_RETURN_IF_ERROR(CheckOut(next_cursor, "next_cursor"));
    auto r = client->client->List(Str(prefix), Str(cursor), limit ? limit : 1000);
    if (!r.ok()) return r.status();
    char* next = CopyString(r->next_cursor);
    try {
      *ids = CopyStrings(r->ids);
    } catch (...) {
      std::free(next);
      throw;
    }
    *n = r->ids.size();
    *next_cursor = next;
    return Status::Ok();
  });
}

shovel_status shovel_members(shovel_client* client, shovel_node_info** nodes, size_t* n,
                             char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckOut(nodes, "nodes"));
    SHOVEL_RETURN_IF_ERROR(CheckOut(n, "n"));
    auto r = client->client->Members();
    if (!r.ok()) return r.status();
    *nodes = shovel::capi::NewNodeInfos(*r);
    *n = r->size();
    return Status::Ok();
  });
}

// ---- streaming writes -------------------------------------------------------

shovel_status shovel_writer_open(shovel_client* client, const char* id,
                                 shovel_write_mode mode, shovel_writer** writer,
                                 char** err) {
  return Guard(err, [&]() -> Status {
    SHOVEL_RETURN_IF_ERROR(CheckClient(client));
    SHOVEL_RETURN_IF_ERROR(CheckId(id));
    SHOVEL_RETURN_IF_ERROR(CheckOut(writer, "writer"));
    // C lets a caller pass any int as the mode; in C++ loading an enum
    // outside its enumerators' range is undefined, so read it as an integer.
    std::underlying_type_t<shovel_write_mode> raw;
    static_assert(sizeof raw == sizeof mode);
    std::memcpy(&raw, &mode, sizeof raw);
    if (raw != SHOVEL_WRITE_SET && raw != SHOVEL_WRITE_APPEND) {
      return Invalid("write mode must be SHOVEL_WRITE_SET or SHOVEL_WRITE_APPEND");
    }
    auto r = client->client->OpenWriter(id, raw == SHOVEL_WRITE_SET
                                                ? shovel::WriteMode::kSet
                                                : shovel::WriteMode::kAppend);
    if (!r.ok()) return r.status();
    *writer = new shovel_writer{std::move(r).value()};
    return Status::Ok();
  });
}

shovel_status shovel_writer_write(shovel_writer* writer, const void* data, size_t len,
                                  char** err) {
  return Guard(err, [&]() -> Status {
    if (!writer || !writer->writer) return Invalid("writer handle is NULL");
    if (writer->finished) return Invalid("writer was already committed or aborted");
    SHOVEL_RETURN_IF_ERROR(CheckData(data, len));
    return writer->writer->Write(
        std::string_view(len ? static_cast<const char*>(data) : "", len));
  });
}

shovel_status shovel_writer_commit(shovel_writer* writer, uint64_t* version, char** err) {
  return Guard(err, [&]() -> Status {
    if (!writer || !writer->writer) return Invalid("writer handle is NULL");
    if (writer->finished) return Invalid("writer was already committed or aborted");
    writer->finished = true;
    auto r = writer->writer->Commit();
    if (!r.ok()) return r.status();
    if (version) *version = *r;
    return Status::Ok();
  });
}

void shovel_writer_abort(shovel_writer* writer) {
  if (!writer || !writer->writer || writer->finished) return;
  writer->finished = true;
  try {
    writer->writer->Abort();
  } catch (...) {
  }
}

void shovel_writer_destroy(shovel_writer* writer) {
  shovel_writer_abort(writer);
  try {
    delete writer;
  } catch (...) {
  }
}

}  // extern "C"
