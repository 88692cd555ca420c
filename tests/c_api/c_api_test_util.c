/* See c_api_test_util.h. */
#define _POSIX_C_SOURCE 200809L

#include "c_api_test_util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t worker_pid = 0;
static char ready_dir[64] = "";

static void SleepMs(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

void Fail(int line, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "c_api_test.c:%d: ", line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  StopWorker();
  exit(1);
}

unsigned char* FillBytes(size_t len, unsigned seed) {
  unsigned char* out = malloc(len ? len : 1);
  if (!out) Fail(__LINE__, "out of memory");
  uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
  for (size_t i = 0; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = (unsigned char)(x >> 24);
  }
  return out;
}

/* Reads the ready file; returns 1 when it holds a whole "tcp://host:port". */
static int ReadEndpoint(const char* path, char* out, size_t size) {
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(out, 1, size - 1, f);
  fclose(f);
  out[n] = '\0';
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = '\0';
  const char* colon = strrchr(out, ':');
  return strncmp(out, "tcp://", 6) == 0 && colon && colon[1] >= '0' && colon[1] <= '9';
}

void StartWorker(const char* binary, const char* node_id, const char* max_memory,
                 char* endpoint, size_t endpoint_size) {
  snprintf(ready_dir, sizeof ready_dir, "/tmp/shovel-c-api-XXXXXX");
  if (!mkdtemp(ready_dir)) Fail(__LINE__, "mkdtemp failed");
  char ready[128];
  snprintf(ready, sizeof ready, "%s/ready", ready_dir);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) Fail(__LINE__, "fork failed");
  if (pid == 0) {
    /* The worker dies with the test, even when the test ends without its
     * teardown (a sanitizer report, a crash): nothing is left behind. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    execl(binary, binary, "--listen", "tcp://127.0.0.1:0", "--max-memory", max_memory,
          "--node-id", node_id, "--ready-file", ready, (char*)NULL);
    perror("exec shovel-worker");
    _exit(127);
  }
  worker_pid = pid;
  for (int waited = 0; waited < 20000; waited += 20) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      worker_pid = 0;
      Fail(__LINE__, "shovel-worker exited before it was ready (status %d)", status);
    }
    char again[256];
    if (ReadEndpoint(ready, endpoint, endpoint_size)) {
      SleepMs(20); /* the same text twice: the writer has finished */
      if (ReadEndpoint(ready, again, sizeof again) && strcmp(again, endpoint) == 0) {
        fprintf(stderr, "worker %s (pid %d) at %s\n", node_id, (int)pid, endpoint);
        return;
      }
    }
    SleepMs(20);
  }
  Fail(__LINE__, "shovel-worker did not write %s within 20 s", ready);
}

void StopWorker(void) {
  if (worker_pid > 0) {
    pid_t pid = worker_pid;
    worker_pid = 0;
    kill(pid, SIGTERM);
    int status, reaped = 0;
    for (int waited = 0; waited < 5000 && !reaped; waited += 20) {
      if (waitpid(pid, &status, WNOHANG) == pid)
        reaped = 1;
      else
        SleepMs(20);
    }
    if (!reaped) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
  if (ready_dir[0]) {
    char path[128];
    snprintf(path, sizeof path, "%s/ready", ready_dir);
    unlink(path);
    rmdir(ready_dir);
    ready_dir[0] = '\0';
  }
}
