// Streaming parts of ClientImpl: ranged GET loops (one version, pipelined)
// and the upload Writer (UPLOAD_BEGIN / DATA / COMMIT with a window).
#include <deque>

#include "client_impl.h"

namespace shovel::client {
namespace {

using wire::Op;

constexpr size_t kWindow = 4;  // streamed messages in flight per transfer

// One ranged GET in flight: [offset, offset+length).
struct Piece {
  uint64_t offset;
  uint64_t length;
  std::shared_ptr<PendingCall> call;
};

}  // namespace

Status ClientImpl::StreamGet(std::string_view id, uint64_t offset, uint64_t length,
                             const std::function<Status(std::string_view)>& sink,
                             bool* sunk_any, GetInfo* info, ResponsePtr* whole) {
  OutRequest first = MakeRequest(Op::kGet, id);
  first.header.offset = offset;
  // kWholeBlob == wire::kToEnd. A range that runs past 2^64 ends where any
  // value does: ask for the rest (the worker refuses an overflowing one).
  first.header.length = offset + length < offset ? kWholeBlob : length;
  SHOVEL_ASSIGN_OR_RETURN(ResponsePtr r, CallId(first));
  const std::string endpoint = r->endpoint;
  const uint64_t version = r->reply.header.version_no;
  const uint64_t total = r->reply.header.length;
  if (info != nullptr) *info = GetInfo{version, total};
  uint64_t end = length == kWholeBlob || offset + length < offset
                     ? total
                     : std::min(total, offset + length);
  uint64_t pos = offset + r->PayloadSize();
  const bool complete = !(r->reply.header.flags & wire::kFlagMore) || pos >= end;
  if (whole != nullptr && complete && r->reply.payload.size() <= 1) {
    *whole = std::move(r);
    return Status::Ok();
  }
  for (auto p : r->reply.payload) {
    if (p.empty()) continue;
    *sunk_any = true;
    SHOVEL_RETURN_IF_ERROR(sink(p));
  }
  if (complete) return Status::Ok();
  r.reset();

  const uint64_t piece_size = std::max<uint64_t>(options_.stream_chunk, 64 << 10);
  std::deque<Piece> window;
  uint64_t next = pos;  // first byte not yet requested
  auto issue = [&](uint64_t at, uint64_t len) {
    OutRequest req =
        MakeRequest(Op::kGet, id, wire::kFlagIfVersion | wire::kFlagNoRedirect);
    req.header.offset = at;
    req.header.length = len;
    req.header.version_no = version;
    return Piece{at, len, transport_->Start(endpoint, req)};
  };
  while (pos < end) {
    while (window.size() < kWindow && next < end) {
      uint64_t len = std::min(piece_size, end - next);
      window.push_back(issue(next, len));
      next += len;
    }
    Piece piece = std::move(window.front());
    window.pop_front();
    SHOVEL_ASSIGN_OR_RETURN(ResponsePtr pr, piece.call->Wait());
    SHOVEL_RETURN_IF_ERROR(ReplyError(*pr));
    if (pr->reply.header.version_no != version) {
      return Status::Conflict("id '" + std::string(id) + "' changed while being read");
    }
    uint64_t got = pr->PayloadSize();
    if (got == 0) break;  // the value shrank? (cannot with IfVersion) stop
    for (auto p : pr->reply.payload) {
      if (p.empty()) continue;
      *sunk_any = true;
      SHOVEL_RETURN_IF_ERROR(sink(p));
    }
    pos += got;
    if (got < piece.length) {
      // The worker stopped early: fetch the rest of this piece before the
      // pieces already in flight (kept in order).
      window.push_front(issue(piece.offset + got, piece.length - got));
    }
  }
  return Status::Ok();
}

namespace {

class UploadWriter : public Writer {
 public:
  UploadWriter(ClientImpl* client, std::string id, WriteMode mode, uint64_t size)
      : client_(client), id_(std::move(id)), mode_(mode), size_(size) {}
  ~UploadWriter() override {
    if (!done_) Abort();
  }

  Status Write(std::string_view data) override {
    if (done_) return Status::InvalidArgument("write after commit or abort");
    SHOVEL_RETURN_IF_ERROR(failed_);
    const uint64_t chunk = client_->options().stream_chunk;
    if (!buffer_.empty()) {
      size_t take = std::min<size_t>(data.size(), chunk - buffer_.size());
      buffer_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (buffer_.size() < chunk) return Status::Ok();
      SHOVEL_RETURN_IF_ERROR(SendChunk(buffer_));
      buffer_.clear();
    }
    while (data.size() >= chunk) {
      SHOVEL_RETURN_IF_ERROR(SendChunk(data.substr(0, chunk)));
      data.remove_prefix(chunk);
    }
    buffer_.append(data);
    return Status::Ok();
  }

