/* Test plumbing for c_api_test.c: failing loudly, test data, and one
 * shovel-worker child process (started on port 0, stopped by pid).
 * Not thread-safe; call from the main thread. */
#ifndef SHOVEL_TESTS_C_API_TEST_UTIL_H_
#define SHOVEL_TESTS_C_API_TEST_UTIL_H_

#include <stddef.h>

/* Prints "c_api_test.c:LINE: message", stops the worker, exits 1. */
void Fail(int line, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
/* `len` pseudo-random bytes (xorshift from `seed`); free with free(). */
unsigned char* FillBytes(size_t len, unsigned seed);
/* Starts `binary` --listen tcp://127.0.0.1:0 --max-memory MEM --node-id ID
 * --ready-file F and waits (at most 20 s) for its endpoint. */
void StartWorker(const char* binary, const char* node_id, const char* max_memory,
                 char* endpoint, size_t endpoint_size);
/* SIGTERM, then SIGKILL after 5 s; reaps the child. Safe to call twice. */
void StopWorker(void);

#endif /* SHOVEL_TESTS_C_API_TEST_UTIL_H_ */
