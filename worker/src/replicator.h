// Replicator: a primary's forwarding of one write to the id's other
// replicas, before the primary applies it and answers.
//
// Each replica gets the write as a request of its own with kFlagReplica and
// the primary's version (APPEND: offset = the size the append lands at), on a
// DEALER socket of this worker's. Forward returns once every replica
// answered OK, or with the first failure: kUnavailable naming the replica
// that did not answer within the deadline or could not be reached, or the
// replica's own error. A replica whose APPEND is refused with kConflict (it
// missed writes: its size differs) is repaired: `repair` gives the blob as
// the primary holds it, the replica gets it as a SET with the blob's version,
// and the append is sent again once.
//
// Epochs: each forwarded write carries the epoch this worker last saw the
// replica answer with (header aux); a replica that rejoined under a newer
// epoch refuses it (kConflict, its epoch in aux) and gets it again with that
// epoch, so a write queued for the replica before it was cut off is never
// applied after it rejoined.
//
// Thread-safe: sockets are taken from a pool per endpoint by the calling
// thread and given back after use (closed instead when a reply is missing),
// so handler threads forward side by side. Owns its ZeroMQ context.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "peer_key_choice.h"
#include "shovel/keys.h"
#include "shovel/protocol.h"
#include "shovel/status.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace shovel::worker {

// The blob as the primary holds it, for repairing a replica: bytes, version.
// `sent`: the repair function copied it to the replica itself (a value over
// one message, see CopyLarge); only the write is then sent again.
struct RepairValue {
  std::string bytes;
  uint64_t version = 0;
  bool sent = false;
};
// Called with the endpoint of the replica to repair.
using RepairFn = std::function<Result<RepairValue>(const std::string& endpoint)>;

// A replica that failed a forward; `endpoint` is set when it is the
// replica's fault (no answer, unreachable), so the client can route
// around it.
struct ForwardError {
  Status status;
  std::string endpoint;  // the replica at fault (no answer, no connection)
  // The replica at `endpoint` holds a newer copy than the primary's
  // (`newer_version`): the primary is behind and must take it first.
  uint64_t newer_version = 0;
  // The replica at `endpoint` applied this append (its kFlagToken) before:
  // the primary takes its copy instead of applying it again.
  bool applied = false;
  // A replica refused the write: this worker, which comes before the
  // primary in the id's order, may hold its lease (it joined or came back,
  // and the client's view is behind). The client asks it.
  std::string outranked_by;
};

class Replicator {
 public:
  static constexpr std::chrono::milliseconds kDeadline{1500};
  // A replica's connection must be up within this (a live one on a LAN
  // connects in about a round trip; a dead one refuses).
  static constexpr std::chrono::milliseconds kConnectWait{300};
  // A forward makes a replica's connection again with another listed peer
  // key at most this often (WatchPeerKeys).
  static constexpr size_t kMaxKeyTries = 3;

  // With `keys`, every connection to a peer is a CURVE client with this
  // worker's key pair; the peer's server key is what SetPeerKey gave for
  // its endpoint, else one of the peer keys file's (WatchPeerKeys), else
  // this worker's own public key (workers of a cluster may share one key
  // pair). See PeerKeyChoice.
  explicit Replicator(std::optional<KeyPair> keys = std::nullopt);
  ~Replicator();
  void SetPeerKey(const std::string& endpoint, const std::string& key);
  // Takes the peers' public keys from `file` (a worker key file, as
  // ParseWorkerKeys reads it), read again when it changed, at most once per
  // kRefreshEvery. While it lists more than one key, a peer connection
  // whose CURVE handshake fails moves that peer to the next listed key and
  // is made again: a write's forward tries each listed key once within its
  // deadline. kInvalidArgument naming the file when it cannot be read or
  // does not parse, or without keys.
  Status WatchPeerKeys(const std::string& file);
  static constexpr std::chrono::seconds kRefreshEvery{1};

  // Sends `req` (its header made a replica's: kFlagReplica, no
  // kFlagReplicas/kFlagIfVersion, version_no = `version`, offset = `offset`
  // for APPEND) to every endpoint of req.replicas and waits for all.
  // Returns nullopt-like OK status in ForwardError.status on success.
  // `have_version` is the primary's version of the id (0: it has none): a
  // replica refusing an APPEND with a newer copy ends the forward with
  // ForwardError::newer_version set instead of being repaired.
  // `sender`: this worker's node id; the write names it and req.passed_over
  // (kFlagSender), so a replica refuses it while a worker before this one
  // in the id's order may hold its lease (ForwardError::outranked_by).
  ForwardError Forward(const wire::Request& req, uint64_t version, uint64_t offset,
                       uint64_t have_version, const RepairFn& repair,
                       std::string_view sender);
  // A hand-over's copy of one id: `req` is a SET of its value as read at
  // `version`, to req.replicas. Unlike a write, it is not sent again to a
  // target that rejoined under a new epoch meanwhile: the target dropped
  // what it held after this copy was read, and may since have taken a
  // newer value (the rejoin starts a hand-over that reads the id again).
  ForwardError Copy(const wire::Request& req, uint64_t version);

