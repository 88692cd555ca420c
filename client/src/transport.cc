#include "transport.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shovel::client {

std::string Response::PayloadBytes(size_t first) const {
  std::string out;
  out.reserve(PayloadSize(first));
  for (size_t i = first; i < reply.payload.size(); ++i) out.append(reply.payload[i]);
  return out;
}

uint64_t Response::PayloadSize(size_t first) const {
  uint64_t n = 0;
  for (size_t i = first; i < reply.payload.size(); ++i) n += reply.payload[i].size();
  return n;
}

Status DecodeResponse(Response& resp, const std::string& endpoint) {
  auto reply = wire::DecodeReply(resp.frames);
  if (!reply.ok()) return reply.status().WithContext("bad reply from " + endpoint);
  resp.reply = std::move(*reply);
  resp.endpoint = endpoint;
  return Status::Ok();
}

void PayloadLoan::Lend() {
  std::lock_guard<std::mutex> lock(mu_);
  ++out_;
}

void PayloadLoan::Return() {
  bool last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = --out_ == 0;
  }
  if (last) cv_.notify_all();
}

bool PayloadLoan::Outstanding() {
  std::lock_guard<std::mutex> lock(mu_);
  return out_ > 0;
}

void PayloadLoan::WaitReturned() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return out_ == 0; });
}

void OneShotEvent::Wait() {
  uint32_t s = kIdle;
  if (!state_.compare_exchange_strong(s, kSleeping, std::memory_order_acquire)) {
    return;  // already set (the failed exchange read it with acquire)
  }
  while (state_.load(std::memory_order_acquire) != kSet) {
    // Returns at once if state_ is no longer kSleeping; spurious wake-ups
    // (EINTR) loop.
    syscall(SYS_futex, &state_, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
  }
}

void OneShotEvent::Set() {
  if (state_.exchange(kSet, std::memory_order_acq_rel) == kSleeping) {
    syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
}

Result<ResponsePtr> PendingCall::Wait() {
  done_.Wait();
  return std::move(*result_);
}

void PendingCall::Complete(Result<ResponsePtr> r) {
  result_.emplace(std::move(r));
  // Safe: Wait() holds a shared_ptr to this call until it returns.
  done_.Set();
}

std::shared_ptr<PendingCall> Transport::Start(const std::string& endpoint,
                                              const OutRequest& request) {
  auto call = std::make_shared<PendingCall>();
  Send(endpoint, request,
       [call](Result<ResponsePtr> r) { call->Complete(std::move(r)); });
  return call;
}

Result<ResponsePtr> Transport::Call(const std::string& endpoint,
                                    const OutRequest& request) {
  return Start(endpoint, request)->Wait();
}

std::vector<Result<ResponsePtr>> PendingBatch::Wait() {
  done_.Wait();
  std::vector<Result<ResponsePtr>> out;
  out.reserve(results_.size());
  for (auto& r : results_) out.push_back(std::move(*r));
  return out;
}

void PendingBatch::Complete(size_t i, Result<ResponsePtr> r) {
  results_[i].emplace(std::move(r));
  // acq_rel: the last one sees every other Complete's result before it
  // sets done_ (Wait() holds a shared_ptr to this batch).
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.Set();
}

namespace {

// A Response sharing `whole`'s bytes (a reference count, no byte copy).
ResponsePtr ShareResponse(const Response& whole) {
  return std::make_unique<Response>(whole);
}

// Item boundaries of `body` after each part's items; empty when the body
// does not split into exactly the parts' items.
std::vector<size_t> PartEnds(std::string_view body, const std::vector<BatchPart>& parts) {
  uint64_t total = 0;
  for (const auto& p : parts) total += p.count;
  wire::BatchReader reader(body, total);
  if (!reader.CheckCount().ok()) return {};
  std::vector<size_t> ends;
  wire::Frames scratch;
  for (const auto& p : parts) {
    for (uint64_t j = 0; j < p.count; ++j) {
      if (!reader.Next(&scratch).ok()) return {};
    }
    ends.push_back(reader.offset());
  }
  if (!reader.Finish().ok()) return {};
  return ends;
}

}  // namespace

void SplitBatchReply(std::vector<BatchPart>& parts, Result<ResponsePtr> whole) {
  if (!whole.ok()) {
    for (auto& p : parts) p.done(whole.status());
    return;
  }
  Response& w = **whole;
  std::vector<size_t> ends;
  if (w.reply.header.status == Code::kOk && w.reply.payload.size() == 1) {
    ends = PartEnds(w.reply.payload[0], parts);
  }
  size_t begin = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    ResponsePtr r = ShareResponse(w);
    r->reply.header.request_id = parts[i].request_id;
    if (!ends.empty()) {
      r->reply.header.aux = parts[i].count;
      r->reply.payload[0] = r->reply.payload[0].substr(begin, ends[i] - begin);
      begin = ends[i];
    }
    parts[i].done(std::move(r));
  }
}

void Transport::SendMany(const RequestBatch& requests,
                         std::vector<ResponseCallback> done) {
  for (size_t i = 0; i < requests.size(); ++i) {
    Send(requests[i].first, requests[i].second, std::move(done[i]));
  }
}

std::shared_ptr<PendingBatch> Transport::StartMany(const RequestBatch& requests) {
  auto batch = std::make_shared<PendingBatch>(requests.size());
  std::vector<ResponseCallback> done;
  done.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    done.push_back(
        [batch, i](Result<ResponsePtr> r) { batch->Complete(i, std::move(r)); });
  }
  SendMany(requests, std::move(done));
  return batch;
}

std::vector<Result<ResponsePtr>> Transport::CallMany(const RequestBatch& requests) {
  return StartMany(requests)->Wait();
}

}  // namespace shovel::client
