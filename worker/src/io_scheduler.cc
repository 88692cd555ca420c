#include "io_scheduler.h"

#include <functional>
#include <limits>

namespace shovel::worker {

IoScheduler::IoScheduler(size_t handlers, int64_t now_ns)
    : lanes_(handlers),
      last_request_ns_(std::numeric_limits<int64_t>::min() / 2),
      next_check_ns_(now_ns),
      next_expiry_ns_(now_ns + kExpireEveryNs) {}

size_t IoScheduler::LaneOf(std::string_view id) const {
  return std::hash<std::string_view>()(id) % lanes_.size();
}

size_t IoScheduler::LaneOfHandle(uint64_t handle) const {
  return std::hash<uint64_t>()(handle) % lanes_.size();
}

bool IoScheduler::AllIdle(const std::vector<size_t>& lanes) const {
  for (size_t l : lanes) {
    if (!lanes_.Idle(l)) return false;
  }
  return true;
}

void IoScheduler::Forwarding(std::string_view id) { forwarding_.emplace(id); }

void IoScheduler::Forwarded(std::string_view id) { forwarding_.erase(std::string(id)); }

Route IoScheduler::ForwardFailed(std::string_view id, size_t lane) {
  Forwarded(id);
  lanes_.Dispatched(lane, lane, false);
  return {Route::kDispatch, lane, lane, false};
}

bool IoScheduler::StillWaitsForForward() const {
  if (held_ids_.empty()) return !forwarding_.empty();
  for (const auto& id : held_ids_) {
    if (forwarding_.count(id)) return true;
  }
  return false;
}

bool IoScheduler::WaitsForForward(const wire::Header& h, std::string_view id,
                                  bool by_handle, RequestProbe& probe) {
  if (forwarding_.empty() || (h.flags & wire::kFlagReplica) || h.op == wire::Op::kLease) {
    return false;
  }
  held_ids_.clear();
  if (by_handle) return true;  // its id is not known here: until none is
  if (h.op == wire::Op::kBatch) {
    probe.BatchIds(ids_);
    for (std::string_view item : ids_) {
      if (forwarding_.count(std::string(item))) held_ids_.emplace_back(item);
    }
    return !held_ids_.empty();
  }
  return forwarding_.count(std::string(id)) != 0;  // it waits in its queue
}

Route IoScheduler::Place(const wire::Header& h, std::string_view id,
                         RequestProbe& probe) {
  const bool by_handle = h.op == wire::Op::kUploadData ||
                         h.op == wire::Op::kUploadCommit ||
                         h.op == wire::Op::kUploadAbort;
  if (WaitsForForward(h, id, by_handle, probe)) {
    if (!by_handle && h.op != wire::Op::kBatch) return {Route::kWait};
    hold_ = Hold::kForwarded;
    return {Route::kHold};
  }
  if (h.op == wire::Op::kBatch) {
    // Nothing in flight on any handler (the usual case: small requests are
    // served here): no need to know its ids' lanes.
    if (lanes_.AllIdle()) return {};
    probe.BatchIds(ids_);
    held_lanes_.clear();
    for (std::string_view item : ids_) held_lanes_.push_back(LaneOf(item));
    if (AllIdle(held_lanes_)) return {};
    hold_ = Hold::kBatch;
    return {Route::kHold};
  }
  if ((h.flags & wire::kFlagReplica) || h.op == wire::Op::kLease) return {};
  const size_t lane = by_handle ? LaneOfHandle(h.aux) : LaneOf(id);
  const bool read = h.op == wire::Op::kGet;
  if ((h.flags & wire::kFlagReplicas) &&
      (h.op == wire::Op::kSet || h.op == wire::Op::kAppend) && lanes_.Idle(lane) &&
      !id.empty()) {
    return {Route::kForward, lane};
  }
  // Nothing it must follow is in flight: served here if cheap.
  if (!by_handle && (read ? lanes_.NoWrites(lane) : lanes_.Idle(lane)) && probe.Cheap()) {
    return {};
  }
  return AfterNotCheap(lane, read);
}

Route IoScheduler::AfterNotCheap(size_t lane, bool read) {
  if (read) {
    Route r{Route::kDispatch, lane, lanes_.PickForRead(lane), true};
    lanes_.Dispatched(lane, r.to, true);
    return r;
  }
  if (lanes_.WriteMayGo(lane)) {
    lanes_.Dispatched(lane, lane, false);
    return {Route::kDispatch, lane, lane, false};
  }
  // A GET of this lane runs on another handler: wait for it.
  hold_ = Hold::kWrite;
  held_lane_ = lane;
  return {Route::kHold};
}

std::optional<Route> IoScheduler::ReleaseHeld() {
  switch (hold_) {
    case Hold::kNone:
      return std::nullopt;
    case Hold::kBatch:
      if (!AllIdle(held_lanes_)) return std::nullopt;
      hold_ = Hold::kNone;
      return Route{};
    case Hold::kWrite:
      if (!lanes_.WriteMayGo(held_lane_)) return std::nullopt;
      hold_ = Hold::kNone;
      lanes_.Dispatched(held_lane_, held_lane_, false);
      return Route{Route::kDispatch, held_lane_, held_lane_, false};
    case Hold::kForwarded:
      if (StillWaitsForForward()) return std::nullopt;
      hold_ = Hold::kNone;
      return Route{Route::kPlaceAgain};
  }
  return std::nullopt;
}

bool IoScheduler::Accepting(IoMode mode, int64_t in_flight) const {
  return !stopping_ && mode == IoMode::kServing && in_flight < kMaxInFlight && !holding();
}

bool IoScheduler::ForPeerWorker(std::string_view header) {
  if (header.size() != wire::kHeaderSize) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(header.data());
  const auto flags = static_cast<uint16_t>(p[4] | (p[5] << 8));
  return p[3] == static_cast<unsigned char>(wire::Op::kLease) ||
         (flags & wire::kFlagReplica) != 0;
}

bool IoScheduler::Stop(int64_t now_ns) {
  if (stopping_) return false;
  stopping_ = true;
  deadline_ns_ = now_ns + kStopDeadlineNs;
  const bool active = now_ns - last_request_ns_ < kActiveNs;
  grace_until_ns_ = active ? now_ns + kStopGraceNs : now_ns;
  return true;
}

bool IoScheduler::Done(int64_t now_ns, int64_t in_flight) const {
  return stopping_ &&
         ((in_flight == 0 && now_ns >= grace_until_ns_) || now_ns > deadline_ns_);
}

bool IoScheduler::CheckDue(int64_t now_ns) {
  if (now_ns <= next_check_ns_) return false;
  next_check_ns_ = now_ns + kCheckEveryNs;
  return true;
}

bool IoScheduler::ExpiryDue(int64_t now_ns) {
  if (now_ns <= next_expiry_ns_) return false;
  next_expiry_ns_ = now_ns + kExpireEveryNs;
  return true;
}

}  // namespace shovel::worker
