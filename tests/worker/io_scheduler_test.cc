// IoScheduler (io_scheduler.h): each decision of the worker's I/O thread —
// serve inline, dispatch to a lane's handler, hold, stop reading, stop,
// and the check and upload-expiry timers — without sockets or threads.
#include "io_scheduler.h"

#include <gtest/gtest.h>

#include <string>

namespace shovel::worker {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'000'000 * kMs;  // an arbitrary steady-clock start

// Answers the scheduler's questions as a test sets them, and counts them.
struct Probe final : RequestProbe {
  explicit Probe(bool is_cheap = false) : cheap(is_cheap) {}
  bool cheap;
  std::vector<std::string> batch_ids;
  int cheap_asked = 0;
  int ids_asked = 0;
  bool Cheap() override {
    ++cheap_asked;
    return cheap;
  }
  void BatchIds(std::vector<std::string_view>& ids) override {
    ++ids_asked;
    ids.assign(batch_ids.begin(), batch_ids.end());
  }
};

wire::Header Req(wire::Op op, uint16_t flags = 0, uint64_t aux = 0) {
  wire::Header h;
  h.op = op;
  h.flags = flags;
  h.aux = aux;
  return h;
}

// An id starting with `prefix` whose lane is `lane`.
std::string IdOn(const IoScheduler& s, size_t lane, const std::string& prefix = "id") {
  for (int i = 0;; ++i) {
    std::string id = prefix + std::to_string(i);
    if (s.LaneOf(id) == lane) return id;
  }
}

TEST(IoSchedulerTest, CheapRequestOfAnIdleLaneIsServedInline) {
  IoScheduler s(4, kT0);
  Probe p(true);
  EXPECT_EQ(s.Place(Req(wire::Op::kSet), "a", p).kind, Route::kServeHere);
  EXPECT_EQ(s.Place(Req(wire::Op::kGet), "a", p).kind, Route::kServeHere);
  EXPECT_EQ(p.cheap_asked, 2);
  EXPECT_TRUE(s.lanes().AllIdle());  // nothing dispatched
}

TEST(IoSchedulerTest, CostlyWriteGoesToItsLanesHandler) {
  IoScheduler s(4, kT0);
  Probe p;
  const std::string id = IdOn(s, 2);
  Route r = s.Place(Req(wire::Op::kSet), id, p);
  EXPECT_EQ(r.kind, Route::kDispatch);
  EXPECT_EQ(r.lane, 2u);
  EXPECT_EQ(r.to, 2u);
  EXPECT_FALSE(r.read);
  EXPECT_EQ(s.lanes().Queued(2), 1);
}

TEST(IoSchedulerTest, CheapWriteFollowsAWriteInFlightOnItsLane) {
  IoScheduler s(2, kT0);
  Probe costly, cheap(true);
  const std::string id = IdOn(s, 1);
  ASSERT_EQ(s.Place(Req(wire::Op::kSet), id, costly).kind, Route::kDispatch);
  // Another id of the same lane: cheap, but it must not overtake.
  const std::string other = IdOn(s, 1, "other");
  Route r = s.Place(Req(wire::Op::kAppend), other, cheap);
  EXPECT_EQ(r.kind, Route::kDispatch);
  EXPECT_EQ(r.to, 1u);
  EXPECT_EQ(cheap.cheap_asked, 0);  // not even decoded
  s.Replied(1);
  s.Replied(1);
  EXPECT_EQ(s.Place(Req(wire::Op::kSet), other, cheap).kind, Route::kServeHere);
}

TEST(IoSchedulerTest, CheapGetIsServedInlineBesideGetsButNotBehindAWrite) {
  IoScheduler s(2, kT0);
  Probe costly, cheap(true);
  const std::string id = IdOn(s, 0);
  ASSERT_EQ(s.Place(Req(wire::Op::kGet), id, costly).kind, Route::kDispatch);
  EXPECT_EQ(s.Place(Req(wire::Op::kGet), id, cheap).kind, Route::kServeHere);
  s.Replied(0);
  ASSERT_EQ(s.Place(Req(wire::Op::kDelete), id, costly).kind, Route::kDispatch);
  Route r = s.Place(Req(wire::Op::kGet), id, cheap);
  EXPECT_EQ(r.kind, Route::kDispatch);  // after the write, on its handler
  EXPECT_EQ(r.to, 0u);
  EXPECT_TRUE(r.read);
}

TEST(IoSchedulerTest, CostlyGetsOfOneIdSpreadOverHandlers) {
  IoScheduler s(3, kT0);
  Probe p;
  const std::string id = IdOn(s, 1);
  std::vector<size_t> to;
  for (int i = 0; i < 3; ++i) {
    Route r = s.Place(Req(wire::Op::kGet), id, p);
    ASSERT_EQ(r.kind, Route::kDispatch);
    EXPECT_TRUE(r.read);
    EXPECT_EQ(r.lane, 1u);
    to.push_back(r.to);
  }
  EXPECT_EQ(to[0], 1u);  // idle: its own handler first
  EXPECT_NE(to[1], 1u);
  EXPECT_NE(to[2], 1u);
  EXPECT_NE(to[1], to[2]);
}

TEST(IoSchedulerTest, WriteIsHeldWhileAGetOfItsLaneRunsElsewhere) {
  IoScheduler s(2, kT0);
  Probe p;
  const std::string id = IdOn(s, 0);
  ASSERT_EQ(s.Place(Req(wire::Op::kGet), id, p).to, 0u);
  ASSERT_EQ(s.Place(Req(wire::Op::kGet), id, p).to, 1u);  // elsewhere
  EXPECT_EQ(s.Place(Req(wire::Op::kSet), id, p).kind, Route::kHold);
  EXPECT_TRUE(s.holding());
  EXPECT_FALSE(s.Accepting(IoMode::kServing, 0));  // nothing may overtake it
  EXPECT_FALSE(s.ReleaseHeld());
  s.Replied(0);  // its own handler's GET: still one elsewhere
  EXPECT_FALSE(s.ReleaseHeld());
  s.Replied(1);
  auto r = s.ReleaseHeld();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Route::kDispatch);
  EXPECT_EQ(r->to, 0u);
  EXPECT_FALSE(r->read);
  EXPECT_FALSE(s.holding());
  EXPECT_EQ(s.lanes().Queued(0), 1);  // recorded as dispatched
  EXPECT_FALSE(s.ReleaseHeld());
}

