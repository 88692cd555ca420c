/* The C ABI (shovel/shovel.h) exercised from C11, against a real worker.
 *
 * Usage: c_api_test SHOVEL_WORKER_BINARY
 * Starts one shovel-worker on port 0 (--ready-file gives its endpoint), runs
 * every function of the ABI, and stops the worker by pid (SIGTERM, then
 * SIGKILL after 5 s). Exit status 0 when every check passed. In the spirit of
 * leveldb's db/c_test.c. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "c_api_test_util.h"
#include "shovel/shovel.h"

static const char* phase = "";
#define StartPhase(name) (phase = (name), fprintf(stderr, "== %s\n", phase))

/* Every check: the expected status and, when want_err is not NULL, the exact
 * message. Frees the message. */
static void ExpectStatus(shovel_status got, shovel_status want, char* err,
                         const char* want_err, int line) {
  if (got != want) {
    Fail(line, "%s: status %d (%s), want %d (%s); message: %s", phase, got,
         shovel_status_name(got), want, shovel_status_name(want), err ? err : "(none)");
  }
  if (want == SHOVEL_OK && err != NULL) Fail(line, "%s: err not NULL on success", phase);
  if (want != SHOVEL_OK && err == NULL) Fail(line, "%s: no message on error", phase);
  if (want_err && strcmp(err, want_err) != 0) {
    Fail(line, "%s: message\n  '%s'\nwant\n  '%s'", phase, err, want_err);
  }
  shovel_error_free(err);
}
/* A success must store NULL through err: start from a non-NULL sentinel. */
static char kSentinel[] = "sentinel";
#define EXPECT_OK(call)                               \
  do {                                                \
    err = kSentinel;                                  \
    shovel_status s_ = (call);                        \
    ExpectStatus(s_, SHOVEL_OK, err, NULL, __LINE__); \
    err = NULL;                                       \
  } while (0)
#define EXPECT_STATUS(call, want, want_err)              \
  do {                                                   \
    shovel_status s_ = (call);                           \
    ExpectStatus(s_, (want), err, (want_err), __LINE__); \
    err = NULL;                                          \
  } while (0)

static void ExpectBytes(shovel_client* c, const char* id, uint64_t offset,
                        uint64_t length, const void* want, size_t want_len, int line) {
  char* err = NULL;
  void* data = NULL;
  size_t len = 0;
  shovel_status s = shovel_get(c, id, offset, length, &data, &len, &err);
  ExpectStatus(s, SHOVEL_OK, err, NULL, line);
  if (data == NULL) Fail(line, "%s: get '%s' gave a NULL buffer", phase, id);
  if (len != want_len || (len && memcmp(data, want, len) != 0)) {
    Fail(line, "%s: get '%s' [%llu,+%llu) gave %zu bytes, want %zu", phase, id,
         (unsigned long long)offset, (unsigned long long)length, len, want_len);
  }
  shovel_free(data);
}
#define EXPECT_BYTES(c, id, off, n, want, want_len) \
  ExpectBytes((c), (id), (off), (n), (want), (want_len), __LINE__)
#define EXPECT_STR(c, id, want) \
  ExpectBytes((c), (id), 0, SHOVEL_WHOLE_BLOB, (want), strlen(want), __LINE__)

/* ---- threads sharing one client ------------------------------------------- */

typedef struct {
  shovel_client* client;
  int index;
  int failures;
} ThreadArg;

