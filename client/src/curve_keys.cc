#include "curve_keys.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <zmq.hpp>

#include "shovel/log.h"

namespace shovel::client {

CurveKeys::CurveKeys(KeyPair client, std::vector<std::string> worker_keys,
                     std::string file)
    : client_(std::move(client)),
      file_(std::move(file)),
      worker_keys_(std::move(worker_keys)) {
  if (!file_.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    ReadFileLocked();  // records the file's identity
    next_refresh_.store((Clock::now() + kRefreshEvery).time_since_epoch().count(),
                        std::memory_order_relaxed);
  }
}

std::string CurveKeys::ServerKeyLocked(const std::string& endpoint) const {
  if (auto it = by_endpoint_.find(endpoint); it != by_endpoint_.end()) return it->second;
  if (worker_keys_.empty()) return std::string();
  std::string& chosen = chosen_[endpoint];
  if (std::find(worker_keys_.begin(), worker_keys_.end(), chosen) == worker_keys_.end()) {
    chosen = worker_keys_.front();
  }
  return chosen;
}

bool CurveKeys::Rotating() const {
  std::lock_guard<std::mutex> l(mu_);
  return worker_keys_.size() > 1;
}

std::string CurveKeys::ServerKey(const std::string& endpoint) const {
  std::lock_guard<std::mutex> l(mu_);
  return ServerKeyLocked(endpoint);
}

void CurveKeys::SetServerKey(const std::string& endpoint, const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string before = ServerKeyLocked(endpoint);
  if (key.empty()) {
    by_endpoint_.erase(endpoint);
  } else {
    by_endpoint_[endpoint] = key;
  }
  if (ServerKeyLocked(endpoint) != before) {
    generation_.fetch_add(1, std::memory_order_relaxed);
  }
}

void CurveKeys::ReadFileLocked() {
  // Being replaced, half written or wrong: the old keys stay.
  auto keys = ReadWorkerKeysIfChanged(file_, &file_identity_);
  if (!keys.ok() || !*keys) return;
  if (**keys != worker_keys_) {
    worker_keys_ = std::move(**keys);
    generation_.fetch_add(1, std::memory_order_relaxed);
  }
}

void CurveKeys::Refresh(Clock::time_point now) {
  if (file_.empty()) return;
  const int64_t ticks = now.time_since_epoch().count();
  int64_t due = next_refresh_.load(std::memory_order_relaxed);
  if (ticks < due) return;
  const int64_t next = (now + kRefreshEvery).time_since_epoch().count();
  if (!next_refresh_.compare_exchange_strong(due, next, std::memory_order_relaxed))
    return;
  std::lock_guard<std::mutex> l(mu_);
  ReadFileLocked();
}

bool CurveKeys::KeyRejected(const std::string& endpoint, const std::string& rejected,
                            Clock::time_point now) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string before = ServerKeyLocked(endpoint);
  if (before != rejected) return true;
  if (!file_.empty()) ReadFileLocked();
  std::string after = ServerKeyLocked(endpoint);
  Tries& tries = tries_[endpoint];
  if (after != before || now - tries.since > kTriesWithin) tries = Tries{now, 0};
  if (after == before && !by_endpoint_.count(endpoint) &&
      ++tries.rejected < worker_keys_.size()) {
    auto it = std::find(worker_keys_.begin(), worker_keys_.end(), before);
    size_t i = it == worker_keys_.end() ? 0 : (it - worker_keys_.begin() + 1);
    chosen_[endpoint] = worker_keys_[i % worker_keys_.size()];
    after = ServerKeyLocked(endpoint);
  }
  if (after == before) {
    // Every key was tried: the caller reports the mismatch. The next
    // connection tries the next key in a new round (the worker may come
    // back with a listed key at any time), without waiting out
    // kTriesWithin.
    tries = Tries{now, 0};
    if (!by_endpoint_.count(endpoint) && worker_keys_.size() > 1) {
      auto it = std::find(worker_keys_.begin(), worker_keys_.end(), before);
      size_t i = it == worker_keys_.end() ? 0 : (it - worker_keys_.begin() + 1);
      chosen_[endpoint] = worker_keys_[i % worker_keys_.size()];
      generation_.fetch_add(1, std::memory_order_relaxed);
    }
    return false;
  }
  generation_.fetch_add(1, std::memory_order_relaxed);
  log::Info("worker " + endpoint + " failed the CURVE handshake with worker key " +
            before.substr(0, 8) + "...; connecting with " + after.substr(0, 8) + "..." +
            (file_.empty() ? "" : " (from " + file_ + ")"));
  return true;
}

std::optional<CurveKeys::KeyList> CurveKeys::ListFor(const std::string& endpoint) const {
  std::lock_guard<std::mutex> l(mu_);
  if (file_.empty() || by_endpoint_.count(endpoint)) return std::nullopt;
  return KeyList{file_, worker_keys_.size()};
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
  if (worker_key.empty() && !have_consul) {
    return Status::InvalidArgument(
        "a key file needs the workers' public key: give --worker-key KEY or "
        "SHOVEL_WORKER_KEY (Consul gives it from the workers' registrations)");
  }
  if (worker_key.empty() || IsZ85Key(worker_key)) {
    std::vector<std::string> list;
    if (!worker_key.empty()) list.push_back(worker_key);
    return std::make_shared<CurveKeys>(std::move(keys), std::move(list));
  }
  // Not a key: a file of worker keys, read again as it changes.
  std::ifstream f(worker_key);
  if (!f) {
    return Status::InvalidArgument(
        "worker key '" + worker_key.substr(0, 48) +
        "' is neither a public key (40 Z85 characters, as shovelctl keygen prints) nor "
        "a readable file of worker keys: " +
        std::strerror(errno));
  }
  std::stringstream text;
  text << f.rdbuf();
  SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> list,
                          ParseWorkerKeys(text.str(), worker_key));
  return std::make_shared<CurveKeys>(std::move(keys), std::move(list), worker_key);
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

bool IsWorkerKeyMismatch(uint16_t event, uint32_t value) {
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) return false;
  return !(event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
           value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH);
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
                      bool have_key, const std::optional<CurveKeys::KeyList>& list) {
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
  if (list) {
    return Status::PermissionDenied(
        "worker " + endpoint + ": its public key matches none of the " +
        std::to_string(list->count) + (list->count == 1 ? " key" : " keys") + " in " +
        list->file +
        " (add the worker's public key to that file, or restart the worker with a key "
        "pair the file lists)");
  }
  return Status::PermissionDenied(
      "worker's key does not match: " + endpoint +
      " failed the CURVE handshake (check --worker-key / SHOVEL_WORKER_KEY)");
}

}  // namespace shovel::client
