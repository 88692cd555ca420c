// Replicator::CopyLarge: a value over one message's size copied to a peer
// as a replica's streamed write (see replicator.h).
#include <algorithm>

#include "replicator.h"
#include "shovel/text.h"

namespace shovel::worker {

ForwardError Replicator::CopyLarge(const std::string& endpoint, std::string_view id,
                                   uint64_t version, uint64_t size, bool pinned,
                                   const PartFn& part) {
  auto failed = [&](const Status& st, bool at_fault) {
    return ForwardError{
        st.WithContext("copying id " + QuoteForMessage(id) + " to " + endpoint),
        at_fault ? endpoint : std::string()};
  };
  wire::Header begin;
  begin.op = wire::Op::kUploadBegin;
  begin.flags = wire::kFlagReplica | (pinned ? wire::kFlagPinned : 0);
  begin.version_no = version;
  begin.length = size;  // the size hint
  Result<Answer> a = Status::Unavailable("");
  for (int attempt = 0; attempt < 2; ++attempt) {
    begin.aux = Epoch(endpoint);
    a = Call(endpoint, begin, id, {}, kDeadline);
    if (!a.ok()) return failed(a.status(), true);
    SetEpoch(endpoint, a->header.aux);
    // Refused for an older epoch: the target rejoined; once more under its
    // new one (it dropped what it held, so the copy is wanted).
    if (a->header.status != Code::kConflict || a->header.aux == begin.aux) break;
  }
  Status st = wire::ReplyStatus(wire::Reply{a->header, {a->message}});
  if (!st.ok()) return failed(st, st.code() == Code::kUnavailable);
  const uint64_t handle = a->header.offset;
  if (handle == 0) return {};  // the target holds this version or a newer one
  auto abort = [&] {
    wire::Header h;
    h.op = wire::Op::kUploadAbort;
    h.flags = wire::kFlagReplica;
    h.aux = handle;
    (void)Call(endpoint, h, "", {}, kConnectWait);
  };
  for (uint64_t off = 0; off < size; off += kCopyPart) {
    auto bytes = part(off, std::min(kCopyPart, size - off));
    if (!bytes.ok()) {
      abort();
      return failed(bytes.status(), false);
    }
    wire::Header h;
    h.op = wire::Op::kUploadData;
    h.flags = wire::kFlagReplica;
    h.aux = handle;
    h.offset = off;
    auto d = Call(endpoint, h, "", {*bytes}, kCopyPartWait);
    if (!d.ok()) return failed(d.status(), true);
    Status ds = wire::ReplyStatus(wire::Reply{d->header, {d->message}});
    if (!ds.ok()) {
      abort();
      return failed(ds, ds.code() == Code::kUnavailable);
    }
  }
  wire::Header commit;
  commit.op = wire::Op::kUploadCommit;
  commit.flags = wire::kFlagReplica;
  commit.aux = handle;
  auto c = Call(endpoint, commit, "", {}, kCopyPartWait);
  if (!c.ok()) return failed(c.status(), true);
  SetEpoch(endpoint, c->header.aux);
  Status cs = wire::ReplyStatus(wire::Reply{c->header, {c->message}});
  if (!cs.ok()) return failed(cs, cs.code() == Code::kUnavailable);
  return {};
}

}  // namespace shovel::worker
