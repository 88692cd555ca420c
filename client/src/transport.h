// Transport: sends shoveling requests to workers and matches the replies.
//
// Send is asynchronous: the request is encoded (and its bytes copied) before
// Send returns, and `done` runs exactly once, with the reply or with an
// error: kTimeout when the worker took longer than the deadline, kUnavailable
// when it could not be reached or closed the connection before it answered
// (ConnectionWatch; all name the endpoint). Many requests may be
// in flight on one endpoint; replies are matched by 64-bit request id.
//
// Thread-safety: Send and Call may be called from any number of threads.
// Callbacks run on the transport's I/O thread, or, for a worker in this
// process (LocalTransport, local_transport.h), on the calling thread before
// Send returns. So a callback must be short, must not Call (send and wait)
// itself, and must not take a lock its caller may hold across Send; callers
// hold no lock across Send that their callbacks take (today's callbacks only
// complete a PendingCall/PendingBatch or do nothing).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/local_serve.h"
#include "shovel/protocol.h"
#include "shovel/status.h"

namespace shovel::client {

class WatchGrant;

// Payload bytes lent to a transport. With OutRequest::loan set, a transport
// may send payload frames of kLendAbove bytes or more straight from the
// caller's memory instead of copying them; it Lends for each such frame and
// Returns when nothing of it references the bytes any more. The caller keeps
// the bytes alive and unchanged until WaitReturned() returns, and calls it
// after the request finished (its `done` ran, Call returned). A transport
// must return a loan within about the request's deadline: ZmqTransport, at
// the deadline of a request whose lent bytes ZeroMQ still holds, closes that
// connection (ZeroMQ then drops them; the requests already sent on it fail
// with kUnavailable) and opens a new one. Thread-safe.
class PayloadLoan {
 public:
  static constexpr size_t kLendAbove = 64 << 10;
  void Lend();
  void Return();
  bool Outstanding();
  void WaitReturned();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int out_ = 0;  // guarded by mu_
};

// One request. Views need to live only for the duration of Send (payload
// bytes lent through `loan`: see PayloadLoan).
struct OutRequest {
  wire::Header header;  // request_id is assigned by the transport
  std::string_view id;
  std::vector<std::string_view> payload;
  std::chrono::milliseconds deadline{5000};
  bool idempotent = false;            // may be sent again once if no reply comes
  std::shared_ptr<PayloadLoan> loan;  // null: payload bytes are copied
  // Set: one more payload frame after `payload` (e.g. a BATCH body encoded
  // in place). With an owner, the transport keeps the owner (a reference
  // count) for as long as it needs the bytes instead of copying them; with
  // none, the bytes need to live only for the duration of Send.
  std::optional<wire::SharedFrame> frame;
};

// A decoded reply; `reply` views into `frames` (header, payload...), whose
// bytes `keep` holds. Owned by the receiver.
struct Response {
  std::string endpoint;
  std::vector<std::string_view> frames;
  std::shared_ptr<const void> keep;
  // Every frame lives in memory of its own that `keep` holds (an in-process
  // reply), not in a receive buffer shared with other messages: a view of
  // any of them pins nothing else.
  bool frames_own_memory = false;
  wire::Reply reply;
  // A STAT sent with kFlagWatch that the worker granted a watch
  // (watch_book.h); null otherwise.
  std::shared_ptr<const WatchGrant> watch;
  // Concatenated payload bytes from index `first` on (copying).
  std::string PayloadBytes(size_t first = 0) const;
  uint64_t PayloadSize(size_t first = 0) const;
};
using ResponsePtr = std::unique_ptr<Response>;
// Decodes resp.frames into resp.reply (views into the frames) and sets
// resp.endpoint; a decoding error says "bad reply from <endpoint>".
Status DecodeResponse(Response& resp, const std::string& endpoint);
using ResponseCallback = std::function<void(Result<ResponsePtr>)>;

// A flag set once by one thread and waited for by one other, on a futex:
// Set makes a system call only when the waiter is already asleep, and
// neither side takes a lock (a mutex + condition variable costs a lock
// round trip on both sides and a wake even when nobody sleeps). Set's caller
// must keep the event alive until Set returns (callers hold a shared_ptr).
class OneShotEvent {
 public:
  void Wait();
  void Set();

