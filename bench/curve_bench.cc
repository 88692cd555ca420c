#include "curve_bench.h"

#include <sodium.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <cstdlib>
#include <vector>

#include "shovel/keys.h"

namespace shovel::bench {

CurveFiles::~CurveFiles() {
  for (const auto& f : {worker_key, client_key, authorized}) {
    if (!f.empty()) unlink(f.c_str());
  }
  if (!dir.empty()) rmdir(dir.c_str());
}

bool MakeCurveFiles(CurveFiles* out) {
  if (!zmq_has("curve")) return false;
  char tmpl[] = "/tmp/shovel-bench-keys-XXXXXX";  // mkdtemp: mode 0700
  if (!mkdtemp(tmpl)) return false;
  out->dir = tmpl;
  char wp[41], ws[41], cp[41], cs[41];
  if (zmq_curve_keypair(wp, ws) != 0 || zmq_curve_keypair(cp, cs) != 0) return false;
  out->worker_key = out->dir + "/worker.key";
  out->client_key = out->dir + "/client.key";
  out->authorized = out->dir + "/authorized";
  out->worker_public = wp;
  if (!WriteKeyPairFile(out->worker_key, {wp, ws}).ok() ||
      !WriteKeyPairFile(out->client_key, {cp, cs}).ok()) {
    return false;
  }
  FILE* f = std::fopen(out->authorized.c_str(), "w");
  if (!f) return false;
  std::fprintf(f, "%s rw\n", cp);
  return std::fclose(f) == 0;
}

double SecretboxGBps(size_t bytes, double seconds) {
  if (sodium_init() < 0) return 0;
  std::vector<unsigned char> msg(bytes, 7), box(bytes + crypto_secretbox_MACBYTES);
  unsigned char key[crypto_secretbox_KEYBYTES], nonce[crypto_secretbox_NONCEBYTES];
  randombytes_buf(key, sizeof key);
  randombytes_buf(nonce, sizeof nonce);
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  double done = 0, elapsed = 0;
  while (elapsed < seconds) {
    crypto_secretbox_easy(box.data(), msg.data(), msg.size(), nonce, key);
    sodium_increment(nonce, sizeof nonce);
    done += static_cast<double>(bytes);
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return done / elapsed / 1e9;
}

}  // namespace shovel::bench