TEST(IoSchedulerTest, ReplicaWritesAndLeasesAreServedInlineAtOnce) {
  IoScheduler s(2, kT0);
  Probe p;
  const std::string id = IdOn(s, 0);
  ASSERT_EQ(s.Place(Req(wire::Op::kSet), id, p).kind, Route::kDispatch);
  // The lane is busy, the request is not cheap: still served here, never
  // behind a handler that may wait on this worker.
  EXPECT_EQ(s.Place(Req(wire::Op::kSet, wire::kFlagReplica), id, p).kind,
            Route::kServeHere);
  EXPECT_EQ(s.Place(Req(wire::Op::kLease), id, p).kind, Route::kServeHere);
  EXPECT_EQ(p.cheap_asked, 1);  // only the first SET
}

TEST(IoSchedulerTest, APrimarysWriteOfAnIdleLaneIsForwardedByTheIoThread) {
  IoScheduler s(2, kT0);
  Probe p;
  const std::string id = IdOn(s, 1);
  for (auto op : {wire::Op::kSet, wire::Op::kAppend}) {
    Route r = s.Place(Req(op, wire::kFlagReplicas), id, p);
    EXPECT_EQ(r.kind, Route::kForward);
    EXPECT_EQ(r.lane, 1u);
  }
  // Other writes as the primary, and any while the lane is busy, go to the
  // lane's handler as before.
  EXPECT_EQ(s.Place(Req(wire::Op::kDelete, wire::kFlagReplicas), id, p).kind,
            Route::kDispatch);
  EXPECT_EQ(s.Place(Req(wire::Op::kSet, wire::kFlagReplicas), id, p).kind,
            Route::kDispatch);
  EXPECT_FALSE(s.lanes().AllIdle());
  // Not forwarded after all (the Service did not prepare it): routed as a
  // costly write.
  IoScheduler t(2, kT0);
  Route r = t.NotForwarded(t.LaneOf(id));
  EXPECT_EQ(r.kind, Route::kDispatch);
  EXPECT_EQ(r.to, 1u);
  EXPECT_EQ(t.lanes().Queued(1), 1);
  EXPECT_EQ(p.cheap_asked, 1);  // the DELETE of an idle lane
}

