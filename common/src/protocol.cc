#include "shovel/protocol.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "shovel/ids.h"

namespace shovel::wire {
namespace {

void Put16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint16_t Get16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) |
                               (static_cast<uint8_t>(p[1]) << 8));
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Appends little-endian fields to a string; the body encoders share it.
class Out {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) s_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    char b[8];
    Put64(b, v);
    s_.append(b, 8);
  }
  void Str(std::string_view v) {
    U32(static_cast<uint32_t>(v.size()));
    s_.append(v);
  }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

// Reads little-endian fields; every read is bounds-checked and the first
// failure sticks, so decoders check ok() once at the end.
class In {
 public:
  In(std::string_view d, const char* what) : d_(d), what_(what) {}
  uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(d_[pos_++]);
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(d_[pos_ + i]);
    pos_ += 4;
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = Get64(d_.data() + pos_);
    pos_ += 8;
    return v;
  }
  std::string Str() { return std::string(View()); }
  // A `str` as a view into the data.
  std::string_view View() {
    uint32_t n = U32();
    if (!Need(n)) return {};
    std::string_view v = d_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  // A count of items each at least `min_item` bytes; checked against what is
  // left so a forged count cannot make the decoder allocate.
  uint32_t Count(size_t min_item) {
    uint32_t n = U32();
    if (ok_ && static_cast<uint64_t>(n) * min_item > d_.size() - pos_) {
      ok_ = false;
      error_ = "count " + std::to_string(n) + " exceeds the data";
    }
    return ok_ ? n : 0;
  }
  // Nothing is left to read (or a read failed).
  bool AtEnd() const { return !ok_ || pos_ == d_.size(); }
  Status Finish() {
    if (ok_ && pos_ != d_.size()) {
      ok_ = false;
      error_ = std::to_string(d_.size() - pos_) + " trailing bytes";
    }
    if (ok_) return Status::Ok();
    return Status::Protocol(std::string(what_) + " body is malformed: " + error_);
  }

 private:
  bool Need(size_t n) {
    if (!ok_) return false;
    if (d_.size() - pos_ < n) {
      ok_ = false;
      error_ = "truncated at byte " + std::to_string(pos_);
      return false;
    }
    return true;
  }
  std::string_view d_;
  const char* what_;
  size_t pos_ = 0;
  bool ok_ = true;
  std::string error_;
};

bool OpTakesId(Op op) {
  switch (op) {
    case Op::kSet:
    case Op::kAppend:
    case Op::kGet:
    case Op::kUploadBegin:
    case Op::kDelete:
    case Op::kStat:
    case Op::kSetAttrs:
    case Op::kCreate:
    case Op::kRename:
    case Op::kPutPointer:
    case Op::kTransfer:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kPing:
      return "PING";
    case Op::kSet:
      return "SET";
    case Op::kAppend:
      return "APPEND";
    case Op::kGet:
      return "GET";
    case Op::kUploadBegin:
      return "UPLOAD_BEGIN";
    case Op::kUploadData:
      return "UPLOAD_DATA";
    case Op::kUploadCommit:
      return "UPLOAD_COMMIT";
    case Op::kUploadAbort:
      return "UPLOAD_ABORT";
    case Op::kDelete:
      return "DELETE";
    case Op::kStat:
      return "STAT";
    case Op::kSetAttrs:
      return "SET_ATTRS";
    case Op::kCreate:
      return "CREATE";
    case Op::kList:
      return "LIST";
    case Op::kNodeStats:
      return "NODE_STATS";
    case Op::kRename:
      return "RENAME";
    case Op::kPutPointer:
      return "PUT_POINTER";
    case Op::kTransfer:
      return "TRANSFER";
    case Op::kBatch:
      return "BATCH";
    case Op::kEpoch:
      return "EPOCH";
    case Op::kHandover:
      return "HANDOVER";
    case Op::kLease:
      return "LEASE";
    case Op::kDrain:
      return "DRAIN";
    case Op::kChanged:
      return "CHANGED";
    case Op::kRenewWatches:
      return "RENEW_WATCHES";
  }
  return "UNKNOWN";
}

