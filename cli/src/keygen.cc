// shovelctl keygen FILE: a CURVE key pair made by libzmq (libsodium's
// randomness), written by shovel/keys.h in its documented format.
#include <zmq.h>

#include <nlohmann/json.hpp>

#include "cli_internal.h"
#include "shovel/keys.h"

namespace shovel::cli {

int Commands::Keygen(Cli& cli, const std::string& file) {
  if (!zmq_has("curve")) {
    return cli.Fail("keygen", Status::Unavailable("this libzmq is built without CURVE"));
  }
  char pub[kZ85KeySize + 1], sec[kZ85KeySize + 1];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return cli.Fail("keygen", Status::Internal(std::string("zmq_curve_keypair: ") +
                                               zmq_strerror(zmq_errno())));
  }
  KeyPair keys{pub, sec};
  Status st = WriteKeyPairFile(file, keys);
  if (!st.ok()) return cli.Fail("keygen", st);
  if (cli.globals_.json) {
    std::string s =
        nlohmann::json{{"file", file}, {"public_key", keys.public_key}}.dump();
    std::fprintf(cli.io_.out, "%s\n", s.c_str());
  } else {
    std::fprintf(cli.io_.out, "%s\n", keys.public_key.c_str());
  }
  return 0;
}

}  // namespace shovel::cli
