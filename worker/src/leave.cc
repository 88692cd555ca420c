#include "leave.h"

#include <algorithm>
#include <thread>

#include "large_copy.h"
#include "replicator.h"
#include "shovel/hrw.h"
#include "shovel/worker/store.h"

namespace shovel::worker {

std::vector<size_t> LeaveTargets(std::string_view id,
                                 const std::vector<std::string>& nodes, size_t self,
                                 size_t r) {
  if (self >= nodes.size() || nodes.size() < 2 || r == 0) return {};
  std::vector<size_t> ranked = RankNodes(id, nodes);
  const size_t old_r = std::min(r, ranked.size());
  auto holds = std::find(ranked.begin(), ranked.begin() + old_r, self);
  if (holds == ranked.begin() + old_r) return {};
  // Without `self`, the set is the old one less self plus the next in
  // order: the node ranked just past the old set enters.
  if (old_r < ranked.size()) return {ranked[old_r]};
  return {};  // every other node holds it already
}

std::optional<size_t> PinnedTarget(std::string_view id,
                                   const std::vector<std::string>& nodes, size_t self) {
  if (self >= nodes.size() || nodes.size() < 2) return std::nullopt;
  std::vector<size_t> ranked = RankNodes(id, nodes);
  return ranked[0] != self ? ranked[0] : ranked[1];
}

std::string_view LeaveProgress::Name(int state) {
  switch (state) {
    case kCopying:
      return "copying";
    case kFinal:
      return "final";
    case kLeft:
      return "left";
    default:
      return "";
  }
}

LeaveCopier::LeaveCopier(Store* store, Replicator* replicator,
                         const wire::HandoverBody& body, std::function<uint64_t()> rate,
                         LeaveProgress* progress, LogFn log,
                         std::chrono::steady_clock::time_point deadline)
    : store_(store),
      replicator_(replicator),
      rate_(std::move(rate)),
      progress_(progress),
      log_(std::move(log)),
      r_(std::max<size_t>(1, body.replicas)),
      deadline_(deadline) {
  for (const auto& m : body.members) {
    if (m.node_id == store_->node_id()) self_ = nodes_.size();
    nodes_.push_back(m.node_id);
    endpoints_.push_back(m.endpoint);
  }
}

Status LeaveCopier::Check() const {
  if (self_ == SIZE_MAX) {
    return Status::InvalidArgument("worker " + store_->node_id() +
                                   " is not among the members it was given to leave");
  }
  if (nodes_.size() < 2) {
    return Status::InvalidArgument("worker " + store_->node_id() +
                                   " is the only worker: its ids have nowhere to go");
  }
  return Status::Ok();
}

void LeaveCopier::Pace(uint64_t bytes) {
  std::this_thread::sleep_until(
      pacer_.Sent(bytes, rate_(), std::chrono::steady_clock::now()));
}

bool LeaveCopier::Send(const wire::Header& h, const std::string& id,
                       std::string_view bytes, const std::vector<size_t>& targets) {
  wire::Request req;
  req.header.op = h.op;
  req.header.flags = h.flags;
  req.id = id;
  if (h.op == wire::Op::kSet) req.payload = {bytes};
  for (size_t t : targets) req.replicas.push_back(endpoints_[t]);
  ForwardError fe = replicator_->Forward(req, h.version_no, 0, h.version_no, nullptr, {});
  return fe.status.ok();
}

std::vector<size_t> LeaveCopier::Targets(std::string_view id, bool pinned) const {
  if (!pinned) return LeaveTargets(id, nodes_, self_, r_);
  auto t = PinnedTarget(id, nodes_, self_);
  return t ? std::vector<size_t>{*t} : std::vector<size_t>{};
}

void LeaveCopier::Pass() {
  if (!Check().ok()) return;
  const bool first = first_;
  first_ = false;
  pacer_ = Pacer(std::chrono::steady_clock::now());
  uint64_t unanswered = 0, late = 0;
  std::map<std::string, uint64_t, std::less<>> seen;
  std::string after;
  for (;;) {
    ListResult page = store_->List("", after, 1024, /*delimiter=*/false);
    if (first) progress_->ids.fetch_add(page.names.size());
    for (const auto& id : page.names) {
      if (std::chrono::steady_clock::now() >= deadline_) {
        ++late;
        continue;
      }
      auto st = store_->Stat(id);
      if (!st.ok()) continue;  // deleted meanwhile: the final pass sees it
      std::vector<size_t> targets = Targets(id, st->pinned);
      if (targets.empty()) continue;
      seen.emplace(id, st->version);
      auto prev = sent_.find(id);
      if (prev != sent_.end() && prev->second.version == st->version) continue;
      // All or nothing: a value over one message is read part by part.
      auto v = store_->ReadIfFits(id, 0, wire::kToEnd, Replicator::kMaxFetch);
      if (!v.ok()) continue;
      // A pinned id stays pinned at its new home, which drops its pointer.
      wire::Header h;
      h.op = wire::Op::kSet;
      h.flags = st->pinned ? wire::kFlagPinned : 0;
      h.version_no = v->version;
      bool sent;
      if (v->more) {
        std::vector<std::string> to;
        for (size_t t : targets) to.push_back(endpoints_[t]);
        ForwardError fe = CopyLargeValue(*replicator_, *store_, to, id, v->version,
                                         v->size, st->pinned);
        sent = fe.status.ok();
      } else {
        sent = Send(h, id, std::string_view(v->bytes.data, v->bytes.size), targets);
      }
      if (!sent) {
        ++unanswered;
        continue;
      }
      sent_[id] = {v->version, st->pinned};
      progress_->copied.fetch_add(1);
      progress_->bytes.fetch_add(v->size);
      Pace(v->size);
    }
    if (!page.more || page.names.empty()) break;
    after = page.names.back();
  }
  if (!first) {
    // Copied before and gone now: deleted here since, so deleted there too
    // (a version past every write this worker gave).
    for (auto it = sent_.begin(); it != sent_.end();) {
      if (seen.count(it->first)) {
        ++it;
        continue;
      }
      wire::Header h;
      h.op = wire::Op::kDelete;
      h.version_no = store_->TakeVersion();
      if (Send(h, it->first, {}, Targets(it->first, it->second.pinned))) {
        progress_->copied.fetch_add(1);
      } else {
        ++unanswered;
      }
      it = sent_.erase(it);
    }
  }
  if (first) return;  // the final pass counts what is left behind
  uint64_t failed = unanswered + late;
  progress_->failed.store(failed);
  if (failed != 0 && log_) {
    log_(log::Level::kError, "leaving: " + std::to_string(failed) + " ids not copied (" +
                                 std::to_string(unanswered) +
                                 " their new holder did not take, " +
                                 std::to_string(late) + " past the time limit)");
  }
}

}  // namespace shovel::worker
