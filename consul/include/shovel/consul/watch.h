// Watch: a blocking-query loop on its own thread, following Consul's rules
// for X-Consul-Index (api-docs/features/blocking, "Implementation Details").
//
// The loop calls the query with the last index; when the returned index
// differs from the previous one it hands the result to the callback. It
// rate-limits itself (min_interval between query starts), backs off on errors
// (exponential, capped), and stops promptly: Stop() cancels the request in
// flight and joins the thread. Callbacks run on the watch thread, one at a
// time; they must not call Stop() on their own Watch. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "shovel/consul/http_transport.h"
#include "shovel/consul/types.h"
#include "shovel/status.h"

namespace shovel::consul {

// The index rules as a pure step, unit-tested.
struct IndexStep {
  uint64_t next_index = 0;  // what the next request sends as ?index=
  bool changed = false;     // whether to hand this result to the callback
};
// previous: the index sent with the request (0 on the first one).
// returned: the X-Consul-Index of the answer.
// - returned < previous: the index went backwards; reset (to 0, then the
//   sanity rule below makes it 1) so the next query answers at once and the
//   loop restarts; reported as a change;
// - the index used next is never below 1: Consul's docs say 1 is always safe
//   to wait on, and 0 would make every query return at once (a busy loop);
// - otherwise next = returned; changed when returned != previous.
IndexStep NextIndex(uint64_t previous, uint64_t returned);

struct WatchOptions {
  std::chrono::milliseconds wait{std::chrono::minutes(5)};  // per blocking query
  std::chrono::milliseconds min_interval{100};              // between query starts
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
};

class Watch {
 public:
  // Performs one read with the given options (index, wait, cancel) and
  // returns its X-Consul-Index; keeps the value it read for `on_change`.
  using Query = std::function<Result<uint64_t>(const QueryOptions&)>;
  using OnChange = std::function<void(uint64_t index)>;
  using OnError = std::function<void(const Status&)>;

  Watch(Query query, OnChange on_change, OnError on_error, WatchOptions options);
  ~Watch();  // Stop()
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  void Start();
  void Stop();  // idempotent; returns after the thread has ended

 private:
  void Run();
  // Sleeps until `until` or Stop(); returns false when stopping.
  bool SleepUntil(std::chrono::steady_clock::time_point until);

  const Query query_;
  const OnChange on_change_;
  const OnError on_error_;
  const WatchOptions options_;
  CancelToken cancel_;
  std::mutex mu_;  // guards stopping_
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// A Watch over a typed read (e.g. Client::HealthService bound to a name):
// `on_change` gets the value whenever its index changed.
template <typename T>
std::unique_ptr<Watch> MakeWatch(
    std::function<Result<Indexed<T>>(const QueryOptions&)> read,
    std::function<void(const T& value, uint64_t index)> on_change,
    Watch::OnError on_error, WatchOptions options = {}) {
  auto last = std::make_shared<T>();
  auto query = [read = std::move(read), last](const QueryOptions& q) -> Result<uint64_t> {
    auto r = read(q);
    if (!r.ok()) return r.status();
    *last = std::move(r->value);
    return r->index;
  };
  auto changed = [on_change = std::move(on_change), last](uint64_t index) {
    on_change(*last, index);
  };
  return std::make_unique<Watch>(std::move(query), std::move(changed),
                                 std::move(on_error), options);
}

}  // namespace shovel::consul
