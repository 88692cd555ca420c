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

std::vector<Result<ResponsePtr>> Transport::CallMany(
    const std::vector<std::pair<std::string, OutRequest>>& requests) {
  std::vector<std::shared_ptr<PendingCall>> calls;
  calls.reserve(requests.size());
  for (const auto& [endpoint, req] : requests) calls.push_back(Start(endpoint, req));
  std::vector<Result<ResponsePtr>> out;
  out.reserve(calls.size());
  for (auto& c : calls) out.push_back(c->Wait());
  return out;
}

}  // namespace shovel::client
