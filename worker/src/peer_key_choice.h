// PeerKeyChoice: which CURVE public key this worker expects of each peer it
// connects to (the server key of its connections to the peer;
// docs/security.md, Key rotation).
//
// A peer's key is, first, the one its Consul registration gives (SetKnown);
// else one of the listed keys (shovel-worker --peer-keys FILE): the one the
// endpoint was given before while the list still has it, else the first;
// with no list, this worker's own public key (workers of a cluster may
// share one key pair). A connection whose CURVE handshake failed moves its
// endpoint to the next listed key (Rejected), so while an operator restarts
// workers with a new key pair one at a time, each worker reaches old and new
// peers alike.
//
// Pure logic, no I/O. Thread-compatible: the Replicator guards it.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace shovel::worker {

class PeerKeyChoice {
 public:
  explicit PeerKeyChoice(std::string own_key) : own_(std::move(own_key)) {}
  // The listed keys, the first preferred (file order, no repeats). An
  // endpoint keeps the key it has while the list has it.
  void SetList(std::vector<std::string> keys) { list_ = std::move(keys); }
  const std::vector<std::string>& list() const { return list_; }
  // The peer's own key (from Consul); empty forgets it.
  void SetKnown(const std::string& endpoint, const std::string& key);
  // The key to connect to `endpoint` with.
  std::string Key(const std::string& endpoint);
  // A connection to `endpoint` made with `rejected` failed its CURVE
  // handshake: the endpoint moves to the next listed key (after the last:
  // the first). True when its key now differs from `rejected` (also when
  // it moved already: another connection failed first); false when there
  // is nothing else to try (a key from Consul, or fewer than two listed).
  bool Rejected(const std::string& endpoint, const std::string& rejected);

 private:
  const std::string own_;
  std::vector<std::string> list_;
  std::map<std::string, std::string> known_;   // endpoint -> Consul's key
  std::map<std::string, std::string> chosen_;  // endpoint -> a listed key
};

}  // namespace shovel::worker
