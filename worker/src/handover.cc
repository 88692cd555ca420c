#include "handover.h"

#include <algorithm>
#include <chrono>

#include "large_copy.h"
#include "pacer.h"
#include "replicator.h"
#include "shovel/hrw.h"
#include "shovel/worker/store.h"

namespace shovel::worker {

Handover::Handover(Store* store, Replicator* replicator)
    : store_(store), replicator_(replicator) {
  thread_ = std::thread([this] { Run(); });
}

Handover::~Handover() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Handover::Start(wire::HandoverBody body, bool move) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto same = std::find_if(queue_.begin(), queue_.end(), [&](const auto& q) {
      return q.body.target == body.target && q.move == move;
    });
    if (same != queue_.end()) {
      same->body = std::move(body);
    } else {
      queue_.push_back({std::move(body), move});
    }
  }
  cv_.notify_all();
}

size_t Handover::pending() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size() + (running_ ? 1 : 0);
}

void Handover::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Queued job = std::move(queue_.front());
    queue_.pop_front();
    running_ = true;
    l.unlock();
    Job(job.body, job.move);
    l.lock();
    running_ = false;
  }
}

void Handover::Job(const wire::HandoverBody& b, bool move) {
  std::vector<std::string> nodes;
  size_t self = SIZE_MAX, target = SIZE_MAX;
  for (size_t i = 0; i < b.members.size(); ++i) {
    nodes.push_back(b.members[i].node_id);
    if (b.members[i].node_id == store_->node_id()) self = i;
    if (b.members[i].endpoint == b.target) target = i;
  }
  if (self == SIZE_MAX || target == SIZE_MAX || self == target) return;
  const size_t r = std::min<size_t>(b.replicas, nodes.size());
  // One copy per id: the ids that move from this worker to the target (it
  // is first in their order now, this worker was first without it). Once
  // copied, this worker's copies are dropped (below), so no old copy is
  // served should the target go away again.
  const bool moving = move && r == 1;
  std::vector<std::pair<std::string, uint64_t>> moved;
  Pacer pacer(std::chrono::steady_clock::now());
  std::string after;
  for (;;) {
    ListResult page = store_->List("", after, 1024, /*delimiter=*/false);
    for (const auto& id : page.names) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (stop_) return;
      }
      std::vector<size_t> ranked = RankNodes(id, nodes);
      if (moving) {
        // First in the order: the target; first without it: this worker.
        if (ranked[0] != target || ranked.size() < 2 || ranked[1] != self) continue;
      } else {
        ranked.resize(r);
        auto in_set = [&](size_t k) {
          return std::find(ranked.begin(), ranked.end(), k) != ranked.end();
        };
        if (!in_set(self) || !in_set(target)) continue;
      }
      auto st = store_->Stat(id);
      if (!st.ok() || st->pinned) continue;
      // Moving: from here on requests for it are redirected to the target,
      // so what is copied below is the last write made here (a write
      // already past the redirect when it was set is caught by the second
      // look at the version).
      if (moving && on_move_) {
        on_move_(id, b.target, b.members[target].node_id, true);
      }
      ReadResult copied;
      ForwardError fe;
      bool reread = false;
      for (int look = 0; look < 2; ++look) {
        // All or nothing: a value over one message is read part by part.
        auto v = store_->ReadIfFits(id, 0, wire::kToEnd, Replicator::kMaxFetch);
        if (!v.ok()) {
          fe.status = Status::NotFound("");
          break;
        }
        if (look == 1 && v->version == copied.version && fe.status.ok()) break;
        copied = *v;
        if (v->more) {
          fe = CopyLargeValue(*replicator_, *store_, {b.target}, id, v->version, v->size,
                              false);
          if (!fe.status.ok() || !moving) break;
          continue;
        }
        wire::Request req;
        req.header.op = wire::Op::kSet;
        req.id = id;
        req.payload = {std::string_view(v->bytes.data, v->bytes.size)};
        req.replicas = {b.target};
        fe = replicator_->Copy(req, v->version);
        if (fe.status.code() == Code::kConflict && !reread) {
          // The target is under a newer epoch than this worker knew (it
          // restarted or rejoined; the refusal told its new one): read the
          // id again and copy that, once.
          reread = true;
          --look;
          continue;
        }
        if (!fe.status.ok() || !moving) break;
      }
      if (!fe.status.ok()) {
        if (moving && on_move_) on_move_(id, b.target, b.members[target].node_id, false);
        if (!fe.endpoint.empty()) return;  // the target is gone again
        continue;
      }
      auto* v = &copied;
      ids_copied_.fetch_add(1);
      bytes_copied_.fetch_add(v->size);
      if (moving) moved.emplace_back(id, v->version);
      std::this_thread::sleep_until(
          pacer.Sent(v->size, rate(), std::chrono::steady_clock::now()));
    }
    if (!page.more || page.names.empty()) break;
    after = page.names.back();
  }
  DropMoved(moved);
}

void Handover::DropMoved(const std::vector<std::pair<std::string, uint64_t>>& moved) {
  if (moved.empty() || (may_drop_ && !may_drop_())) return;
  {
    // Clients route to the target once they see it join (a Consul watch:
    // well within this); until then they may still read here.
    std::unique_lock<std::mutex> l(mu_);
    if (cv_.wait_for(l, kDropAfter, [&] { return stop_; })) return;
  }
  for (const auto& [id, version] : moved) {
    // Unless written here since (a client that did not see the join yet).
    WriteOptions o;
    o.if_version = true;
    o.expected_version = version;
    if (store_->Delete(id, o).ok()) dropped_.fetch_add(1);
  }
}

}  // namespace shovel::worker
