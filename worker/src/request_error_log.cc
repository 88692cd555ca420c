#include "request_error_log.h"

#include <optional>
#include <string>

namespace shovel::worker {

namespace {
constexpr std::chrono::seconds kWindow{1};
}  // namespace

RequestErrorLog::RequestErrorLog(log::LogFn log)
    : log_(std::move(log)),
      limiters_{RateLimiter(kPerSecond, kWindow), RateLimiter(kPerSecond, kWindow),
                RateLimiter(kPerSecond, kWindow), RateLimiter(kPerSecond, kWindow)} {}

bool RequestErrorLog::Logged(Code code) {
  return code == Code::kInternal || code == Code::kCorruption ||
         code == Code::kProtocol || code == Code::kNoSpace;
}

void RequestErrorLog::Report(std::string_view op, std::string_view id,
                             const Status& status, Clock::time_point now) {
  if (!log_ || !Logged(status.code())) return;
  Kind kind = kNoSpace;
  log::Level level = log::Level::kWarn;
  switch (status.code()) {
    case Code::kInternal:
      kind = kInternal;
      level = log::Level::kError;
      break;
    case Code::kCorruption:
      kind = kCorruption;
      level = log::Level::kError;
      break;
    case Code::kProtocol:
      kind = kProtocol;
      break;
    default:
      break;
  }
  std::optional<uint64_t> held;
  {
    std::lock_guard<std::mutex> l(mu_);
    held = limiters_[kind].Allow(now);
  }
  if (!held) return;
  std::string line = kind == kProtocol ? "malformed request" : std::string(op);
  if (kind == kProtocol && !op.empty()) line += " (" + std::string(op) + ")";
  if (!id.empty()) line += " '" + std::string(id) + "'";
  line += " failed: " + status.ToString();
  if (*held > 0) line += "; " + std::to_string(*held) + " similar suppressed";
  log_(level, line);
}

void RequestErrorLog::Flush(Clock::time_point now) {
  if (!log_) return;
  std::array<uint64_t, kKinds> held{};
  {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t k = 0; k < kKinds; ++k) held[k] = limiters_[k].Flush(now);
  }
  static constexpr const char* kWhat[kKinds] = {"internal errors", "corruption errors",
                                                "malformed requests", "no-space errors"};
  for (size_t k = 0; k < kKinds; ++k) {
    if (held[k] == 0) continue;
    log_(k == kInternal || k == kCorruption ? log::Level::kError : log::Level::kWarn,
         std::to_string(held[k]) + " similar " + kWhat[k] + " suppressed");
  }
}

}  // namespace shovel::worker
