// The shoveling wire protocol: pure encode/decode functions shared by the
// worker and the client. No sockets here; worker/PROTOCOL.md is the prose
// specification and must be kept in step with this file.
//
// A message is a list of ZeroMQ frames. Requests: [header][id][payload...];
// replies: [header][payload...]. (A ROUTER socket adds the peer's routing id
// frame in front; the transport strips and re-adds it, the codec never sees
// it.) The header is a fixed 48-byte little-endian frame. Every decode
// function validates every field and returns kProtocol with a message naming
// the field; none of them allocates more than the input's size.
//
// Thread-safety: all functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/status.h"

namespace shovel::wire {

inline constexpr uint16_t kMagic = 0x5653;  // bytes 'S' 'V' on the wire
inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr size_t kHeaderSize = 48;
inline constexpr uint64_t kToEnd = UINT64_MAX;  // GET length: to the end

// Limits a decoder enforces (a peer that exceeds them gets kProtocol).
inline constexpr size_t kMaxFrames = 1026;                // header+id+1024
inline constexpr size_t kMaxMessageBytes = 64ull << 20;   // one message
inline constexpr size_t kMaxListEntries = 10000;          // one LIST page
inline constexpr size_t kMaxBatchItems = 1024;            // sub-requests of a BATCH
inline constexpr uint64_t kMaxBatchItemBytes = 64 << 10;  // SET/APPEND item, GET reply

enum class Op : uint8_t {
  kPing = 0,          // -> payload[0] = node id
  kSet = 1,           // id, payload = bytes; replace atomically
  kAppend = 2,        // id, payload = bytes; creates the id if missing
  kGet = 3,           // id, offset, length -> bytes (maybe partial, kFlagMore)
  kUploadBegin = 4,   // id [, payload[0] = Strings replicas] -> aux = handle
  kUploadData = 5,    // aux = handle, offset = bytes so far, payload = bytes
  kUploadCommit = 6,  // aux = handle -> version, length = new size
  kUploadAbort = 7,   // aux = handle
  kDelete = 8,        // id
  kStat = 9,          // id -> length = size, version, payload[0] = StatBody
  kSetAttrs = 10,     // id, payload[0] = Attrs to set, payload[1] = names to drop
  kCreate = 11,       // id, flags kFlagPinned/kFlagExclusive (used by init)
  kList = 12,         // id = prefix, payload[0] = start-after cursor, aux = limit
  kNodeStats = 13,    // -> payload[0] = NodeStats
  kRename = 14,       // id = from, payload[0] = to (both on this worker)
  kPutPointer = 15,   // id, payload[0] = endpoint, payload[1] = node id
  kTransfer = 16,     // reserved: worker-to-worker hand-over (replication issue)
  kBatch = 17,        // aux = count, payload[0] = batch body -> replies, one each
  kEpoch = 18,        // aux = proposed epoch -> aux = the worker's epoch
  kHandover = 19,     // payload[0] = HandoverBody: copy ids to a (re)joined worker
  kLease = 20,        // payload[0] = Strings [endpoint, node id], aux = epoch
  kDrain = 21,        // payload[0] = HandoverBody (target: this worker): leave
  // Worker -> client, unasked: an id the client's connection watches
  // (kFlagWatch) changed; request_id numbers the notice. The client answers
  // with a CHANGED reply (kFlagReply, the same request_id, empty id).
  kChanged = 22,
  kRenewWatches = 23,  // -> aux = ms this connection's watches hold (0: none)
};
inline constexpr uint8_t kMaxOp = 23;

std::string_view OpName(Op op);

// Header flags.
enum Flag : uint16_t {
  kFlagReply = 1 << 0,       // set on every reply
  kFlagPinned = 1 << 1,      // CREATE/SET/UPLOAD_BEGIN: never evict this id
  kFlagExclusive = 1 << 2,   // CREATE/RENAME: fail kAlreadyExists if it exists
  kFlagIfVersion = 1 << 3,   // apply only if current version == header.version
                             // (version 0 = the id must not exist)
  kFlagMore = 1 << 4,        // reply: GET stopped early / LIST has more pages
  kFlagAppendMode = 1 << 5,  // UPLOAD_BEGIN: commit appends instead of replacing
  kFlagNoRedirect = 1 << 6,  // serve here even if a pointer record exists
  kFlagDelimiter = 1 << 7,   // LIST: group by the next '/' (directory listing)
  // SET, APPEND, DELETE, CREATE, SET_ATTRS: this worker is the id's primary;
  // the last payload frame is the Strings list of the other replicas'
  // endpoints, to which it forwards the write before it answers. GET and
  // STAT: served as the primary, under a lease from each of them. Entries
  // starting with '!' are workers ranked before this one that the sender
  // passed over (found down): this worker serves as primary only once it
  // knows their leases have run out.
  kFlagReplicas = 1 << 8,
  // The same ops, from a primary: apply as a replica with the primary's
  // version (version_no) and never forward. APPEND: offset = the blob's size
  // before it (kConflict when this replica's size differs).
  kFlagReplica = 1 << 9,
  // APPEND with kFlagReplicas or kFlagReplica: the last payload frame is an
  // 8-byte token (EncodeToken, not 0), the same on every attempt of one
  // call. A worker that applied an append with this token to this id lately
  // does not apply it again (see worker/PROTOCOL.md).
  kFlagToken = 1 << 10,
  // A write with kFlagReplica forwarded by its primary (not a hand-over's
  // copy): the frame before the token (the last without one) is the Strings
  // list [the primary's node id, the workers its client passed over]. The
  // replica refuses it (kUnavailable, payload[2] = that worker) while a
  // worker that comes before the primary in the id's order, and was not
  // passed over, may hold a lease from it.
  kFlagSender = 1 << 11,
  // STAT or SET (not to a primary or replica): watch the id for this
  // connection. Set on the reply when granted, with aux = ms the watch
  // holds from when the request was sent (a SET's reply then carries the
  // id's StatBody as a STAT's does): until then the worker sends CHANGED to
  // this connection, and waits for its answer or for the watch to run out,
  // before it acknowledges any change of the id (worker/PROTOCOL.md).
  kFlagWatch = 1 << 12,
};
inline constexpr uint16_t kKnownFlags = 0x1fff;
// At most this many replica endpoints in a kFlagReplicas list.
inline constexpr size_t kMaxReplicas = 7;

struct Header {
  uint16_t magic = kMagic;
  uint8_t version = kProtocolVersion;
  Op op = Op::kPing;
  uint16_t flags = 0;
  Code status = Code::kOk;  // replies only
  uint64_t request_id = 0;  // chosen by the requester, echoed in the reply
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t version_no = 0;  // blob version (replies) / expected (kFlagIfVersion)
  uint64_t aux = 0;         // upload handle, list limit
};

void EncodeHeader(const Header& h, char out[kHeaderSize]);
std::string EncodeHeader(const Header& h);
// Checks size, magic, protocol version, opcode, flags and status.
Result<Header> DecodeHeader(std::string_view frame);

// A decoded request. Views point into the caller's frames.
struct Request {
  Header header;
  std::string_view id;
  std::vector<std::string_view> payload;
  uint64_t payload_bytes = 0;
  // kFlagReplicas: the endpoints to forward to (taken off the payload).
  std::vector<std::string> replicas;
  // kFlagReplicas: the workers the sender passed over ('!' entries).
  std::vector<std::string> passed_over;
  // kFlagToken: the append's token (taken off the payload); 0 without it.
  uint64_t token = 0;
  // kFlagSender: the forwarding primary's node id (taken off the payload,
  // with its passed-over workers in `passed_over`); empty without it.
  std::string sender;
};

// The kFlagToken frame of `token` (8 bytes, little-endian).
std::string EncodeToken(uint64_t token);

// Ops a primary forwards to its replicas (kFlagReplicas / kFlagReplica).
bool ReplicatedOp(Op op);
// Ops that may carry kFlagReplicas: the replicated ones, GET, STAT and
// BATCH (of reads, served under the leases of every listed worker).
bool PrimaryOp(Op op);
// Ops that may carry kFlagReplica: the replicated ones, and the streamed
// write ops (a worker copies a value over one message to a peer with them).
bool ReplicaOp(Op op);

// LEASE (worker to worker): the sender's endpoint and node id.
struct LeaseBody {
  std::string endpoint;
  std::string node_id;
};
std::string EncodeLease(const LeaseBody& b);
Result<LeaseBody> DecodeLease(std::string_view frame);

// Validates the frame layout, the header, the id (ValidateId for ops that
// take one; ValidatePrefix for LIST) and the op's payload shape. On error the
// returned status names the problem; if the header itself decoded, callers
// may still reply using DecodeHeader's request id.
Result<Request> DecodeRequest(const std::vector<std::string_view>& frames);

// A decoded reply. Error replies carry the message in payload[0]; redirects
// carry the endpoint in payload[0] and the node id in payload[1].
struct Reply {
  Header header;
  std::vector<std::string_view> payload;
};
Result<Reply> DecodeReply(const std::vector<std::string_view>& frames);
// The same into *out, reusing the capacity of out->payload (for decoding many
// items in a loop without an allocation each).
Status DecodeReply(const std::vector<std::string_view>& frames, Reply* out);
// Turns an error reply into a Status (kOk for a success reply).
Status ReplyStatus(const Reply& r);

// Builds the header of a reply to `req` with the given status.
Header ReplyHeader(const Header& req, Code status);

// ---- BATCH -----------------------------------------------------------------
//
// A BATCH request carries up to kMaxBatchItems small requests in one message
// (empty id frame, aux = count, payload[0] = body); its reply carries one
// reply per item, in item order (aux = count, payload[0] = body). A body is,
// for each item, a u32 frame count then each frame as (u32 length, bytes):
// a request item's frames are [header][id][payload...] as in a message of its
// own, a reply item's are [header][payload...].

// Frames of one item; views into the body (decode) or the caller's data.
using Frames = std::vector<std::string_view>;

// Appends items to a batch body.
class BatchWriter {
 public:
  // One request item: `h` (request_id is the caller's to choose), id, payload.
  void AddRequest(const Header& h, std::string_view id,
                  const std::vector<std::string_view>& payload);
  // One reply item.
  void AddReply(const Header& h, const std::vector<std::string_view>& payload);
  // Room for `bytes` of body without growing: a body grown item by item
  // copied what it held at each doubling (most of a 1 KiB GET item's cost
  // after the value's own copy).
  void Reserve(size_t bytes) { body_.reserve(bytes); }
  size_t count() const { return count_; }
  size_t bytes() const { return body_.size(); }
  std::string Take() { return std::move(body_); }

