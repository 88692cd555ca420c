// The process's log: levels, timestamps and one destination (stderr, a file
// or the systemd journal), behind this small facade so that no other code
// includes the logging library (spdlog, from Debian).
//
// The log is process-wide, as syslog(3) is: a binary's main() calls Setup()
// once after parsing its flags. Until then (and in programs that never call
// it: shovelctl, the C and Python bindings) only errors are written, to
// stderr as "shovel: MESSAGE" with no timestamp: a library in someone
// else's program adds no warnings to its output (the caller gets a Status).
//
// Thread-safe: Write, Enabled and Limiter may be called from any thread;
// Setup may run while other threads write (a line goes to the old or the new
// destination, never nowhere). Enabled() is one relaxed load, so a disabled
// level costs nothing on a hot path; Write itself takes the sink's lock and
// is for events, not for every request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shovel/status.h"

namespace shovel::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// "debug", "info", "warn" (or "warning"), "error", "off"; kInvalidArgument
// names the accepted words.
Result<Level> ParseLevel(std::string_view name);
std::string_view LevelName(Level level);

enum class Sink { kStderr, kFile, kJournal };

// Journal fields beside MESSAGE, as {"SHOVEL_NODE", "w1"}: names of upper
// case letters, digits and '_', not starting with a digit or '_'
// (journalctl SHOVEL_NODE=w1 selects them).
using Fields = std::vector<std::pair<std::string, std::string>>;

// The journal's PRIORITY (syslog's numbers) for a level: 7 debug, 6 info,
// 4 warn, 3 error.
int JournalPriority(Level level);

// One native journal entry for a line, as "NAME=value" strings: MESSAGE
// (without trailing newlines), PRIORITY, SYSLOG_IDENTIFIER, then `fixed`
// and `line` fields. A name given in `line` replaces the same name in
// `fixed`; a field with an invalid name is left out (the journal would
// refuse the whole entry). Pure: the journal sink is a thin binding over it.
std::vector<std::string> JournalEntry(Level level, std::string_view message,
                                      std::string_view identifier, const Fields& fixed,
                                      const Fields& line);

struct Options {
  std::string program;  // "shovel-worker": on every line (the journal's identifier)
  Level level = Level::kInfo;
  Sink sink = Sink::kStderr;
  std::string file;  // Sink::kFile: appended to, created 0644 if missing
  // Sink::kJournal: fields sent with every entry beside MESSAGE, PRIORITY
  // and SYSLOG_IDENTIFIER, as {"SHOVEL_MOUNTPOINT", "/mnt/x"}.
  Fields journal_fields;
};

// Sends every later line to `options`' destination, at its level or above.
// kUnavailable when the file cannot be opened (the message names it and the
// cause) or the journal is not there; the previous destination then stays.
Status Setup(const Options& options);

// True when this build can write to the journal and a journal is running
// (/run/systemd/journal/socket exists).
bool JournalAvailable();

// True when stderr is the journal's stdout stream: $JOURNAL_STREAM (which
// systemd sets for a unit's process) names stderr's device and inode, as
// systemd.exec(5) says to check; a child whose stderr was sent elsewhere
// inherits the variable but not the match. Such a process should log with
// Sink::kJournal (levels become PRIORITY=) rather than text on stderr.
bool StderrIsJournal();

// True while lines go to stderr (before Setup, or Setup with kStderr).
bool WritesToStderr();

bool Enabled(Level level);
void Write(Level level, std::string_view message);
// A line with fields of its own besides Options::journal_fields, as the
// embedded worker's {"SHOVEL_NODE", id} in shovelfs's log. Only the journal
// keeps them: a file or stderr gets the message alone, so it should name
// its source in words too.
void Write(Level level, std::string_view message, const Fields& fields);
inline void Debug(std::string_view m) { Write(Level::kDebug, m); }
inline void Info(std::string_view m) { Write(Level::kInfo, m); }
inline void Warn(std::string_view m) { Write(Level::kWarn, m); }
inline void Error(std::string_view m) { Write(Level::kError, m); }
// Where a component reports an event, with its level: components take one
// rather than writing here, so that their owner adds context (a node id) and
// tests capture the lines. Called from any thread.
using LogFn = std::function<void(Level, const std::string&)>;
// Writes out what is buffered (every line is flushed as it is written, so
// a crash loses none: log lines are events, not one per request).
void Flush();

// At most one line per key per interval: "worker X is down" once a minute
// per worker. Thread-safe (a mutex: for error paths, not the request path).
// Remembers at most kMaxKeys keys; the oldest are forgotten past it.
class Limiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxKeys = 4096;
  explicit Limiter(Clock::duration every) : every_(every) {}

  // When `key` may be logged at `now`: the number of times it was held back
  // since its last line (0 the first time). nullopt: hold this one back.
  std::optional<uint64_t> Allow(const std::string& key,
                                Clock::time_point now = Clock::now());

 private:
  struct Entry {
    Clock::time_point last;
    uint64_t held = 0;
  };
  const Clock::duration every_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> keys_;  // guarded by mu_
};

}  // namespace shovel::log