TEST(IoSchedulerTest, EveryRequestOfAnIdBeingForwardedWaitsForIt) {
  IoScheduler s(2, kT0);
  Probe cheap(true);
  const std::string id = IdOn(s, 0), other = IdOn(s, 0, "other");
  ASSERT_EQ(s.Place(Req(wire::Op::kSet, wire::kFlagReplicas), id, cheap).kind,
            Route::kForward);
  s.Forwarding(id);
  EXPECT_EQ(s.forwarding(), 1u);
  // Another id, even of the same lane, is not held back.
  EXPECT_EQ(s.Place(Req(wire::Op::kGet), other, cheap).kind, Route::kServeHere);
  // A replica's write and a LEASE never wait.
  EXPECT_EQ(s.Place(Req(wire::Op::kSet, wire::kFlagReplica), id, cheap).kind,
            Route::kServeHere);
  // A GET or a write of the id, cheap as they are, wait in the id's queue
  // (the caller's): nothing overtakes the write, and reading goes on.
  EXPECT_EQ(s.Place(Req(wire::Op::kGet), id, cheap).kind, Route::kWait);
  EXPECT_EQ(s.Place(Req(wire::Op::kSet, wire::kFlagReplicas), id, cheap).kind,
            Route::kWait);
  EXPECT_FALSE(s.holding());
  EXPECT_TRUE(s.Accepting(IoMode::kServing, 0));
  s.Forwarded(id);
  // Placed again in their order once it ended.
  EXPECT_EQ(s.Place(Req(wire::Op::kGet), id, cheap).kind, Route::kServeHere);
}

TEST(IoSchedulerTest, BatchesAndUploadsWaitForForwardsOfTheirIds) {
  IoScheduler s(2, kT0);
  Probe p(true), batch(true);
  const std::string id = IdOn(s, 1), other = IdOn(s, 0);
  s.Forwarding(id);
  batch.batch_ids = {other};
  EXPECT_EQ(s.Place(Req(wire::Op::kBatch), "", batch).kind, Route::kServeHere);
  batch.batch_ids = {other, id};
  EXPECT_EQ(s.Place(Req(wire::Op::kBatch), "", batch).kind, Route::kHold);
  s.Forwarded(id);
  ASSERT_TRUE(s.ReleaseHeld());
  // An upload's part names its handle, not its id: it waits until no
  // write is forwarded at all.
  s.Forwarding(id);
  s.Forwarding(other);
  EXPECT_EQ(s.Place(Req(wire::Op::kUploadCommit, 0, 77), "", p).kind, Route::kHold);
  s.Forwarded(id);
  EXPECT_FALSE(s.ReleaseHeld());
  s.Forwarded(other);
  auto r = s.ReleaseHeld();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Route::kPlaceAgain);
}

TEST(IoSchedulerTest, AFailedForwardGoesToItsLanesHandlerAndTheIdFollowsIt) {
  IoScheduler s(2, kT0);
  Probe p;
  const std::string id = IdOn(s, 0);
  ASSERT_EQ(s.Place(Req(wire::Op::kGet), IdOn(s, 0, "g"), p).to, 0u);
  ASSERT_EQ(s.Place(Req(wire::Op::kGet), IdOn(s, 0, "h"), p).to, 1u);  // elsewhere
  s.Forwarding(id);
  // A GET of another id of the lane runs elsewhere; the failed write need
  // not wait for it (no request of its id is in flight anywhere).
  Route r = s.ForwardFailed(id, 0);
  EXPECT_EQ(r.kind, Route::kDispatch);
  EXPECT_EQ(r.to, 0u);
  EXPECT_EQ(s.forwarding(), 0u);
  EXPECT_EQ(s.lanes().Queued(0), 2);
  // The id's next write follows it on that handler.
  EXPECT_EQ(s.Place(Req(wire::Op::kSet, wire::kFlagReplicas), id, p).kind,
            Route::kHold);  // a GET of lane 0 still runs on handler 1
  s.Replied(1);
  auto next = s.ReleaseHeld();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->kind, Route::kDispatch);
  EXPECT_EQ(next->to, 0u);
}