 private:
  void Add(const Header& h, const std::string_view* id,
           const std::vector<std::string_view>& payload);
  std::string body_;
  size_t count_ = 0;
};

// A request item written in place, for building a body in one allocation:
// BatchRequestSize is the bytes EncodeBatchRequest writes at `out` (the same
// bytes BatchWriter::AddRequest appends); it returns the end of the item.
size_t BatchRequestSize(std::string_view id, std::span<const std::string_view> payload);
char* EncodeBatchRequest(char* out, const Header& h, std::string_view id,
                         std::span<const std::string_view> payload);

// Reads a body's `count` items one at a time, with DecodeBatchBody's checks
// but no allocation per item (the caller's Frames is reused). Views point
// into the body.
class BatchReader {
 public:
  BatchReader(std::string_view body, uint64_t count) : body_(body), left_(count) {}
  // The next item's frames into *item (cleared first); kProtocol when the
  // body is malformed or has no item left.
  Status Next(Frames* item);
  // kProtocol when bytes remain after the last item (call after `count`
  // successful Next calls).
  Status Finish() const;
  // kProtocol unless the count is within kMaxBatchItems and fits the body.
  Status CheckCount() const;
  // Bytes of the body read so far (the end of the last item read).
  size_t offset() const { return pos_; }

 private:
  bool U32(uint32_t* v);
  std::string_view body_;
  size_t pos_ = 0;
  uint64_t left_;
};

// Splits a body into exactly `count` items (count <= kMaxBatchItems); a
// forged length or count is kProtocol, never an allocation past the body's
// size. Items are not validated here.
Result<std::vector<Frames>> DecodeBatchBody(std::string_view body, uint64_t count);
// DecodeBatchBody's checks without making the items (no allocation): OK
// when `body` splits into exactly `count` items.
Status CheckBatchBody(std::string_view body, uint64_t count);
// Validates one request item: DecodeRequest's checks, plus: the op may be
// batched (PING, SET, APPEND, GET, DELETE, STAT, SET_ATTRS, CREATE,
// PUT_POINTER) and a SET/APPEND carries at most kMaxBatchItemBytes.
Result<Request> DecodeBatchItem(const Frames& frames);
bool BatchableOp(Op op);

// ---- Bodies -----------------------------------------------------------------

using Attrs = std::map<std::string, std::string>;

struct StatBody {
  uint64_t size = 0;
  uint64_t stored_bytes = 0;
  uint64_t version = 0;
  int64_t ctime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t atime_ns = 0;
  bool pinned = false;
  Attrs attrs;  // mode, uid, gid, user xattrs... (set by SET_ATTRS)
};
std::string EncodeStat(const StatBody& s);
Result<StatBody> DecodeStat(std::string_view data);

struct NodeStats {
  std::string node_id;
  std::string endpoint;
  uint32_t cores = 0;
  uint64_t mem_used = 0;   // stored bytes + overhead
  uint64_t mem_limit = 0;  // max-memory
  uint64_t ids = 0;
  uint64_t pinned_bytes = 0;
  uint64_t evictions = 0;
  uint64_t malformed = 0;  // malformed messages dropped or answered
  double load = 0;         // requests in flight / queued
  std::string version;     // software version
  // Hand-over: ids and bytes this worker copied to others since it started
  // (to joiners, and when it leaves), and copy jobs queued or running.
  uint64_t handover_ids = 0;
  uint64_t handover_bytes = 0;
  uint32_t handover_jobs = 0;
  // Leaving (DRAIN or SIGTERM): "" (not leaving), "copying", "final" (no
  // longer serving, copying what changed), "left" (every id is with its new
  // holders); ids it held when it began and ids not copied (no holder
  // answered, pinned, too large).
  std::string leave_state;
  uint64_t leave_ids = 0;
  uint64_t leave_failed = 0;
  // Named counters (worker/metrics.h NamedCounters: "requests.get", "hits",
  // "bytes_in"...). Encoded last, after the fields above; a reply that
  // sends none decodes with this empty.
  std::map<std::string, uint64_t> counters;
};
std::string EncodeNodeStats(const NodeStats& s);
Result<NodeStats> DecodeNodeStats(std::string_view data);

// A list of strings: u32 count, then (u32 length, bytes) each.
std::string EncodeStrings(const std::vector<std::string>& v);
Result<std::vector<std::string>> DecodeStrings(std::string_view data);

// DRAIN uses the same body: `target` is the worker that leaves, `members`
// the live workers (the leaving one among them).
// HANDOVER: `target` (re)joined; every worker copies to it the ids whose
// replica set, over `members` (the live workers) with `replicas` copies,
// holds both the target and itself.
struct HandoverBody {
  uint32_t replicas = 1;
  std::string target;  // endpoint
  struct Member {
    std::string node_id;
    std::string endpoint;
  };
  std::vector<Member> members;
};
std::string EncodeHandover(const HandoverBody& b);
Result<HandoverBody> DecodeHandover(std::string_view data);

std::string EncodeAttrs(const Attrs& a);
Result<Attrs> DecodeAttrs(std::string_view data);

}  // namespace shovel::wire