 private:
  // kIdle -> kSleeping (waiter about to sleep) -> kSet; or kIdle -> kSet.
  static constexpr uint32_t kIdle = 0, kSleeping = 1, kSet = 2;
  std::atomic<uint32_t> state_{kIdle};
};

// A request in flight; Wait blocks until its outcome (about the deadline at
// most) and may be called once.
class PendingCall {
 public:
  Result<ResponsePtr> Wait();
  void Complete(Result<ResponsePtr> r);

 private:
  OneShotEvent done_;
  std::optional<Result<ResponsePtr>> result_;  // written before done_ is set
};

// The outcomes of several requests sent together; Complete runs on the I/O
// thread for each, and only the last one wakes the waiter. Wait blocks until
// all are in (about the longest deadline at most) and may be called once;
// results are in request order.
class PendingBatch {
 public:
  explicit PendingBatch(size_t n) : remaining_(n), results_(n) {
    if (n == 0) done_.Set();
  }
  std::vector<Result<ResponsePtr>> Wait();
  void Complete(size_t i, Result<ResponsePtr> r);

 private:
  OneShotEvent done_;
  std::atomic<size_t> remaining_;
  // results_[i] is written by its one Complete before remaining_ drops, and
  // read by Wait after done_: the event orders them.
  std::vector<std::optional<Result<ResponsePtr>>> results_;
};

using RequestBatch = std::vector<std::pair<std::string, OutRequest>>;

// One of several BATCH requests sent as one merged BATCH message (their
// items concatenated in order): its item count and its own callback.
struct BatchPart {
  uint64_t count = 0;
  uint64_t request_id = 0;
  ResponseCallback done;
};
// Completes every part from the outcome of the merged message: an error
// goes to each; an OK reply's body is split at the parts' item boundaries
// (each part gets a Response with its own items, aux = its count, sharing
// the reply's buffers); any other reply (e.g. kProtocol from a worker that
// predates BATCH), or a body that does not split, goes whole to each, whose
// own decoding then reports it.
void SplitBatchReply(std::vector<BatchPart>& parts, Result<ResponsePtr> whole);

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Send(const std::string& endpoint, const OutRequest& request,
                    ResponseCallback done) = 0;
  // Sends several requests at once (one hand-over to the I/O thread where the
  // implementation allows); done[i] runs exactly once for requests[i].
  virtual void SendMany(const RequestBatch& requests, std::vector<ResponseCallback> done);
  // SendMany with one PendingBatch collecting the outcomes.
  std::shared_ptr<PendingBatch> StartMany(const RequestBatch& requests);
  std::shared_ptr<PendingCall> Start(const std::string& endpoint,
                                     const OutRequest& request);
  // Send and wait for the outcome (never longer than about the deadline).
  // The default is Start and Wait.
  virtual Result<ResponsePtr> Call(const std::string& endpoint,
                                   const OutRequest& request);
  // Sends all, waits for all; results in request order.
  std::vector<Result<ResponsePtr>> CallMany(const RequestBatch& requests);
  // Local failure detection (DownEndpoints): true while `endpoint` is taken
  // to be down (no connection within a deadline, or its connection closed
  // under requests), until a reply from it arrives. Routing avoids such
  // workers; a PING to one readmits it when it answers.
  virtual bool IsDown(const std::string& endpoint) { return false; }
  // Takes `endpoint` to be down (a primary said this replica did not answer).
  virtual void MarkDown(const std::string& endpoint) {}
};

}  // namespace shovel::client