TEST(IoSchedulerTest, UploadPartsGoToTheLaneOfTheirHandleNeverInline) {
  IoScheduler s(4, kT0);
  Probe p(true);
  const uint64_t handle = 77;
  for (auto op :
       {wire::Op::kUploadData, wire::Op::kUploadCommit, wire::Op::kUploadAbort}) {
    // The id frame differs each time; the handle alone picks the lane.
    Route r = s.Place(Req(op, 0, handle), "x" + std::to_string(static_cast<int>(op)), p);
    EXPECT_EQ(r.kind, Route::kDispatch);
    EXPECT_EQ(r.lane, s.LaneOfHandle(handle));
    EXPECT_EQ(r.to, r.lane);
  }
  EXPECT_EQ(p.cheap_asked, 0);
}

TEST(IoSchedulerTest, BatchIsServedInlineOnceTheLanesOfItsIdsAreIdle) {
  IoScheduler s(2, kT0);
  Probe p, batch;
  EXPECT_EQ(s.Place(Req(wire::Op::kBatch), "", batch).kind, Route::kServeHere);
  EXPECT_EQ(batch.ids_asked, 0);  // all idle: its ids need not be decoded
  const std::string busy = IdOn(s, 0), free = IdOn(s, 1);
  ASSERT_EQ(s.Place(Req(wire::Op::kSet), busy, p).kind, Route::kDispatch);
  batch.batch_ids = {free};
  EXPECT_EQ(s.Place(Req(wire::Op::kBatch), "", batch).kind, Route::kServeHere);
  batch.batch_ids = {};  // does not decode: answered with an error at once
  EXPECT_EQ(s.Place(Req(wire::Op::kBatch), "", batch).kind, Route::kServeHere);
  batch.batch_ids = {free, busy};
  EXPECT_EQ(s.Place(Req(wire::Op::kBatch), "", batch).kind, Route::kHold);
  EXPECT_FALSE(s.ReleaseHeld());
  s.Replied(0);
  auto r = s.ReleaseHeld();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Route::kServeHere);
  EXPECT_FALSE(s.holding());
}

TEST(IoSchedulerTest, ReadsOnlyWhileServingBelowTheInFlightBound) {
  IoScheduler s(2, kT0);
  EXPECT_TRUE(s.Accepting(IoMode::kServing, 0));
  EXPECT_TRUE(s.Accepting(IoMode::kServing, IoScheduler::kMaxInFlight - 1));
  EXPECT_FALSE(s.Accepting(IoMode::kServing, IoScheduler::kMaxInFlight));
  EXPECT_FALSE(s.Accepting(IoMode::kPaused, 0));
  EXPECT_FALSE(s.Accepting(IoMode::kLeft, 0));
  EXPECT_FALSE(s.Refusing(IoMode::kServing));
  EXPECT_FALSE(s.Refusing(IoMode::kPaused));  // paused: requests wait in queues
  EXPECT_TRUE(s.Refusing(IoMode::kLeft));
  EXPECT_EQ(s.PollTimeoutMs(false), IoScheduler::kPollMs);
  EXPECT_EQ(s.PollTimeoutMs(true), IoScheduler::kPollBusyMs);  // parked requests
}

TEST(IoSchedulerTest, ALeftWorkerStillAnswersNodeStatsButNotOnceStopping) {
  IoScheduler s(2, kT0);
  EXPECT_TRUE(s.ServedWhileRefusing(wire::Op::kNodeStats));
  EXPECT_FALSE(s.ServedWhileRefusing(wire::Op::kGet));
  s.Stop(kT0);
  EXPECT_TRUE(s.Refusing(IoMode::kServing));
  EXPECT_FALSE(s.Accepting(IoMode::kServing, 0));
  EXPECT_FALSE(s.ServedWhileRefusing(wire::Op::kNodeStats));
  EXPECT_EQ(s.PollTimeoutMs(false), IoScheduler::kPollBusyMs);
}

