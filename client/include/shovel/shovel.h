/* shovel.h: the C ABI of the shoveling cache (libshovel.so).
 *
 * A thin C wrapper over the C++ client (shovel/client.h); it adds nothing to
 * the protocol. Usable from C (C99 or later), C++ and FFI layers (ctypes).
 *
 * Conventions
 * - Handles are opaque: shovel_options, shovel_client, shovel_writer. Each is
 *   created by one function and destroyed by its matching function
 *   (shovel_options_destroy, shovel_close, shovel_writer_destroy); passing
 *   NULL to a destroy function does nothing.
 * - Ids are NUL-terminated UTF-8 strings (ids never contain NUL). Values are
 *   pointer + length buffers and may contain any bytes.
 * - Every fallible function returns a shovel_status: SHOVEL_OK (0) or a code
 *   that mirrors shovel::Code (status.h) number for number. The last argument
 *   `char** err` is optional: when it is not NULL, a failing call stores a
 *   heap-allocated, NUL-terminated message there that names what was wrong
 *   (free it with shovel_error_free); a succeeding call stores NULL. Output
 *   arguments are written only on success.
 * - Memory returned by the library (values, strings, arrays, structs) is
 *   allocated by the library and must be freed with the library's function
 *   named next to it (shovel_free, shovel_strings_free, ...), never with a
 *   different allocator's free.
 * - No C++ exception ever crosses this ABI: an unexpected one becomes
 *   SHOVEL_INTERNAL with its message.
 *
 * Thread-safety
 * - A shovel_client is thread-safe, like shovel::Client: any number of
 *   threads may call any function on one client at once (that is how a
 *   caller gets many requests in flight).
 * - A shovel_writer is not thread-safe: use it from one thread at a time, and
 *   destroy it before the client it came from.
 * - A shovel_options is not thread-safe; shovel_connect only reads it, and it
 *   may be destroyed as soon as shovel_connect returns.
 *
 * Errors common to every call on a client: SHOVEL_INVALID_ARGUMENT for an id
 * that breaks the id rules (1..4096 bytes of UTF-8, '/'-separated components
 * that are not empty, "." or ".."), SHOVEL_UNAVAILABLE when the worker that
 * owns the id cannot be reached, SHOVEL_TIMEOUT when a deadline passed,
 * SHOVEL_NO_SPACE when a write does not fit the owning worker's memory limit,
 * SHOVEL_NOT_FOUND for a missing id (get, stat, delete, node_ids, ...).
 * A failed call never damages what is already stored.
 */
#ifndef SHOVEL_SHOVEL_H_
#define SHOVEL_SHOVEL_H_

#include <stddef.h>
#include <stdint.h>

/* The library is built with -fvisibility=hidden; only these are exported. */
#if defined(__GNUC__)
#define SHOVEL_EXPORT __attribute__((visibility("default")))
#else
#define SHOVEL_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Mirrors shovel::Code; the numbers never change. */
typedef enum shovel_status {
  SHOVEL_OK = 0,
  SHOVEL_NOT_FOUND = 1,         /* the id (or node) does not exist */
  SHOVEL_ALREADY_EXISTS = 2,    /* create of an id that exists */
  SHOVEL_INVALID_ARGUMENT = 3,  /* bad id, size, strategy, option, NULL arg */
  SHOVEL_NO_SPACE = 4,          /* the worker's memory limit cannot fit it */
  SHOVEL_UNAVAILABLE = 5,       /* a worker or Consul cannot be reached */
  SHOVEL_TIMEOUT = 6,           /* a deadline passed */
  SHOVEL_CORRUPTION = 7,        /* stored or received bytes failed a check */
  SHOVEL_INTERNAL = 8,          /* a bug: an invariant did not hold */
  SHOVEL_REDIRECT = 9,          /* internal to the protocol; not returned */
  SHOVEL_PROTOCOL = 10,         /* malformed or unknown message */
  SHOVEL_CONFLICT = 11,         /* a conditional write saw another version */
  SHOVEL_PERMISSION_DENIED = 12 /* this key may not do that (read-only key) */
} shovel_status;

/* Length argument of shovel_get: read to the end of the value. */
#define SHOVEL_WHOLE_BLOB UINT64_MAX

typedef struct shovel_options shovel_options;
typedef struct shovel_client shovel_client;
typedef struct shovel_writer shovel_writer;

/* ---- library ---------------------------------------------------------- */

/* "0.1.0"; static storage, do not free. */
SHOVEL_EXPORT const char* shovel_version(void);
/* "OK", "not found", ...; static storage, do not free. Unknown codes give
 * "unknown". */