void EncodeHeader(const Header& h, char out[kHeaderSize]) {
  Put16(out + 0, h.magic);
  out[2] = static_cast<char>(h.version);
  out[3] = static_cast<char>(h.op);
  Put16(out + 4, h.flags);
  Put16(out + 6, static_cast<uint16_t>(h.status));
  Put64(out + 8, h.request_id);
  Put64(out + 16, h.offset);
  Put64(out + 24, h.length);
  Put64(out + 32, h.version_no);
  Put64(out + 40, h.aux);
}

std::string EncodeHeader(const Header& h) {
  std::string s(kHeaderSize, '\0');
  EncodeHeader(h, s.data());
  return s;
}

Result<Header> DecodeHeader(std::string_view f) {
  if (f.size() != kHeaderSize) {
    return Status::Protocol("header frame is " + std::to_string(f.size()) +
                            " bytes, expected " + std::to_string(kHeaderSize));
  }
  Header h;
  h.magic = Get16(f.data());
  if (h.magic != kMagic) return Status::Protocol("header magic is wrong (not shoveling)");
  h.version = static_cast<uint8_t>(f[2]);
  if (h.version != kProtocolVersion) {
    return Status::Protocol("protocol version " + std::to_string(h.version) +
                            " is not supported (this side speaks " +
                            std::to_string(kProtocolVersion) + ")");
  }
  uint8_t op = static_cast<uint8_t>(f[3]);
  if (op > kMaxOp) return Status::Protocol("unknown opcode " + std::to_string(op));
  h.op = static_cast<Op>(op);
  h.flags = Get16(f.data() + 4);
  if (h.flags & ~kKnownFlags) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04x", h.flags);
    return Status::Protocol(std::string("unknown header flags 0x") + hex);
  }
  uint16_t st = Get16(f.data() + 6);
  if (st > static_cast<uint16_t>(Code::kPermissionDenied)) {
    return Status::Protocol("unknown status " + std::to_string(st));
  }
  h.status = static_cast<Code>(st);
  h.request_id = Get64(f.data() + 8);
  h.offset = Get64(f.data() + 16);
  h.length = Get64(f.data() + 24);
  h.version_no = Get64(f.data() + 32);
  h.aux = Get64(f.data() + 40);
  return h;
}