  Result<uint64_t> Commit() override {
    if (done_) return Status::InvalidArgument("commit after commit or abort");
    SHOVEL_RETURN_IF_ERROR(failed_);
    if (!begun_) {  // small: one message
      done_ = true;
      // A whole value this client wrote: it may keep its STAT under a
      // watch, so its next open needs no round trip (Client::WatchedStat).
      auto view = client_->View();
      const uint16_t watch = mode_ == WriteMode::kSet ? client_->WatchFlag(*view) : 0;
      OutRequest req = client_->MakeRequest(
          mode_ == WriteMode::kSet ? wire::Op::kSet : wire::Op::kAppend, id_, watch);
      req.payload.push_back(buffer_);
      Result<ResponsePtr> r = client_->CallId(req);
      if (watch != 0 && client_->RefusedWatch(r)) {
        req.header.flags &= static_cast<uint16_t>(~wire::kFlagWatch);
        r = client_->CallId(req);
      }
      SHOVEL_RETURN_IF_ERROR(r.status());
      client_->KeepWatched(id_, **r, view->generation);
      return (*r)->reply.header.version_no;
    }
    if (!buffer_.empty()) SHOVEL_RETURN_IF_ERROR(SendChunk(buffer_));
    buffer_.clear();
    while (!window_.empty()) SHOVEL_RETURN_IF_ERROR(WaitOldest());
    OutRequest req = client_->MakeRequest(wire::Op::kUploadCommit, "");
    req.header.aux = handle_;
    done_ = true;
    SHOVEL_ASSIGN_OR_RETURN(ResponsePtr r, client_->transport().Call(endpoint_, req));
    SHOVEL_RETURN_IF_ERROR(ReplyError(*r).WithContext("commit of '" + id_ + "'"));
    return r->reply.header.version_no;
  }

  void Abort() override {
    if (done_) return;
    done_ = true;
    window_.clear();
    if (!begun_) return;
    OutRequest req = client_->MakeRequest(wire::Op::kUploadAbort, "");
    req.header.aux = handle_;
    // Best effort and asynchronous: the worker also drops idle uploads.
    client_->transport().Send(endpoint_, req, [](Result<ResponsePtr>) {});
  }

 private:
  Status Begin() {
    uint16_t flags = mode_ == WriteMode::kAppend ? wire::kFlagAppendMode : 0;
    OutRequest req = client_->MakeRequest(wire::Op::kUploadBegin, id_, flags);
    req.header.length = size_;  // 0: unknown
    // The id's other copies: the primary sends them the value at commit.
    std::string replicas;
    auto view = client_->View();
    if (view->replicas > 1) {
      std::vector<size_t> set = client_->ReplicaSet(id_, *view);
      std::vector<std::string> endpoints;
      for (size_t k : set) endpoints.push_back(view->members[k].endpoint);
      replicas = wire::EncodeStrings(endpoints);  // the primary leaves itself out
      req.payload.push_back(replicas);
    }
    SHOVEL_ASSIGN_OR_RETURN(ResponsePtr r, client_->CallId(req));
    endpoint_ = r->endpoint;
    handle_ = r->reply.header.aux;
    begun_ = true;
    return Status::Ok();
  }

  Status SendChunk(std::string_view bytes) {
    if (!begun_) SHOVEL_RETURN_IF_ERROR(Remember(Begin()));
    while (window_.size() >= kWindow) SHOVEL_RETURN_IF_ERROR(WaitOldest());
    OutRequest req = client_->MakeRequest(wire::Op::kUploadData, "");
    req.header.aux = handle_;
    req.header.offset = sent_;
    req.payload.push_back(bytes);
    window_.push_back(client_->transport().Start(endpoint_, req));
    sent_ += bytes.size();
    return Status::Ok();
  }

  Status WaitOldest() {
    auto call = std::move(window_.front());
    window_.pop_front();
    auto r = call->Wait();
    if (!r.ok()) return Remember(r.status());
    return Remember(ReplyError(**r).WithContext("upload of '" + id_ + "'"));
  }

  Status Remember(Status s) {
    if (!s.ok() && failed_.ok()) failed_ = s;
    return s;
  }

  ClientImpl* const client_;
  const std::string id_;
  const WriteMode mode_;
  const uint64_t size_;  // total to be written, 0 if unknown
  std::string buffer_;
  std::deque<std::shared_ptr<PendingCall>> window_;
  std::string endpoint_;
  uint64_t handle_ = 0;
  uint64_t sent_ = 0;
  bool begun_ = false;
  bool done_ = false;
  Status failed_;
};

}  // namespace

std::unique_ptr<Writer> NewUploadWriter(ClientImpl* client, std::string id,
                                        WriteMode mode, uint64_t size) {
  return std::make_unique<UploadWriter>(client, std::move(id), mode, size);
}

}  // namespace shovel::client