SHOVEL_EXPORT const char* shovel_status_name(shovel_status status);
/* Frees memory returned by the library (values, strings, messages). */
SHOVEL_EXPORT void shovel_free(void* ptr);
/* Frees a message stored through `char** err` (same as shovel_free). */
SHOVEL_EXPORT void shovel_error_free(char* err);
/* Frees an array of `n` strings returned by the library, and the array. */
SHOVEL_EXPORT void shovel_strings_free(char** strings, size_t n);

/* ---- connecting ------------------------------------------------------- */

/* Defaults: no workers, no Consul (so SHOVEL_WORKERS, else CONSUL_HTTP_ADDR
 * from the environment), service "shoveling", 5000 ms deadline, 4 MiB
 * stream chunks. Returns NULL only when out of memory. */
SHOVEL_EXPORT shovel_options* shovel_options_create(void);
SHOVEL_EXPORT void shovel_options_destroy(shovel_options* options);
/* Static membership: comma-separated ZeroMQ endpoints
 * ("tcp://10.0.0.1:7070,tcp://10.0.0.2:7070"). NULL or "" clears it. */
SHOVEL_EXPORT void shovel_options_set_workers(shovel_options* options,
                                              const char* workers);
/* Consul agent address ("http://127.0.0.1:8500"). NULL or "" clears it. */
SHOVEL_EXPORT void shovel_options_set_consul(shovel_options* options,
                                             const char* consul_addr);
SHOVEL_EXPORT void shovel_options_set_service_name(shovel_options* options,
                                                   const char* name);
/* Deadline of one request in milliseconds (> 0). */
SHOVEL_EXPORT void shovel_options_set_deadline_ms(shovel_options* options,
                                                  uint64_t deadline_ms);
/* Bytes per streamed message for large set/get/append (> 0). */
SHOVEL_EXPORT void shovel_options_set_stream_chunk(shovel_options* options,
                                                   uint64_t bytes);
/* Copies of each id written (1-8, capped by the workers); 0: $SHOVEL_REPLICAS,
 * else 1. Out of range: shovel_connect gives SHOVEL_INVALID_ARGUMENT. */
SHOVEL_EXPORT void shovel_options_set_replicas(shovel_options* options,
                                               uint32_t replicas);
/* CURVE (docs/security.md): this client's key pair file (shovelctl keygen);
 * NULL or "": $SHOVEL_KEY_FILE, else no key. A bad file makes shovel_connect
 * fail with SHOVEL_INVALID_ARGUMENT naming it. */
SHOVEL_EXPORT void shovel_options_set_key_file(shovel_options* options, const char* path);
/* The workers' public key (40 Z85 characters) when Consul does not give it
 * (Meta curve_key), or the path of a worker key file, read again as it
 * changes (docs/security.md, Key rotation); NULL or "": $SHOVEL_WORKER_KEY. */
SHOVEL_EXPORT void shovel_options_set_worker_key(shovel_options* options,
                                                 const char* key);

/* Connects; `options` may be NULL (all defaults, membership from the
 * environment). On success *client is a new handle for shovel_close.
 * SHOVEL_INVALID_ARGUMENT for a malformed endpoint or no membership source,
 * SHOVEL_UNAVAILABLE when no worker / Consul answers. */
SHOVEL_EXPORT shovel_status shovel_connect(const shovel_options* options,
                                           shovel_client** client, char** err);
/* Closes the connection and frees the handle. Writers must be gone. */
SHOVEL_EXPORT void shovel_close(shovel_client* client);

/* ---- values ----------------------------------------------------------- */

/* Replaces the value atomically (readers see old or new bytes, never a mix).
 * `version` (may be NULL) receives the new version. */
SHOVEL_EXPORT shovel_status shovel_set(shovel_client* client, const char* id,
                                       const void* data, size_t len, uint64_t* version,
                                       char** err);
/* Reads `length` bytes (SHOVEL_WHOLE_BLOB: to the end) from `offset`; a range
 * past the end is truncated like pread. On success *data is a new buffer of
 * *len bytes (never NULL, even when *len is 0) to free with shovel_free. */
SHOVEL_EXPORT shovel_status shovel_get(shovel_client* client, const char* id,
                                       uint64_t offset, uint64_t length, void** data,
                                       size_t* len, char** err);
/* Reads up to `capacity` bytes from `offset` into the caller's `buf`;
 * *len receives the number of bytes read (less than `capacity` only at the
 * end of the value). No allocation. */
SHOVEL_EXPORT shovel_status shovel_get_into(shovel_client* client, const char* id,
                                            uint64_t offset, void* buf, size_t capacity,
                                            size_t* len, char** err);
/* Appends atomically; creates the id when missing. `version` may be NULL. */
SHOVEL_EXPORT shovel_status shovel_append(shovel_client* client, const char* id,
                                          const void* data, size_t len, uint64_t* version,
                                          char** err);
