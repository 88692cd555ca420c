#include "down_endpoints.h"

#include <algorithm>

namespace shovel::client {

DownEndpoints::Clock::time_point DownEndpoints::ConnectBy(const std::string& endpoint,
                                                          Clock::time_point start,
                                                          Clock::time_point until) {
  if (count_.load(std::memory_order_relaxed) == 0) return until;
  std::lock_guard<std::mutex> lock(mu_);
  if (!down_.count(endpoint)) return until;
  return std::min(until, start + kRecheck);
}

void DownEndpoints::LogDown(const std::string& endpoint, const std::string& cause) {
  if (!log::Enabled(log::Level::kWarn)) return;
  std::optional<uint64_t> held = down_log_.Allow(endpoint);
  if (!held) return;
  log::Warn(
      "worker " + endpoint + " is down: " + cause +
      "; requests for the ids it holds fail or go to a replica until it answers" +
      (*held ? " (" + std::to_string(*held) + " more times since the last line)" : ""));
}

Status DownEndpoints::NoConnection(const std::string& endpoint, Clock::duration waited,
                                   std::chrono::milliseconds deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited);
  std::string text = "cannot reach worker " + endpoint + " (no connection within ";
  std::unique_lock<std::mutex> lock(mu_);
  auto [it, added] = down_.emplace(endpoint, deadline.count());
  if (added) count_.store(down_.size(), std::memory_order_relaxed);
  if (added) {
    lock.unlock();
    LogDown(endpoint, "no connection within " + std::to_string(deadline.count()) + " ms");
    return Status::Unavailable(text + std::to_string(deadline.count()) + " ms)");
  }
  if (ms >= deadline)
    return Status::Unavailable(text + std::to_string(deadline.count()) + " ms)");
  if (it->second == kClosed) {
    return Status::Unavailable(text + std::to_string(ms.count()) +
                               " ms, after it closed the connection)");
  }
  return Status::Unavailable(text + std::to_string(ms.count()) + " ms, nor within " +
                             std::to_string(it->second) + " ms of an earlier request)");
}

void DownEndpoints::Closed(const std::string& endpoint) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!down_.emplace(endpoint, kClosed).second) return;
    count_.store(down_.size(), std::memory_order_relaxed);
  }
  LogDown(endpoint, "it closed the connection with requests in flight");
}

void DownEndpoints::Reached(const std::string& endpoint) {
  if (count_.load(std::memory_order_relaxed) == 0 &&
      failed_count_.load(std::memory_order_relaxed) == 0 &&
      refused_count_.load(std::memory_order_relaxed) == 0) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  // A reply: a handshake succeeded, so a refusal no longer stands.
  if (refused_.erase(endpoint))
    refused_count_.store(refused_.size(), std::memory_order_relaxed);
  if (down_.erase(endpoint)) count_.store(down_.size(), std::memory_order_relaxed);
  if (failed_handshakes_.erase(endpoint)) {
    failed_count_.store(failed_handshakes_.size(), std::memory_order_relaxed);
  }
}

bool DownEndpoints::HandshakeFailed(const std::string& endpoint) {
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (down_.erase(endpoint)) count_.store(down_.size(), std::memory_order_relaxed);
  auto [it, added] = failed_handshakes_.emplace(endpoint, now);
  failed_count_.store(failed_handshakes_.size(), std::memory_order_relaxed);
  if (added) return false;
  bool repeated = now - it->second < kRecheck * 4;
  it->second = now;
  return repeated;
}

bool DownEndpoints::IsDown(const std::string& endpoint) {
  if (count_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return down_.count(endpoint) > 0;
}

void DownEndpoints::Refused(const std::string& endpoint, const Status& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (down_.erase(endpoint)) count_.store(down_.size(), std::memory_order_relaxed);
  refused_[endpoint] = {error, Clock::now() + kRecheck};
  refused_count_.store(refused_.size(), std::memory_order_relaxed);
}

void DownEndpoints::KeyChanged(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  if (refused_.erase(endpoint))
    refused_count_.store(refused_.size(), std::memory_order_relaxed);
  // Its past handshake failures stay: the next one with the new key is a
  // verdict at once, so a list of keys is gone through one key per failed
  // handshake (clearing them made each key wait for a second failure, and
  // the I/O thread's and the callers' sockets, moving the key in turn,
  // could keep a verdict from ever coming).
}

std::optional<Status> DownEndpoints::RefusedError(const std::string& endpoint) {
  if (refused_count_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refused_.find(endpoint);
  if (it == refused_.end()) return std::nullopt;
  if (Clock::now() < it->second.second) return it->second.first;
  refused_.erase(it);
  refused_count_.store(refused_.size(), std::memory_order_relaxed);
  return std::nullopt;
}

}  // namespace shovel::client