Result<Request> DecodeRequest(const std::vector<std::string_view>& frames) {
  if (frames.size() < 2) {
    return Status::Protocol("request has " + std::to_string(frames.size()) +
                            " frames; it needs a header and an id frame");
  }
  if (frames.size() > kMaxFrames) {
    return Status::Protocol("request has " + std::to_string(frames.size()) +
                            " frames; the limit is " + std::to_string(kMaxFrames));
  }
  SHOVEL_ASSIGN_OR_RETURN(Header h, DecodeHeader(frames[0]));
  if (h.flags & kFlagReply) return Status::Protocol("a reply was sent as a request");
  Request r;
  r.header = h;
  r.id = frames[1];
  uint64_t total = frames[0].size() + frames[1].size();
  for (size_t i = 2; i < frames.size(); ++i) {
    r.payload.push_back(frames[i]);
    r.payload_bytes += frames[i].size();
  }
  total += r.payload_bytes;
  if (h.flags & (kFlagReplicas | kFlagReplica)) {
    if (!((h.flags & kFlagReplicas) ? PrimaryOp(h.op) : ReplicaOp(h.op))) {
      return Status::Protocol(std::string(OpName(h.op)) +
                              " is not replicated (no replica flags)");
    }
    if ((h.flags & kFlagReplicas) && (h.flags & kFlagReplica)) {
      return Status::Protocol("a request is either to a primary or to a replica");
    }
  }
  if ((h.flags & kFlagWatch) && ((h.op != Op::kStat && h.op != Op::kSet) ||
                                 (h.flags & (kFlagReplicas | kFlagReplica)))) {
    return Status::Protocol("kFlagWatch is for a STAT or SET to one worker");
  }
  if (h.op == Op::kChanged) {
    return Status::Protocol("CHANGED is sent by workers to their clients");
  }
  if (h.flags & kFlagToken) {
    if (h.op != Op::kAppend || !(h.flags & (kFlagReplicas | kFlagReplica))) {
      return Status::Protocol("kFlagToken is for APPEND to a primary or a replica");
    }
    if (r.payload.empty() || r.payload.back().size() != 8) {
      return Status::Protocol("kFlagToken needs an 8-byte token as the last frame");
    }
    r.token = Get64(r.payload.back().data());
    if (r.token == 0) return Status::Protocol("an append token may not be 0");
    r.payload_bytes -= 8;
    r.payload.pop_back();
  }
  if (h.flags & kFlagSender) {
    if (!(h.flags & kFlagReplica) || !ReplicatedOp(h.op)) {
      return Status::Protocol("kFlagSender is for a write forwarded to a replica");
    }
    if (r.payload.empty()) return Status::Protocol("kFlagSender needs the sender frame");
    SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> list,
                            DecodeStrings(r.payload.back()));
    if (list.empty() || list[0].empty() || list.size() > 1 + kMaxReplicas) {
      return Status::Protocol("the sender frame has " + std::to_string(list.size()) +
                              " entries; it needs a node id and at most " +
                              std::to_string(kMaxReplicas) + " passed-over workers");
    }
    r.sender = std::move(list[0]);
    r.passed_over.assign(std::make_move_iterator(list.begin() + 1),
                         std::make_move_iterator(list.end()));
    r.payload_bytes -= r.payload.back().size();
    r.payload.pop_back();
  }
  if (h.flags & kFlagReplicas) {
    if (r.payload.empty())
      return Status::Protocol("kFlagReplicas needs the replica list");
    SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> list,
                            DecodeStrings(r.payload.back()));
    for (auto& e : list) {
      if (e.empty() || e.find("://") == std::string::npos) {
        return Status::Protocol("replica endpoint '" + e.substr(0, 64) +
                                "' is not a ZeroMQ endpoint");
      }
      if (e[0] == '!') {
        r.passed_over.push_back(e.substr(1));
      } else {
        r.replicas.push_back(std::move(e));
      }
    }
    if ((r.replicas.empty() && r.passed_over.empty()) ||
        r.replicas.size() > kMaxReplicas || r.passed_over.size() > kMaxReplicas) {
      return Status::Protocol("replica list has " + std::to_string(r.replicas.size()) +
                              " endpoints and " + std::to_string(r.passed_over.size()) +
                              " passed over; 1.." + std::to_string(kMaxReplicas) +
                              " of each are allowed");
    }
    r.payload_bytes -= r.payload.back().size();
    r.payload.pop_back();
  }
  if (total > kMaxMessageBytes) {
    return Status::Protocol("request is " + std::to_string(total) +
                            " bytes; one message may carry at most 64 MiB, "
                            "stream larger values with UPLOAD_*");
  }
  if (h.op == Op::kList) {
    SHOVEL_RETURN_IF_ERROR(ValidatePrefix(r.id));
    if (r.payload.size() > 1)
      return Status::Protocol("LIST takes at most one payload frame");
    if (h.aux > kMaxListEntries) {
      return Status::Protocol("LIST limit " + std::to_string(h.aux) + " is over " +
                              std::to_string(kMaxListEntries));
    }
  } else if (OpTakesId(h.op)) {
    SHOVEL_RETURN_IF_ERROR(ValidateId(r.id));
  } else if (!r.id.empty()) {
    return Status::Protocol(std::string(OpName(h.op)) + " takes an empty id frame");
  }
  switch (h.op) {
    case Op::kRename:
      if (r.payload.size() != 1) return Status::Protocol("RENAME needs the target id");
      SHOVEL_RETURN_IF_ERROR(ValidateId(r.payload[0]).WithContext("rename target"));
      break;
    case Op::kPutPointer:
      if (r.payload.size() != 2 || r.payload[0].empty()) {
        return Status::Protocol("PUT_POINTER needs an endpoint and a node id");
      }
      break;
    case Op::kSetAttrs:
      if (r.payload.empty() || r.payload.size() > 2) {
        return Status::Protocol("SET_ATTRS needs 1 or 2 payload frames");
      }
      break;
    case Op::kHandover:
      if (r.payload.size() != 1) return Status::Protocol("HANDOVER needs one body frame");
      break;
    case Op::kLease:
      if (r.payload.empty() || r.payload.size() > 2) {
        return Status::Protocol("LEASE needs a body frame and at most one list frame");
      }
      break;
    case Op::kDrain:
      if (r.payload.size() != 1) return Status::Protocol("DRAIN needs one body frame");
      break;
    case Op::kBatch:
      if (r.payload.size() != 1) return Status::Protocol("BATCH needs one body frame");
      if (h.flags & ~kFlagReplicas) {
        return Status::Protocol("BATCH takes no flags but kFlagReplicas");
      }
      if (h.aux == 0 || h.aux > kMaxBatchItems) {
        return Status::Protocol("BATCH count " + std::to_string(h.aux) +
                                " is not in 1.." + std::to_string(kMaxBatchItems));
      }
      break;
    case Op::kUploadBegin:
      if (r.payload.size() > 1) {
        return Status::Protocol("UPLOAD_BEGIN takes at most one frame: its replicas");
      }
      break;
    case Op::kPing:
    case Op::kGet:
    case Op::kUploadCommit:
    case Op::kUploadAbort:
    case Op::kDelete:
    case Op::kStat:
    case Op::kCreate:
    case Op::kNodeStats:
    case Op::kEpoch:
    case Op::kRenewWatches:
      if (r.payload_bytes != 0) {
        return Status::Protocol(std::string(OpName(h.op)) + " takes no payload");
      }
      break;
    default:
      break;
  }
  if (h.op == Op::kGet && h.length != kToEnd && h.offset + h.length < h.offset) {
    return Status::Protocol("GET offset + length overflows");
  }
  return r;
}