SHOVEL_EXPORT shovel_status shovel_delete(shovel_client* client, const char* id,
                                          char** err);
/* *exists receives 1 or 0. */
SHOVEL_EXPORT shovel_status shovel_exists(shovel_client* client, const char* id,
                                          int* exists, char** err);
/* Replaces an existing `to`; works across workers. */
SHOVEL_EXPORT shovel_status shovel_rename(shovel_client* client, const char* from,
                                          const char* to, char** err);

/* ---- many values in one call (pipelined) ------------------------------ */

/* Sets ids[i] to the lens[i] bytes at data[i], for i < n, in BATCH messages
 * (one per worker for up to 1024 ids) instead of a round trip per id. Each
 * item has its own outcome in statuses[i], and its new version in
 * versions[i] (0 if it failed) when `versions` is not NULL; a failed item
 * does not stop the others. When `messages` is not NULL, messages[i] is
 * the message of a failed item (NULL for a success), to free with
 * shovel_free. Returns SHOVEL_OK when all succeeded, else the status of the
 * first that failed, with its message in *err. A NULL array (with n > 0)
 * or id is SHOVEL_INVALID_ARGUMENT before anything is sent. */
SHOVEL_EXPORT shovel_status shovel_set_many(shovel_client* client, size_t n,
                                            const char* const* ids,
                                            const void* const* data, const size_t* lens,
                                            uint64_t* versions, shovel_status* statuses,
                                            char** messages, char** err);
/* Reads the whole values of ids[i], for i < n, as shovel_set_many sends.
 * For an item that succeeded data[i] is a new buffer of lens[i] bytes
 * (never NULL) to free with shovel_free; for one that failed data[i] is
 * NULL, lens[i] 0, and statuses[i] says why (SHOVEL_NOT_FOUND for an id
 * that does not exist). Returns as shovel_set_many does. */
SHOVEL_EXPORT shovel_status shovel_get_many(shovel_client* client, size_t n,
                                            const char* const* ids, void** data,
                                            size_t* lens, shovel_status* statuses,
                                            char** messages, char** err);

/* ---- started calls: many requests in flight from one thread ----------- */

/* A shovel_start_set_many or shovel_start_get_many whose requests are sent
 * and whose results are not yet taken (hiredis's async calls, redis
 * pipelining). Start as many as you like before waiting for the first, so
 * that one thread keeps many requests in flight. One thread waits for a
 * pending; free it (waited for or not) before its client is closed. */
typedef struct shovel_pending shovel_pending;

/* Sends what shovel_set_many would and returns once it is sent, without
 * waiting for replies: *pending receives a handle to wait on with
 * shovel_pending_wait_set (NULL when the call fails, before anything was
 * sent: a NULL array or id, as shovel_set_many). The bytes are copied, so
 * data[] may be reused at once. */
SHOVEL_EXPORT shovel_status shovel_start_set_many(shovel_client* client, size_t n,
                                                  const char* const* ids,
                                                  const void* const* data,
                                                  const size_t* lens,
                                                  shovel_pending** pending, char** err);
/* Sends what shovel_get_many would; wait with shovel_pending_wait_get. */
SHOVEL_EXPORT shovel_status shovel_start_get_many(shovel_client* client, size_t n,
                                                  const char* const* ids,
                                                  shovel_pending** pending, char** err);
/* Waits for a started set_many and gives its outcome as shovel_set_many
 * does, in arrays of shovel_pending_count(pending) items. The results are
 * taken once: a second wait, or the wait of the other kind, is
 * SHOVEL_INVALID_ARGUMENT (and fills nothing). */
SHOVEL_EXPORT shovel_status shovel_pending_wait_set(shovel_pending* pending,
                                                    uint64_t* versions,
                                                    shovel_status* statuses,
                                                    char** messages, char** err);
/* Waits for a started get_many and gives its outcome as shovel_get_many
 * does (data[i] to free with shovel_free). */
SHOVEL_EXPORT shovel_status shovel_pending_wait_get(shovel_pending* pending, void** data,
                                                    size_t* lens, shovel_status* statuses,
                                                    char** messages, char** err);
/* The number of items the pending was started with (0 for NULL). */
SHOVEL_EXPORT size_t shovel_pending_count(const shovel_pending* pending);
/* Frees a pending (NULL is fine). One not waited for finishes unobserved:
 * its writes still land, unless the client is closed first (shovel_close
 * drops requests not yet sent; one sent but not answered may or may not be
 * applied). */
SHOVEL_EXPORT void shovel_pending_free(shovel_pending* pending);

/* ---- placement -------------------------------------------------------- */

/* Pre-creates `n` empty, pinned ids spread exactly over the live workers.
 * `strategy`: "uniform_nodes" (NULL means this), "uniform_cpu" or
 * "uniform_memory"; another name is SHOVEL_INVALID_ARGUMENT. */
