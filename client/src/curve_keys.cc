#include "curve_keys.h"

#include <cstdlib>
#include <zmq.hpp>

namespace shovel::client {

std::string CurveKeys::ServerKey(const std::string& endpoint) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_endpoint_.find(endpoint);
  return it != by_endpoint_.end() ? it->second : default_server_key_;
}

void CurveKeys::SetServerKey(const std::string& endpoint, const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_endpoint_.find(endpoint);
  const std::string& before = it != by_endpoint_.end() ? it->second : default_server_key_;
  const std::string& after = key.empty() ? default_server_key_ : key;
  if (before != after) generation_.fetch_add(1, std::memory_order_relaxed);
  if (key.empty()) {
    if (it != by_endpoint_.end()) by_endpoint_.erase(it);
  } else {
    by_endpoint_[endpoint] = key;
  }
}

Result<std::shared_ptr<CurveKeys>> LoadCurveKeys(std::string key_file,
                                                 std::string worker_key, bool have_consul,
                                                 bool use_environment) {
  if (key_file.empty() && use_environment) {
    if (const char* e = std::getenv("SHOVEL_KEY_FILE"); e && *e) key_file = e;
  }
  if (worker_key.empty() && use_environment) {
    if (const char* e = std::getenv("SHOVEL_WORKER_KEY"); e && *e) worker_key = e;
  }
  if (key_file.empty()) return std::shared_ptr<CurveKeys>();
  SHOVEL_ASSIGN_OR_RETURN(KeyPair keys, ReadKeyPairFile(key_file));
  if (!worker_key.empty() && !IsZ85Key(worker_key)) {
    return Status::InvalidArgument("worker key '" + worker_key.substr(0, 48) +
                                   "' is not a public key (40 Z85 characters, as "
                                   "shovelctl keygen prints)");
  }
  if (worker_key.empty() && !have_consul) {
    return Status::InvalidArgument(
        "a key file needs the workers' public key: give --worker-key KEY or "
        "SHOVEL_WORKER_KEY (Consul gives it from the workers' registrations)");
  }
  return std::make_shared<CurveKeys>(std::move(keys), std::move(worker_key));
}

void ApplyCurve(zmq::socket_t& socket, const CurveKeys* keys,
                const std::string& endpoint) {
  if (!keys) return;
  std::string server = keys->ServerKey(endpoint);
  // Unknown: a well-formed key no worker has (all zero bytes), so the
  // handshake fails and the error names the key mismatch.
  if (server.empty()) server = std::string(kZ85KeySize, '0');
  socket.set(zmq::sockopt::curve_serverkey, server);
  socket.set(zmq::sockopt::curve_publickey, keys->client().public_key);
  socket.set(zmq::sockopt::curve_secretkey, keys->client().secret_key);
}

bool IsKeyVerdict(uint16_t event, uint32_t value, bool repeated) {
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) return true;
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
      value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
    return true;
  }
  return repeated;
}

Status HandshakeError(const std::string& endpoint, uint16_t event, uint32_t value,
                      bool have_key) {
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    return Status::PermissionDenied("worker refused this key: " + endpoint +
                                    " does not list it in its authorized keys");
  }
  // Without a key any failed handshake means the worker wants one (a
  // worker without keys takes a client without one).
  if (!have_key) {
    return Status::PermissionDenied(
        "worker refused this client: " + endpoint +
        " requires a key (give --key-file FILE or SHOVEL_KEY_FILE)");
  }
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
      value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
    return Status::PermissionDenied("worker " + endpoint +
                                    " does not use keys (it runs without --key-file)");
  }
  return Status::PermissionDenied(
      "worker's key does not match: " + endpoint +
      " failed the CURVE handshake (check --worker-key / SHOVEL_WORKER_KEY)");
}

}  // namespace shovel::client
