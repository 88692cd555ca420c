/* The smallest C program on libshovel: set, append, get, node_id.
 *
 *   cc hello.c $(pkg-config --cflags --libs shovel) -o hello
 *   SHOVEL_WORKERS=tcp://127.0.0.1:7070 ./hello greeting
 *
 * Membership comes from the environment (SHOVEL_WORKERS or CONSUL_HTTP_ADDR).
 * Prints the value and the worker best placed to process it. */
#include <shovel/shovel.h>
#include <stdio.h>
#include <string.h>

static int Check(shovel_status s, char* err, const char* what) {
  if (s == SHOVEL_OK) return 0;
  fprintf(stderr, "hello: %s: %s\n", what, err ? err : shovel_status_name(s));
  shovel_error_free(err);
  return 1;
}

int main(int argc, char** argv) {
  const char* id = argc > 1 ? argv[1] : "hello/greeting";
  shovel_client* client = NULL;
  char* err = NULL;
  if (Check(shovel_connect(NULL, &client, &err), err, "connect")) return 1;

  int failed = Check(shovel_set(client, id, "hello, ", 7, NULL, &err), err, "set") ||
               Check(shovel_append(client, id, "world", 5, NULL, &err), err, "append");
  void* data = NULL;
  size_t len = 0;
  char* node = NULL;
  if (!failed) {
    failed = Check(shovel_get(client, id, 0, SHOVEL_WHOLE_BLOB, &data, &len, &err), err,
                   "get") ||
             Check(shovel_node_id(client, id, NULL, &node, &err), err, "node_id");
  }
  if (!failed) printf("%.*s (on %s)\n", (int)len, (const char*)data, node);
  shovel_free(data);
  shovel_free(node);
  shovel_close(client);
  return failed;
}
