// DirTimes: directory mtime/ctime updates, stored by a background thread.
//
// A create, mkdir, unlink... changes its parent directory's times. Touch
// records "changed at ns"; one thread stores each pending directory's time
// (through `store`), so the change itself does not wait for that round
// trip, and a burst of changes in one directory is stored as one update
// (while one store runs, later touches collect). Pending gives a time not
// yet stored, for this mount to show at once; other mounts see it once it
// is stored (a round trip later, well inside the kernel's attribute cache).
//
// Thread-safety: every method is thread-safe; `store` runs on the thread,
// never under the lock. The destructor stores what is pending, then joins.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

namespace shovel::fs {

class DirTimes {
 public:
  using StoreFn = std::function<void(const std::string& dir, int64_t ns)>;
  explicit DirTimes(StoreFn store);
  ~DirTimes();
  DirTimes(const DirTimes&) = delete;
  DirTimes& operator=(const DirTimes&) = delete;

  void Touch(const std::string& dir, int64_t ns);
  // The time of `dir` not stored yet, or stored within the last kKeepStored
  // (a read of the directory's attributes that began before the store may
  // return the old ones), if any.
  std::optional<int64_t> Pending(const std::string& dir) const;
  static constexpr int64_t kKeepStored = 1'000'000'000;  // ns
  // Returns once everything touched before the call is stored.
  void Flush();

 private:
  void Run();

  const StoreFn store_;
  mutable std::mutex mu_;  // guards pending_, stored_recently_, stop_
  std::condition_variable wake_;
  std::condition_variable stored_;
  std::unordered_map<std::string, int64_t> pending_;
  // dir -> (time stored, steady ns when stored), kept kKeepStored.
  std::unordered_map<std::string, std::pair<int64_t, int64_t>> stored_recently_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the fields above exist
};

}  // namespace shovel::fs