  // A value too large for one message (over kMaxFetch) copied to
  // `endpoint` as a replica's streamed write at `version`: UPLOAD_BEGIN
  // (kFlagReplica, the endpoint's epoch), UPLOAD_DATA of at most kCopyPart
  // bytes each, as `part(offset, length)` reads them, and UPLOAD_COMMIT.
  // The target keeps a copy it has at that version or newer, and refuses
  // the commit if it rejoined since the begin. When `part` fails (the value
  // changed meanwhile) or the target does not answer, the target's upload
  // is aborted and the error returned (ForwardError::endpoint set for a
  // target that did not answer). Memory: one part at a time.
  static constexpr uint64_t kCopyPart = 8ull << 20;
  static constexpr std::chrono::milliseconds kCopyPartWait{5000};
  using PartFn = std::function<Result<std::string>(uint64_t offset, uint64_t length)>;
  ForwardError CopyLarge(const std::string& endpoint, std::string_view id,
                         uint64_t version, uint64_t size, bool pinned,
                         const PartFn& part);

  // The blob `id` as the first of `endpoints` that holds it has it (a GET
  // without following pointers); kNotFound when none does. For a primary
  // that lacks an id its replicas hold (it rejoined under a new epoch and
  // dropped what it held). Values over kMaxFetch are not fetched
  // (kNoSpace).
  static constexpr uint64_t kMaxFetch = 63ull << 20;
  // kUnavailable when one that did not answer may hold it (its endpoint in
  // *unanswered).
  Result<RepairValue> Fetch(const std::vector<std::string>& endpoints,
                            std::string_view id, std::string* unanswered = nullptr);
  // Fetch for a value of any size, part by part (one reply's bytes at a
  // time): `sink` gets each part's bytes, their offset, and the value's
  // size and version; a part at offset 0 starts the value over (the next
  // endpoint is asked after one failed midway). An error from `sink` ends
  // the fetch with it; a value whose version changes between parts ends it
  // with kConflict. Each part must come within kDeadline of the one
  // before it (the first, of the fetch's start). Returns the value's
  // version.
  using FetchSink = std::function<Status(std::string_view bytes, uint64_t offset,
                                         uint64_t size, uint64_t version)>;
  Result<uint64_t> FetchParts(const std::vector<std::string>& endpoints,
                              std::string_view id, const FetchSink& sink,
                              std::string* unanswered = nullptr);

  // A write as sent to a replica: `header` (kFlagReplica, version_no =
  // `version`, APPEND: offset = `offset`; request_id and aux, the
  // replica's epoch, are the sender's to set) and the frames after the
  // request's id and payload: kFlagSender's list (`sender` and the
  // request's passed-over workers) when `sender` is set, then an append's
  // token.
  struct Outgoing {
    wire::Header header;
    std::vector<std::string> trailer;
  };
  static Outgoing ForwardOf(const wire::Request& req, uint64_t version, uint64_t offset,
                            std::string_view sender);
  // For connections made elsewhere (the server's I/O thread forwards small
  // writes on its own): this worker's key pair (none: no CURVE), the
  // server key to expect from `endpoint` (see SetPeerKey), and the epoch
  // its replies last carried, which a forwarded write carries in aux.
  const std::optional<KeyPair>& keys() const { return keys_; }
  std::string PeerKey(const std::string& endpoint);
  uint64_t Epoch(const std::string& endpoint);
  void SetEpoch(const std::string& endpoint, uint64_t epoch);

  // One request to `endpoint` and its reply (header and first payload
  // frame), within `timeout`. kUnavailable when no answer came.
  struct Answer {
    wire::Header header;
    std::string message;
    std::vector<std::string> more;  // the payload frames after the first
  };
  Result<Answer> Call(const std::string& endpoint, wire::Header h, std::string_view id,
                      const std::vector<std::string_view>& payload,
                      std::chrono::milliseconds timeout);

 private:
  struct Spec {
    uint64_t version = 0;
    uint64_t offset = 0;
    uint64_t have_version = 0;
    const RepairFn* repair = nullptr;
    bool resend_if_rejoined = true;
    std::string_view sender;  // kFlagSender's node id; empty: a copy
  };
  ForwardError Send(const wire::Request& req, const Spec& spec);
  struct Conn;
  std::unique_ptr<Conn> Take(const std::string& endpoint);
  void Give(std::unique_ptr<Conn> c);
  // Whether `c`'s CURVE handshake failed (its monitor, made while
  // rotating, says so) and its peer moved to another listed key: the
  // caller then makes the connection again with Take.
  bool KeyRejected(Conn& c);
  void RefreshPeerKeysLocked();
  // Reads the peer keys file if it changed and installs its list; an
  // unreadable file or one that lists no key changes nothing.
  Status ReloadPeerKeysLocked();

  std::unique_ptr<zmq::context_t> ctx_;
  const std::optional<KeyPair> keys_;
  std::mutex mu_;
  PeerKeyChoice peer_keys_;                                 // guarded by mu_
  std::string peer_keys_file_;                              // guarded by mu_
  std::string peer_keys_identity_;                          // guarded by mu_
  std::chrono::steady_clock::time_point next_refresh_;      // guarded by mu_
  uint64_t next_monitor_ = 0;                               // guarded by mu_
  std::multimap<std::string, std::unique_ptr<Conn>> idle_;  // guarded by mu_
  uint64_t next_request_ = 1;                               // guarded by mu_
  // Each replica's epoch as its last reply gave it (0: not known). A
  // forwarded write carries it; a replica that rejoined under a newer one
  // refuses the write, which is sent again with the new epoch once.
  std::map<std::string, uint64_t> epochs_;  // guarded by mu_
};

}  // namespace shovel::worker
