// The CURVE side of the core benchmark (docs/security.md): key files for a
// worker and a client in a private temporary directory, and the rate of
// libsodium's XSalsa20-Poly1305 (crypto_secretbox, what CURVE encrypts every
// message with) on this machine: the physical limit of encrypted traffic.
// Not thread-safe; called from the benchmark's main.
#pragma once

#include <string>

namespace shovel::bench {

struct CurveFiles {
  std::string dir;  // removed by the destructor
  std::string worker_key, client_key, authorized;
  std::string worker_public;
  ~CurveFiles();
};

// Generates both key pairs (zmq_curve_keypair) and the authorized-keys file
// listing the client; false when CURVE is not available.
bool MakeCurveFiles(CurveFiles* out);

// GB/s of crypto_secretbox_easy over `bytes`-byte messages, one core.
double SecretboxGBps(size_t bytes, double seconds);

}  // namespace shovel::bench