static void* HammerClient(void* p) {
  ThreadArg* arg = p;
  for (int i = 0; i < 40; ++i) {
    char id[64], value[64];
    snprintf(id, sizeof id, "threads/%d/%d", arg->index, i % 5);
    snprintf(value, sizeof value, "thread %d round %d", arg->index, i);
    void* data = NULL;
    size_t len = 0;
    if (shovel_set(arg->client, id, value, strlen(value), NULL, NULL) != SHOVEL_OK ||
        shovel_get(arg->client, id, 0, SHOVEL_WHOLE_BLOB, &data, &len, NULL) !=
            SHOVEL_OK ||
        len != strlen(value) || memcmp(data, value, len) != 0) {
      arg->failures++;
    }
    shovel_free(data);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SHOVEL_WORKER_BINARY\n", argv[0]);
    return 2;
  }
  char endpoint[256];
  StartWorker(argv[1], "c1", "64MiB", endpoint, sizeof endpoint);
  char* err = NULL;

  StartPhase("library");
  if (strcmp(shovel_version(), "0.1.0") != 0)
    Fail(__LINE__, "version %s", shovel_version());
  if (strcmp(shovel_status_name(SHOVEL_NOT_FOUND), "not found") != 0 ||
      strcmp(shovel_status_name(SHOVEL_OK), "OK") != 0 ||
      strcmp(shovel_status_name((shovel_status)99), "unknown") != 0) {
    Fail(__LINE__, "shovel_status_name");
  }
  shovel_free(NULL);
  shovel_strings_free(NULL, 3);
  shovel_close(NULL);
  shovel_writer_destroy(NULL);
  shovel_options_destroy(NULL);

  StartPhase("connect errors");
  unsetenv("SHOVEL_WORKERS");
  unsetenv("CONSUL_HTTP_ADDR");
  shovel_client* c = NULL;
  EXPECT_STATUS(shovel_connect(NULL, NULL, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: output argument 'client' is NULL");
  {
    shovel_status s = shovel_connect(NULL, &c, &err);
    if (s == SHOVEL_OK || err == NULL || c != NULL) {
      Fail(__LINE__, "connect without membership gave %d", s);
    }
    fprintf(stderr, "   no membership: %s\n", err);
    shovel_error_free(err);
    err = NULL;
  }

  StartPhase("connect (options, 64 KiB stream chunks)");
  shovel_options* opts = shovel_options_create();
  char workers[300];
  snprintf(workers, sizeof workers, " %s , ", endpoint); /* spaces, empty item */
  shovel_options_set_workers(opts, workers);
  shovel_options_set_deadline_ms(opts, 10000);
  shovel_options_set_stream_chunk(opts, 64 << 10);
  EXPECT_OK(shovel_connect(opts, &c, &err));
  shovel_options_destroy(opts);

  StartPhase("set / get / ranges");
  uint64_t v1 = 0, v2 = 0;
  EXPECT_OK(shovel_set(c, "c/a", "hello", 5, &v1, &err));
  EXPECT_STR(c, "c/a", "hello");
  EXPECT_BYTES(c, "c/a", 1, 3, "ell", 3);
  EXPECT_BYTES(c, "c/a", 3, SHOVEL_WHOLE_BLOB, "lo", 2);
  EXPECT_BYTES(c, "c/a", 2, 100, "llo", 3); /* truncated like pread */
  EXPECT_BYTES(c, "c/a", 10, 4, "", 0);     /* past the end: empty */
  EXPECT_OK(shovel_set(c, "c/empty", NULL, 0, NULL, &err));
  EXPECT_BYTES(c, "c/empty", 0, SHOVEL_WHOLE_BLOB, "", 0);
  {
    char buf[8] = {0};
    size_t n = 99;
    EXPECT_OK(shovel_get_into(c, "c/a", 2, buf, 2, &n, &err));
    if (n != 2 || memcmp(buf, "ll", 2) != 0) Fail(__LINE__, "get_into gave %zu", n);
    EXPECT_OK(shovel_get_into(c, "c/a", 1, buf, sizeof buf, &n, &err));
    if (n != 4 || memcmp(buf, "ello", 4) != 0) Fail(__LINE__, "get_into gave %zu", n);
  }

  StartPhase("append");
  EXPECT_OK(shovel_append(c, "c/a", " world", 6, &v2, &err));
  if (v2 <= v1)
    Fail(__LINE__, "append version %llu after %llu", (unsigned long long)v2,
         (unsigned long long)v1);
  EXPECT_STR(c, "c/a", "hello world");
  EXPECT_OK(shovel_append(c, "c/created", "x", 1, NULL, &err));
  EXPECT_STR(c, "c/created", "x");

  StartPhase("large binary value (streamed)");
  size_t big_len = (3u << 20) + 12345;
  unsigned char* big = FillBytes(big_len, 42);
  EXPECT_OK(shovel_set(c, "c/big", big, big_len, NULL, &err));
  EXPECT_BYTES(c, "c/big", 0, SHOVEL_WHOLE_BLOB, big, big_len);
  EXPECT_BYTES(c, "c/big", 1000000, 70000, big + 1000000, 70000);

  StartPhase("exists / stat");
  int exists = -1;
  EXPECT_OK(shovel_exists(c, "c/a", &exists, &err));
  if (exists != 1) Fail(__LINE__, "exists c/a = %d", exists);
  EXPECT_OK(shovel_exists(c, "c/nope", &exists, &err));
  if (exists != 0) Fail(__LINE__, "exists c/nope = %d", exists);
  shovel_blob_stat* st = NULL;
  EXPECT_OK(shovel_stat(c, "c/a", &st, &err));
  if (strcmp(st->id, "c/a") != 0 || st->size != 11 || st->version != v2 ||
      st->pinned != 0 || st->n_holders != 1 || strcmp(st->holders[0], "c1") != 0 ||
      st->mtime_ns <= 0 || st->stored_bytes == 0) {
    Fail(__LINE__, "stat c/a: id %s size %llu version %llu pinned %d holders %zu", st->id,
         (unsigned long long)st->size, (unsigned long long)st->version, st->pinned,
         st->n_holders);
  }
  shovel_blob_stat_free(st);

  StartPhase("errors: missing ids, invalid ids, NULL arguments");
  void* data = NULL;
  size_t len = 0;
  EXPECT_STATUS(shovel_get(c, "c/missing", 0, SHOVEL_WHOLE_BLOB, &data, &len, &err),
                SHOVEL_NOT_FOUND, NULL);
  EXPECT_STATUS(shovel_stat(c, "c/missing", &st, &err), SHOVEL_NOT_FOUND, NULL);
  EXPECT_STATUS(shovel_delete(c, "c/missing", &err), SHOVEL_NOT_FOUND, NULL);
  if (shovel_get(c, "c/missing", 0, 1, &data, &len, NULL) != SHOVEL_NOT_FOUND) {
    Fail(__LINE__, "get without err pointer");
  }
  {
    shovel_get(c, "c/missing", 0, 1, &data, &len, &err);
    if (!err || !strstr(err, "not found") || !strstr(err, "c/missing")) {
      Fail(__LINE__, "missing-id message does not name the id: %s", err ? err : "");
    }
    shovel_error_free(err);
    err = NULL;
  }
  EXPECT_STATUS(shovel_set(c, "a//b", "x", 1, NULL, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: id 'a//b' has an empty path component");
  EXPECT_STATUS(shovel_get(c, "", 0, 1, &data, &len, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: the id is empty; ids are 1 to 4096 bytes");
  EXPECT_STATUS(shovel_append(c, "x/../y", "x", 1, NULL, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: id 'x/../y' has a '..' path component");
  EXPECT_STATUS(shovel_set(c, NULL, "x", 1, NULL, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: id is NULL");
  EXPECT_STATUS(shovel_set(c, "c/a", NULL, 3, NULL, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: data is NULL but len is not 0");
  EXPECT_STATUS(shovel_set(NULL, "c/a", "x", 1, NULL, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: client handle is NULL");
  EXPECT_STATUS(shovel_get(c, "c/a", 0, 1, NULL, &len, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: output argument 'data' is NULL");
  EXPECT_STR(c, "c/a", "hello world"); /* failed calls damaged nothing */

  StartPhase("init / placement");
  const char* parts[] = {"job/p/0", "job/p/1", "job/p/2", "job/p/3"};
  EXPECT_OK(shovel_init(c, parts, 4, "uniform_nodes", &err));
  EXPECT_OK(shovel_init(c, parts, 2, NULL, &err)); /* existing: left as they are */
  EXPECT_OK(shovel_exists(c, "job/p/3", &exists, &err));
  if (exists != 1) Fail(__LINE__, "init did not create job/p/3");
  EXPECT_OK(shovel_stat(c, "job/p/2", &st, &err));
  if (st->pinned != 1 || st->size != 0) Fail(__LINE__, "init'ed id not pinned/empty");
  shovel_blob_stat_free(st);
  {
    shovel_status s = shovel_init(c, parts, 4, "bogus", &err);
    if (s != SHOVEL_INVALID_ARGUMENT || !strstr(err, "bogus") ||
        !strstr(err, "uniform_nodes")) {
      Fail(__LINE__, "init bogus strategy: %d %s", s, err ? err : "");
    }
    shovel_error_free(err);
    err = NULL;
  }
  const char* with_null[] = {"job/q/0", NULL};
  EXPECT_STATUS(shovel_init(c, with_null, 2, NULL, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: ids[1] is NULL");
  char** nodes = NULL;
  size_t n_nodes = 0;
  EXPECT_OK(shovel_node_ids(c, "c/a", &nodes, &n_nodes, &err));
  if (n_nodes != 1 || strcmp(nodes[0], "c1") != 0) Fail(__LINE__, "node_ids c/a");
  shovel_strings_free(nodes, n_nodes);
  EXPECT_STATUS(shovel_node_ids(c, "c/missing", &nodes, &n_nodes, &err), SHOVEL_NOT_FOUND,
                NULL);
  char* node = NULL;
  EXPECT_OK(shovel_node_id(c, "job/p/1", NULL, &node, &err));
  if (strcmp(node, "c1") != 0) Fail(__LINE__, "node_id = %s", node);
  shovel_free(node);
  EXPECT_OK(shovel_node_id(c, "c/a", "least_loaded", &node, &err));
  if (strcmp(node, "c1") != 0) Fail(__LINE__, "node_id least_loaded = %s", node);
  shovel_free(node);
  {
    double score = -1;
    int known = -1;
    EXPECT_OK(shovel_node_cache_score(c, "c1", "c/a", &score, &known, &err));
    if ((known != 0 && known != 1) || (known == 1 && score != 0.0) ||
        (known == 0 && score != 0.0)) {
      Fail(__LINE__, "node_cache_score of the holder: known %d score %g", known, score);
    }
  }

  StartPhase("streaming writer");
  shovel_writer* w = NULL;
  EXPECT_OK(shovel_writer_open(c, "c/stream", SHOVEL_WRITE_SET, &w, &err));
  EXPECT_OK(shovel_writer_write(w, "part1,", 6, &err));
  EXPECT_OK(shovel_writer_write(w, big, big_len, &err));
  EXPECT_OK(shovel_exists(c, "c/stream", &exists, &err));
  if (exists != 0) Fail(__LINE__, "uncommitted stream is visible");
  uint64_t wv = 0;
  EXPECT_OK(shovel_writer_commit(w, &wv, &err));
  if (wv == 0) Fail(__LINE__, "commit version 0");
  EXPECT_STATUS(shovel_writer_write(w, "x", 1, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: writer was already committed or aborted");
  shovel_writer_destroy(w);
  EXPECT_BYTES(c, "c/stream", 0, 6, "part1,", 6);
  EXPECT_BYTES(c, "c/stream", 6, SHOVEL_WHOLE_BLOB, big, big_len);
  EXPECT_OK(shovel_writer_open(c, "c/a", SHOVEL_WRITE_APPEND, &w, &err));
  EXPECT_OK(shovel_writer_write(w, "!", 1, &err));
  EXPECT_OK(shovel_writer_commit(w, NULL, &err));
  shovel_writer_destroy(w);
  EXPECT_STR(c, "c/a", "hello world!");
  EXPECT_OK(shovel_writer_open(c, "c/a", SHOVEL_WRITE_SET, &w, &err));
  EXPECT_OK(shovel_writer_write(w, "replaced", 8, &err));
  shovel_writer_destroy(w); /* no commit: aborted */
  EXPECT_STR(c, "c/a", "hello world!");
  EXPECT_OK(shovel_writer_open(c, "c/a", SHOVEL_WRITE_SET, &w, &err));
  shovel_writer_abort(w);
  EXPECT_STATUS(shovel_writer_commit(w, NULL, &err), SHOVEL_INVALID_ARGUMENT,
                "invalid argument: writer was already committed or aborted");
  shovel_writer_destroy(w);
  EXPECT_STATUS(shovel_writer_open(c, "c/a", (shovel_write_mode)7, &w, &err),
                SHOVEL_INVALID_ARGUMENT,
                "invalid argument: write mode must be SHOVEL_WRITE_SET or "
                "SHOVEL_WRITE_APPEND");

  StartPhase("rename / delete");
  EXPECT_OK(shovel_rename(c, "c/stream", "c/renamed", &err));
  EXPECT_BYTES(c, "c/renamed", 0, 6, "part1,", 6);
  EXPECT_OK(shovel_exists(c, "c/stream", &exists, &err));
  if (exists != 0) Fail(__LINE__, "rename left the old id");
  EXPECT_OK(shovel_delete(c, "c/created", &err));
  EXPECT_OK(shovel_exists(c, "c/created", &exists, &err));
  if (exists != 0) Fail(__LINE__, "delete left the id");

  StartPhase("list (paged)");
  {
    const char* want[] = {"c/a", "c/big", "c/empty", "c/renamed"};
    size_t seen = 0, pages = 0;
    char* cursor = NULL;
    do {
      char** ids = NULL;
      size_t n = 0;
      char* next = NULL;
      EXPECT_OK(shovel_list(c, "c/", cursor, 3, &ids, &n, &next, &err));
      if (n > 3) Fail(__LINE__, "page of %zu ids, limit 3", n);
      for (size_t i = 0; i < n; ++i, ++seen) {
        if (seen >= 4 || strcmp(ids[i], want[seen]) != 0) {
          Fail(__LINE__, "list[%zu] = %s", seen, ids[i]);
        }
      }
      shovel_strings_free(ids, n);
      shovel_free(cursor);
      cursor = next;
      ++pages;
    } while (cursor[0] != '\0' && pages < 10);
    shovel_free(cursor);
    if (seen != 4 || pages < 2) Fail(__LINE__, "list: %zu ids in %zu pages", seen, pages);
    EXPECT_STATUS(shovel_list(c, "c//", NULL, 0, NULL, NULL, NULL, &err),
                  SHOVEL_INVALID_ARGUMENT,
                  "invalid argument: output argument 'ids' is NULL");
  }

  StartPhase("members");
  {
    shovel_node_info* info = NULL;
    size_t n = 0;
    EXPECT_OK(shovel_members(c, &info, &n, &err));
    if (n != 1 || strcmp(info[0].node_id, "c1") != 0 ||
        strcmp(info[0].endpoint, endpoint) != 0 || info[0].healthy != 1 ||
        info[0].mem_limit != (64u << 20) || info[0].ids < 5) {
      Fail(__LINE__, "members: n %zu node %s endpoint %s limit %llu ids %llu", n,
           n ? info[0].node_id : "", n ? info[0].endpoint : "",
           n ? (unsigned long long)info[0].mem_limit : 0ull,
           n ? (unsigned long long)info[0].ids : 0ull);
    }
    shovel_members_free(info, n);
  }

  StartPhase("no space (pinned data survives)");
  {
    size_t huge_len = 80u << 20; /* random bytes: zstd cannot shrink them */
    unsigned char* huge = FillBytes(huge_len, 7);
    EXPECT_STATUS(shovel_set(c, "c/huge", huge, huge_len, NULL, &err), SHOVEL_NO_SPACE,
                  NULL);
    free(huge);
    EXPECT_OK(shovel_exists(c, "job/p/0", &exists, &err));
    if (exists != 1) Fail(__LINE__, "pinned id lost after a failed write");
    EXPECT_OK(shovel_exists(c, "c/a", &exists, &err));
    fprintf(stderr, "   unpinned c/a %s the failed write\n",
            exists ? "survived" : "was evicted by");
  }

  StartPhase("one client, 4 threads");
  {
    pthread_t threads[4];
    ThreadArg args[4];
    for (int i = 0; i < 4; ++i) {
      args[i] = (ThreadArg){c, i, 0};
      pthread_create(&threads[i], NULL, HammerClient, &args[i]);
    }
    for (int i = 0; i < 4; ++i) {
      pthread_join(threads[i], NULL);
      if (args[i].failures) Fail(__LINE__, "thread %d: %d failures", i, args[i].failures);
    }
  }

  StartPhase("many at once");
  {
    const char* ids[4] = {"c/m0", "c/m1", "c/m//bad", "c/m3"};
    const void* data[4] = {"zero", "", "x", "three"};
    size_t lens[4] = {4, 0, 1, 5};
    uint64_t versions[4] = {9, 9, 9, 9};
    shovel_status statuses[4];
    EXPECT_STATUS(shovel_set_many(c, 4, ids, data, lens, versions, statuses, NULL, &err),
                  SHOVEL_INVALID_ARGUMENT, NULL);
    if (statuses[0] != SHOVEL_OK || statuses[1] != SHOVEL_OK ||
        statuses[2] != SHOVEL_INVALID_ARGUMENT || statuses[3] != SHOVEL_OK) {
      Fail(__LINE__, "set_many statuses %d %d %d %d", statuses[0], statuses[1],
           statuses[2], statuses[3]);
    }
    if (versions[0] == 0 || versions[2] != 0 || versions[3] <= versions[0]) {
      Fail(__LINE__, "set_many versions %llu %llu %llu", (unsigned long long)versions[0],
           (unsigned long long)versions[2], (unsigned long long)versions[3]);
    }
    EXPECT_STR(c, "c/m3", "three");
    const char* want[4] = {"c/m3", "c/m-missing", "c/m1", "c/m0"};
    void* got[4];
    size_t got_lens[4];
    char* messages[4];
    EXPECT_STATUS(shovel_get_many(c, 4, want, got, got_lens, statuses, messages, &err),
                  SHOVEL_NOT_FOUND, "not found: id 'c/m-missing' does not exist");
    if (messages[0] || messages[2] || messages[3] || !messages[1] ||
        strcmp(messages[1], "not found: id 'c/m-missing' does not exist") != 0) {
      Fail(__LINE__, "get_many messages: '%s'", messages[1] ? messages[1] : "(null)");
    }
    for (int i = 0; i < 4; ++i) shovel_free(messages[i]);
    if (statuses[0] != SHOVEL_OK || statuses[1] != SHOVEL_NOT_FOUND ||
        statuses[2] != SHOVEL_OK || statuses[3] != SHOVEL_OK) {
      Fail(__LINE__, "get_many statuses %d %d %d %d", statuses[0], statuses[1],
           statuses[2], statuses[3]);
    }
    if (got_lens[0] != 5 || memcmp(got[0], "three", 5) != 0 || got[1] != NULL ||
        got_lens[1] != 0 || got[2] == NULL || got_lens[2] != 0 || got_lens[3] != 4 ||
        memcmp(got[3], "zero", 4) != 0) {
      Fail(__LINE__, "get_many values");
    }
    for (int i = 0; i < 4; ++i) shovel_free(got[i]);
    EXPECT_OK(shovel_get_many(c, 1, want, got, got_lens, statuses, NULL, &err));
    shovel_free(got[0]);
    EXPECT_OK(shovel_get_many(c, 0, NULL, NULL, NULL, NULL, NULL, &err));
    EXPECT_STATUS(shovel_get_many(c, 1, want, got, got_lens, NULL, NULL, &err),
                  SHOVEL_INVALID_ARGUMENT,
                  "invalid argument: output argument 'statuses' is NULL");
    const char* with_null[2] = {"c/m0", NULL};
    EXPECT_STATUS(shovel_get_many(c, 2, with_null, got, got_lens, statuses, NULL, &err),
                  SHOVEL_INVALID_ARGUMENT, "invalid argument: ids[1] is NULL");
    const void* null_data[1] = {NULL};
    EXPECT_STATUS(shovel_set_many(c, 1, ids, null_data, lens, NULL, statuses, NULL, &err),
                  SHOVEL_INVALID_ARGUMENT,
                  "invalid argument: item 0: data is NULL but len is not 0");
    EXPECT_STR(c, "c/m0", "zero"); /* nothing was sent */
  }

  StartPhase("started calls");
  {
    enum { kCalls = 8, kItems = 50 };
    static char id_text[kCalls][kItems][32], value_text[kCalls][kItems][32];
    const char* ids[kCalls][kItems];
    const void* data[kCalls][kItems];
    size_t lens[kCalls][kItems];
    for (int k = 0; k < kCalls; ++k) {
      for (int i = 0; i < kItems; ++i) {
        snprintf(id_text[k][i], sizeof id_text[k][i], "c/p%d/%d", k, i);
        snprintf(value_text[k][i], sizeof value_text[k][i], "value %d.%d", k, i);
        ids[k][i] = id_text[k][i];
        data[k][i] = value_text[k][i];
        lens[k][i] = strlen(value_text[k][i]);
      }
    }
    /* All started before the first is waited for: kCalls BATCHes in flight. */
    shovel_pending* sets[kCalls];
    for (int k = 0; k < kCalls; ++k) {
      EXPECT_OK(
          shovel_start_set_many(c, kItems, ids[k], data[k], lens[k], &sets[k], &err));
    }
    if (shovel_pending_count(sets[0]) != kItems) Fail(__LINE__, "pending count");
    for (int k = 0; k < kCalls; ++k) {
      uint64_t versions[kItems];
      shovel_status statuses[kItems];
      EXPECT_OK(shovel_pending_wait_set(sets[k], versions, statuses, NULL, &err));
      for (int i = 0; i < kItems; ++i) {
        if (statuses[i] != SHOVEL_OK || versions[i] == 0)
          Fail(__LINE__, "set %d.%d", k, i);
      }
    }
    EXPECT_STATUS(shovel_pending_wait_set(sets[0], NULL, NULL, NULL, &err),
                  SHOVEL_INVALID_ARGUMENT,
                  "invalid argument: the pending's results were already taken");
    EXPECT_STATUS(
        shovel_pending_wait_get(sets[1], NULL, NULL, NULL, NULL, &err),
        SHOVEL_INVALID_ARGUMENT,
        "invalid argument: the pending was not started by shovel_start_get_many");
    for (int k = 0; k < kCalls; ++k) shovel_pending_free(sets[k]);
    shovel_pending* gets[kCalls];
    for (int k = 0; k < kCalls; ++k) {
      EXPECT_OK(shovel_start_get_many(c, kItems, ids[k], &gets[k], &err));
    }
    for (int k = kCalls - 1; k >= 0; --k) { /* any order */
      void* got[kItems];
      size_t got_lens[kItems];
      shovel_status statuses[kItems];
      EXPECT_OK(shovel_pending_wait_get(gets[k], got, got_lens, statuses, NULL, &err));
      for (int i = 0; i < kItems; ++i) {
        if (statuses[i] != SHOVEL_OK || got_lens[i] != lens[k][i] ||
            memcmp(got[i], value_text[k][i], lens[k][i]) != 0) {
          Fail(__LINE__, "get %d.%d", k, i);
        }
        shovel_free(got[i]);
      }
      shovel_pending_free(gets[k]);
    }
    /* Bad input: nothing is started, *pending stays NULL. */
    shovel_pending* p = (shovel_pending*)kSentinel;
    const char* with_null[2] = {"c/p0/0", NULL};
    EXPECT_STATUS(shovel_start_get_many(c, 2, with_null, &p, &err),
                  SHOVEL_INVALID_ARGUMENT, "invalid argument: ids[1] is NULL");
    if (p != NULL) Fail(__LINE__, "pending not NULL after a failed start");
    EXPECT_STATUS(shovel_start_set_many(c, 1, ids[0], data[0], lens[0], NULL, &err),
                  SHOVEL_INVALID_ARGUMENT,
                  "invalid argument: output argument 'pending' is NULL");
    EXPECT_STATUS(shovel_pending_wait_set(NULL, NULL, NULL, NULL, &err),
                  SHOVEL_INVALID_ARGUMENT, "invalid argument: pending handle is NULL");
    if (shovel_pending_count(NULL) != 0) Fail(__LINE__, "count of NULL");
    shovel_pending_free(NULL);
    /* Freed unwaited: the write still lands. */
    const char* lone_id[1] = {"c/unwaited"};
    const void* lone_data[1] = {"landed"};
    size_t lone_len[1] = {6};
    EXPECT_OK(shovel_start_set_many(c, 1, lone_id, lone_data, lone_len, &p, &err));
    shovel_pending_free(p);
    int exists = 0;
    for (int tries = 0; tries < 200 && !exists; ++tries) {
      EXPECT_OK(shovel_exists(c, "c/unwaited", &exists, &err));
      if (!exists) {
        struct timespec ten_ms = {0, 10000000L};
        nanosleep(&ten_ms, NULL);
      }
    }
    EXPECT_STR(c, "c/unwaited", "landed");
  }

  StartPhase("environment (SHOVEL_WORKERS)");
  {
    setenv("SHOVEL_WORKERS", endpoint, 1);
    shovel_client* from_env = NULL;
    EXPECT_OK(shovel_connect(NULL, &from_env, &err));
    EXPECT_OK(shovel_set(c, "c/env", "via env", 7, NULL, &err));
    EXPECT_STR(from_env, "c/env", "via env");
    shovel_close(from_env);
  }

  StartPhase("unreachable worker");
  {
    shovel_options* dead = shovel_options_create();
    shovel_options_set_workers(dead, "tcp://127.0.0.1:1");
    shovel_options_set_deadline_ms(dead, 300);
    shovel_client* d = NULL;
    shovel_status s = shovel_connect(dead, &d, &err);
    if (s == SHOVEL_OK) s = shovel_set(d, "c/a", "x", 1, NULL, &err);
    if ((s != SHOVEL_UNAVAILABLE && s != SHOVEL_TIMEOUT) || err == NULL) {
      Fail(__LINE__, "unreachable worker gave %d (%s)", s, err ? err : "");
    }
    fprintf(stderr, "   %s\n", err);
    shovel_error_free(err);
    err = NULL;
    shovel_close(d);
    shovel_options_destroy(dead);
  }

  free(big);
  shovel_close(c);
  StopWorker();
  fprintf(stderr, "c_api_test: all checks passed\n");
  return 0;
}