SHOVEL_EXPORT shovel_status shovel_init(shovel_client* client, const char* const* ids,
                                        size_t n, const char* strategy, char** err);
/* Node ids of the workers holding the data, primary first. Free *nodes with
 * shovel_strings_free(*nodes, *n). */
SHOVEL_EXPORT shovel_status shovel_node_ids(shovel_client* client, const char* id,
                                            char*** nodes, size_t* n, char** err);
/* Best worker to process the id. `strategy`: "default" (NULL means this),
 * "least_loaded" or "nearest". Free *node with shovel_free. */
SHOVEL_EXPORT shovel_status shovel_node_id(shovel_client* client, const char* id,
                                           const char* strategy, char** node, char** err);
/* Distance between `node` and the data in ms: 0 when `node` holds it, else
 * the estimated RTT to the nearest holder from Consul's coordinates. *known
 * receives 0 (and *score 0) when coordinates are unknown (no Consul). */
SHOVEL_EXPORT shovel_status shovel_node_cache_score(shovel_client* client,
                                                    const char* node, const char* id,
                                                    double* score, int* known,
                                                    char** err);

/* ---- metadata --------------------------------------------------------- */

/* What shovel_stat returns. Allocated by the library; free with
 * shovel_blob_stat_free. Later versions may append fields. */
typedef struct shovel_blob_stat {
  char* id;
  uint64_t size;                        /* bytes of the value */
  uint64_t stored_bytes;                /* compressed bytes held in memory */
  uint64_t version;                     /* changes on every write */
  int64_t ctime_ns, mtime_ns, atime_ns; /* Unix epoch, nanoseconds */
  int pinned;                           /* 1 for ids made by shovel_init */
  char** holders;                       /* node ids, primary first */
  size_t n_holders;
} shovel_blob_stat;

SHOVEL_EXPORT shovel_status shovel_stat(shovel_client* client, const char* id,
                                        shovel_blob_stat** stat, char** err);
SHOVEL_EXPORT void shovel_blob_stat_free(shovel_blob_stat* stat);

/* One page of ids starting with `prefix` (NULL = ""), sorted, merged over
 * all workers. `cursor`: NULL or "" for the first page, else the previous
 * page's *next_cursor. `limit`: at most this many ids (0 = 1000). *next_cursor
 * receives "" on the last page. Free *ids with shovel_strings_free(*ids, *n)
 * and *next_cursor with shovel_free. */
SHOVEL_EXPORT shovel_status shovel_list(shovel_client* client, const char* prefix,
                                        const char* cursor, uint32_t limit, char*** ids,
                                        size_t* n, char** next_cursor, char** err);

/* One worker as the client sees it. Array layout is fixed within
 * SOVERSION 0. */
typedef struct shovel_node_info {
  char* node_id;
  char* endpoint;
  int healthy; /* 0 when Consul says critical or it does not answer */
  uint32_t cores;
  uint64_t mem_used;
  uint64_t mem_limit;
  uint64_t ids;
  double load;
  char* consul_node; /* "" without Consul */
} shovel_node_info;

/* The workers and their stats. Free with shovel_members_free(*nodes, *n). */
SHOVEL_EXPORT shovel_status shovel_members(shovel_client* client,
                                           shovel_node_info** nodes, size_t* n,
                                           char** err);
SHOVEL_EXPORT void shovel_members_free(shovel_node_info* nodes, size_t n);

/* ---- streaming writes ------------------------------------------------- */

typedef enum shovel_write_mode {
  SHOVEL_WRITE_SET = 0,   /* the committed bytes replace the value */
  SHOVEL_WRITE_APPEND = 1 /* the committed bytes are appended */
} shovel_write_mode;

/* Streams a large value; nothing is visible until shovel_writer_commit.
 * A writer destroyed without a commit aborts; the old value stays whole. */
SHOVEL_EXPORT shovel_status shovel_writer_open(shovel_client* client, const char* id,
                                               shovel_write_mode mode,
                                               shovel_writer** writer, char** err);
SHOVEL_EXPORT shovel_status shovel_writer_write(shovel_writer* writer, const void* data,
                                                size_t len, char** err);
/* Makes the value visible atomically; `version` (may be NULL) receives the
 * new version. The writer still needs shovel_writer_destroy. */
SHOVEL_EXPORT shovel_status shovel_writer_commit(shovel_writer* writer, uint64_t* version,
                                                 char** err);
/* Drops what was written; the old value stays whole. */
SHOVEL_EXPORT void shovel_writer_abort(shovel_writer* writer);
SHOVEL_EXPORT void shovel_writer_destroy(shovel_writer* writer);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SHOVEL_SHOVEL_H_ */
