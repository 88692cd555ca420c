// Small helpers shared by the Consul integration tests: bounded polling and
// elapsed-time measurement. Header-only; thread-compatible.
#pragma once

#include <chrono>
#include <thread>

namespace shovel::consul::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Polls pred every 20 ms until it holds or `limit` passes; returns the last value.
template <typename Pred>
bool Eventually(Pred pred, milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace shovel::consul::testing