Result<Reply> DecodeReply(const std::vector<std::string_view>& frames) {
  Reply r;
  SHOVEL_RETURN_IF_ERROR(DecodeReply(frames, &r));
  return r;
}

Status DecodeReply(const std::vector<std::string_view>& frames, Reply* out) {
  if (frames.empty()) return Status::Protocol("empty reply");
  if (frames.size() > kMaxFrames) return Status::Protocol("reply has too many frames");
  SHOVEL_ASSIGN_OR_RETURN(Header h, DecodeHeader(frames[0]));
  if (!(h.flags & kFlagReply)) return Status::Protocol("a request was sent as a reply");
  out->header = h;
  out->payload.assign(frames.begin() + 1, frames.end());
  return Status::Ok();
}

Status ReplyStatus(const Reply& r) {
  if (r.header.status == Code::kOk) return Status::Ok();
  std::string msg = r.payload.empty() ? std::string() : std::string(r.payload[0]);
  return Status(r.header.status, std::move(msg));
}

Header ReplyHeader(const Header& req, Code status) {
  Header h;
  h.op = req.op;
  h.flags = kFlagReply;
  h.status = status;
  h.request_id = req.request_id;
  return h;
}

namespace {

char* PutFrame(char* out, std::string_view f) {
  auto n = static_cast<uint32_t>(f.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(n >> (8 * i));
  if (!f.empty()) std::memcpy(out + 4, f.data(), f.size());
  return out + 4 + f.size();
}

size_t ItemSize(const std::string_view* id, std::span<const std::string_view> payload) {
  size_t frames = 1 + (id ? 1 : 0) + payload.size();
  size_t n = 4 + 4 * frames + kHeaderSize + (id ? id->size() : 0);
  for (auto p : payload) n += p.size();
  return n;
}

char* EncodeItem(char* out, const Header& h, const std::string_view* id,
                 std::span<const std::string_view> payload) {
  auto frames = static_cast<uint32_t>(1 + (id ? 1 : 0) + payload.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(frames >> (8 * i));
  out += 4;
  char hb[kHeaderSize];
  EncodeHeader(h, hb);
  out = PutFrame(out, {hb, kHeaderSize});
  if (id) out = PutFrame(out, *id);
  for (auto p : payload) out = PutFrame(out, p);
  return out;
}

}  // namespace

size_t BatchRequestSize(std::string_view id, std::span<const std::string_view> payload) {
  return ItemSize(&id, payload);
}

char* EncodeBatchRequest(char* out, const Header& h, std::string_view id,
                         std::span<const std::string_view> payload) {
  return EncodeItem(out, h, &id, payload);
}

void BatchWriter::Add(const Header& h, const std::string_view* id,
                      const std::vector<std::string_view>& payload) {
  size_t at = body_.size();
  size_t need = ItemSize(id, payload);
  // Geometric growth: resize alone would reallocate to the exact size.
  if (body_.capacity() < at + need)
    body_.reserve(std::max(2 * body_.capacity(), at + need));
  body_.resize(at + need);
  EncodeItem(body_.data() + at, h, id, payload);
  ++count_;
}

void BatchWriter::AddRequest(const Header& h, std::string_view id,
                             const std::vector<std::string_view>& payload) {
  Add(h, &id, payload);
}

void BatchWriter::AddReply(const Header& h,
                           const std::vector<std::string_view>& payload) {
  Add(h, nullptr, payload);
}

Result<std::vector<Frames>> DecodeBatchBody(std::string_view body, uint64_t count) {
  // CheckCount first: every item takes at least 4 bytes, so a forged count
  // cannot allocate past the body's size.
  BatchReader reader(body, count);
  SHOVEL_RETURN_IF_ERROR(reader.CheckCount());
  std::vector<Frames> items(count);
  for (auto& item : items) SHOVEL_RETURN_IF_ERROR(reader.Next(&item));
  SHOVEL_RETURN_IF_ERROR(reader.Finish());
  return items;
}

Status CheckBatchBody(std::string_view body, uint64_t count) {
  BatchReader reader(body, count);
  SHOVEL_RETURN_IF_ERROR(reader.CheckCount());
  Frames item;
  for (uint64_t i = 0; i < count; ++i) SHOVEL_RETURN_IF_ERROR(reader.Next(&item));
  return reader.Finish();
}

Status BatchReader::CheckCount() const {
  if (left_ > kMaxBatchItems) {
    return Status::Protocol("BATCH count " + std::to_string(left_) + " is over " +
                            std::to_string(kMaxBatchItems));
  }
  if (left_ * 4 > body_.size() - pos_) return Status::Protocol("BATCH body is truncated");
  return Status::Ok();
}

bool BatchReader::U32(uint32_t* v) {
  if (body_.size() - pos_ < 4) return false;
  *v = 0;
  for (int i = 3; i >= 0; --i) *v = (*v << 8) | static_cast<uint8_t>(body_[pos_ + i]);
  pos_ += 4;
  return true;
}

Status BatchReader::Next(Frames* item) {
  item->clear();
  if (left_ == 0) return Status::Protocol("BATCH body read past its item count");
  --left_;
  uint32_t n;
  if (!U32(&n) || static_cast<uint64_t>(n) * 4 > body_.size() - pos_) {
    return Status::Protocol("BATCH body is malformed: truncated at byte " +
                            std::to_string(pos_));
  }
  if (n > kMaxFrames) {
    return Status::Protocol("BATCH item has " + std::to_string(n) + " frames");
  }
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t len;
    if (!U32(&len) || len > body_.size() - pos_) {
      return Status::Protocol("BATCH body is malformed: truncated at byte " +
                              std::to_string(pos_));
    }
    item->push_back(body_.substr(pos_, len));
    pos_ += len;
  }
  return Status::Ok();
}

Status BatchReader::Finish() const {
  if (pos_ == body_.size()) return Status::Ok();
  return Status::Protocol("BATCH body is malformed: " +
                          std::to_string(body_.size() - pos_) + " trailing bytes");
}

std::string EncodeToken(uint64_t token) {
  std::string out(8, '\0');
  Put64(out.data(), token);
  return out;
}

bool ReplicatedOp(Op op) {
  switch (op) {
    case Op::kSet:
    case Op::kAppend:
    case Op::kDelete:
    case Op::kCreate:
    case Op::kSetAttrs:
      return true;
    default:
      return false;
  }
}

bool PrimaryOp(Op op) {
  return ReplicatedOp(op) || op == Op::kGet || op == Op::kStat || op == Op::kBatch;
}

bool ReplicaOp(Op op) {
  return ReplicatedOp(op) || op == Op::kUploadBegin || op == Op::kUploadData ||
         op == Op::kUploadCommit || op == Op::kUploadAbort;
}

std::string EncodeLease(const LeaseBody& b) {
  return EncodeStrings({b.endpoint, b.node_id});
}

Result<LeaseBody> DecodeLease(std::string_view frame) {
  SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> v, DecodeStrings(frame));
  if (v.size() != 2 || v[0].find("://") == std::string::npos) {
    return Status::Protocol("LEASE body needs the sender's endpoint and node id");
  }
  return LeaseBody{std::move(v[0]), std::move(v[1])};
}