TEST(IoSchedulerTest, StopEndsAtOnceWhenQuietAndIdle) {
  IoScheduler s(2, kT0);
  EXPECT_FALSE(s.Done(kT0, 0));  // not asked to stop
  EXPECT_TRUE(s.Stop(kT0 + 5 * kMs));
  EXPECT_FALSE(s.Stop(kT0 + 6 * kMs));  // once
  EXPECT_TRUE(s.Done(kT0 + 5 * kMs, 0));
  EXPECT_FALSE(s.Done(kT0 + 5 * kMs, 1));  // a request in flight is answered
}

TEST(IoSchedulerTest, StopRefusesForAGraceAfterRecentRequests) {
  IoScheduler s(2, kT0);
  s.RequestRead(kT0);
  const int64_t stop = kT0 + 999 * kMs;  // within a second of the last request
  s.Stop(stop);
  EXPECT_FALSE(s.Done(stop, 0));
  EXPECT_FALSE(s.Done(stop + IoScheduler::kStopGraceNs - 1, 0));
  EXPECT_TRUE(s.Done(stop + IoScheduler::kStopGraceNs, 0));
}

TEST(IoSchedulerTest, StopGivesUpOnRequestsInFlightAtTheDeadline) {
  IoScheduler s(2, kT0);
  s.Stop(kT0);
  EXPECT_FALSE(s.Done(kT0 + IoScheduler::kStopDeadlineNs, 3));
  EXPECT_TRUE(s.Done(kT0 + IoScheduler::kStopDeadlineNs + 1, 3));
}

TEST(IoSchedulerTest, ChecksRunEveryTenthOfASecondFromTheStart) {
  IoScheduler s(2, kT0);
  EXPECT_FALSE(s.CheckDue(kT0));
  EXPECT_TRUE(s.CheckDue(kT0 + 1));
  EXPECT_FALSE(s.CheckDue(kT0 + 1 + IoScheduler::kCheckEveryNs));
  EXPECT_TRUE(s.CheckDue(kT0 + 2 + IoScheduler::kCheckEveryNs));
}

TEST(IoSchedulerTest, UploadsExpireOnceASecondAfterTheFirstSecond) {
  IoScheduler s(2, kT0);
  EXPECT_FALSE(s.ExpiryDue(kT0 + 1));
  EXPECT_FALSE(s.ExpiryDue(kT0 + IoScheduler::kExpireEveryNs));
  const int64_t first = kT0 + IoScheduler::kExpireEveryNs + 1;
  EXPECT_TRUE(s.ExpiryDue(first));
  EXPECT_FALSE(s.ExpiryDue(first + 500 * kMs));
  EXPECT_TRUE(s.ExpiryDue(first + IoScheduler::kExpireEveryNs + 1));
}

TEST(IoSchedulerTest, PeerWorkerFramesAreRecognisedFromTheRawHeader) {
  auto raw = [](wire::Op op, uint16_t flags) {
    wire::Header h;
    h.op = op;
    h.flags = flags;
    return wire::EncodeHeader(h);
  };
  EXPECT_TRUE(IoScheduler::ForPeerWorker(raw(wire::Op::kLease, 0)));
  EXPECT_TRUE(IoScheduler::ForPeerWorker(raw(wire::Op::kSet, wire::kFlagReplica)));
  EXPECT_FALSE(IoScheduler::ForPeerWorker(raw(wire::Op::kSet, wire::kFlagReplicas)));
  EXPECT_FALSE(IoScheduler::ForPeerWorker(raw(wire::Op::kGet, 0)));
  EXPECT_FALSE(IoScheduler::ForPeerWorker(raw(wire::Op::kLease, 0).substr(1)));
}

}  // namespace
}  // namespace shovel::worker
