#include "transport.h"

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

Result<ResponsePtr> PendingCall::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return result_.has_value(); });
  return std::move(*result_);
}

void PendingCall::Complete(Result<ResponsePtr> r) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    result_.emplace(std::move(r));
  }
  // Notified after unlocking, so the woken caller does not block on mu_
  // (the I/O thread then goes on without a futex wake for the mutex).
  // Safe: Wait() holds a shared_ptr to this call until it returns.
  cv_.notify_all();
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
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return remaining_ == 0; });
  std::vector<Result<ResponsePtr>> out;
  out.reserve(results_.size());
  for (auto& r : results_) out.push_back(std::move(*r));
  return out;
}

void PendingBatch::Complete(size_t i, Result<ResponsePtr> r) {
  bool last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    results_[i].emplace(std::move(r));
    last = --remaining_ == 0;
  }
  // Safe after unlocking: Wait() holds a shared_ptr to this batch.
  if (last) cv_.notify_all();
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