bool BatchableOp(Op op) {
  switch (op) {
    case Op::kPing:
    case Op::kSet:
    case Op::kAppend:
    case Op::kGet:
    case Op::kDelete:
    case Op::kStat:
    case Op::kSetAttrs:
    case Op::kCreate:
    case Op::kPutPointer:
      return true;
    default:
      return false;
  }
}

Result<Request> DecodeBatchItem(const Frames& frames) {
  SHOVEL_ASSIGN_OR_RETURN(Request r, DecodeRequest(frames));
  if (!BatchableOp(r.header.op)) {
    return Status::Protocol(std::string(OpName(r.header.op)) +
                            " cannot be sent inside a BATCH");
  }
  if (r.header.flags & kFlagReplicas) {
    // A primary waits for its replicas; a BATCH is served without waiting.
    return Status::Protocol(
        "a write to a primary (kFlagReplicas) is sent on its own, "
        "not inside a BATCH");
  }
  if ((r.header.op == Op::kSet || r.header.op == Op::kAppend) &&
      r.payload_bytes > kMaxBatchItemBytes) {
    return Status::Protocol(std::string(OpName(r.header.op)) + " of " +
                            std::to_string(r.payload_bytes) +
                            " bytes is over the 64 KiB a BATCH item may carry; "
                            "send it on its own");
  }
  return r;
}

std::string EncodeStat(const StatBody& s) {
  Out o;
  o.U64(s.size);
  o.U64(s.stored_bytes);
  o.U64(s.version);
  o.U64(static_cast<uint64_t>(s.ctime_ns));
  o.U64(static_cast<uint64_t>(s.mtime_ns));
  o.U64(static_cast<uint64_t>(s.atime_ns));
  o.U8(s.pinned ? 1 : 0);
  o.U32(static_cast<uint32_t>(s.attrs.size()));
  for (const auto& [k, v] : s.attrs) {
    o.Str(k);
    o.Str(v);
  }
  return o.Take();
}

Result<StatBody> DecodeStat(std::string_view data) {
  In in(data, "STAT");
  StatBody s;
  s.size = in.U64();
  s.stored_bytes = in.U64();
  s.version = in.U64();
  s.ctime_ns = static_cast<int64_t>(in.U64());
  s.mtime_ns = static_cast<int64_t>(in.U64());
  s.atime_ns = static_cast<int64_t>(in.U64());
  s.pinned = in.U8() != 0;
  uint32_t n = in.Count(8);
  for (uint32_t i = 0; i < n; ++i) {
    std::string k = in.Str();
    s.attrs[k] = in.Str();
  }
  SHOVEL_RETURN_IF_ERROR(in.Finish());
  return s;
}

std::string EncodeNodeStats(const NodeStats& s) {
  Out o;
  o.Str(s.node_id);
  o.Str(s.endpoint);
  o.U32(s.cores);
  o.U64(s.mem_used);
  o.U64(s.mem_limit);
  o.U64(s.ids);
  o.U64(s.pinned_bytes);
  o.U64(s.evictions);
  o.U64(s.malformed);
  uint64_t bits;
  std::memcpy(&bits, &s.load, 8);
  o.U64(bits);
  o.Str(s.version);
  o.U64(s.handover_ids);
  o.U64(s.handover_bytes);
  o.U32(s.handover_jobs);
  o.Str(s.leave_state);
  o.U64(s.leave_ids);
  o.U64(s.leave_failed);
  o.U32(static_cast<uint32_t>(s.counters.size()));
  for (const auto& [name, value] : s.counters) {
    o.Str(name);
    o.U64(value);
  }
  return o.Take();
}

Result<NodeStats> DecodeNodeStats(std::string_view data) {
  In in(data, "NODE_STATS");
  NodeStats s;
  s.node_id = in.Str();
  s.endpoint = in.Str();
  s.cores = in.U32();
  s.mem_used = in.U64();
  s.mem_limit = in.U64();
  s.ids = in.U64();
  s.pinned_bytes = in.U64();
  s.evictions = in.U64();
  s.malformed = in.U64();
  uint64_t bits = in.U64();
  std::memcpy(&s.load, &bits, 8);
  s.version = in.Str();
  s.handover_ids = in.U64();
  s.handover_bytes = in.U64();
  s.handover_jobs = in.U32();
  s.leave_state = in.Str();
  s.leave_ids = in.U64();
  s.leave_failed = in.U64();
  if (!in.AtEnd()) {
    uint32_t n = in.Count(12);
    for (uint32_t i = 0; i < n; ++i) {
      std::string name = in.Str();
      s.counters[std::move(name)] = in.U64();
    }
  }
  SHOVEL_RETURN_IF_ERROR(in.Finish());
  return s;
}

std::string EncodeStrings(const std::vector<std::string>& v) {
  Out o;
  o.U32(static_cast<uint32_t>(v.size()));
  for (const auto& s : v) o.Str(s);
  return o.Take();
}

Result<std::vector<std::string>> DecodeStrings(std::string_view data) {
  In in(data, "string list");
  uint32_t n = in.Count(4);
  std::vector<std::string> v;
  v.reserve(n);
  for (uint32_t i = 0; i < n; ++i) v.push_back(in.Str());
  SHOVEL_RETURN_IF_ERROR(in.Finish());
  return v;
}

std::string EncodeAttrs(const Attrs& a) {
  Out o;
  o.U32(static_cast<uint32_t>(a.size()));
  for (const auto& [k, v] : a) {
    o.Str(k);
    o.Str(v);
  }
  return o.Take();
}

Result<Attrs> DecodeAttrs(std::string_view data) {
  In in(data, "attribute map");
  uint32_t n = in.Count(8);
  Attrs a;
  for (uint32_t i = 0; i < n; ++i) {
    std::string k = in.Str();
    a[k] = in.Str();
  }
  SHOVEL_RETURN_IF_ERROR(in.Finish());
  return a;
}

std::string EncodeHandover(const HandoverBody& b) {
  std::vector<std::string> v = {std::to_string(b.replicas), b.target};
  for (const auto& m : b.members) {
    v.push_back(m.node_id);
    v.push_back(m.endpoint);
  }
  return EncodeStrings(v);
}

Result<HandoverBody> DecodeHandover(std::string_view data) {
  SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> v, DecodeStrings(data));
  if (v.size() < 2 || v.size() % 2 != 0) {
    return Status::Protocol(
        "HANDOVER body needs replicas, a target and node/endpoint pairs");
  }
  HandoverBody b;
  char* end = nullptr;
  unsigned long r = std::strtoul(v[0].c_str(), &end, 10);
  if (v[0].empty() || *end != '\0' || r == 0 || r > kMaxReplicas + 1) {
    return Status::Protocol("HANDOVER replicas '" + v[0].substr(0, 16) + "' is not 1.." +
                            std::to_string(kMaxReplicas + 1));
  }
  b.replicas = static_cast<uint32_t>(r);
  b.target = std::move(v[1]);
  if (b.target.find("://") == std::string::npos) {
    return Status::Protocol("HANDOVER target is not a ZeroMQ endpoint");
  }
  for (size_t i = 2; i + 1 < v.size(); i += 2) {
    b.members.push_back({std::move(v[i]), std::move(v[i + 1])});
  }
  return b;
}

}  // namespace shovel::wire
