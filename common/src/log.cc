#include "shovel/log.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#ifdef SHOVEL_HAVE_JOURNAL
#include <spdlog/sinks/base_sink.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#endif

namespace shovel::log {
namespace {

constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

spdlog::level::level_enum ToSpd(Level l) {
  switch (l) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      break;
  }
  return spdlog::level::off;
}

// Fields of the line being written on this thread (Write with fields):
// spdlog calls the sink on the writer's thread, under the logger.
thread_local const Fields* tls_line_fields = nullptr;

#ifdef SHOVEL_HAVE_JOURNAL
// One journal entry per line through the native protocol (sd_journal_sendv),
// as JournalEntry makes it. spdlog's own systemd sink takes no extra fields.
class JournalSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  JournalSink(std::string identifier, Fields fields)
      : identifier_(std::move(identifier)), fixed_(std::move(fields)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t text;
    formatter_->format(msg, text);
    static const Fields kNone;
    std::vector<std::string> entry =
        JournalEntry(FromSpd(msg.level), std::string_view(text.data(), text.size()),
                     identifier_, fixed_, tls_line_fields ? *tls_line_fields : kNone);
    std::vector<iovec> iov;
    iov.reserve(entry.size());
    for (std::string& f : entry) iov.push_back({f.data(), f.size()});
    // A journal that went away loses the line, as a full disk does.
    (void)sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  }
  void flush_() override {}

 private:
  static Level FromSpd(spdlog::level::level_enum l) {
    switch (l) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        return Level::kDebug;
      case spdlog::level::info:
        return Level::kInfo;
      case spdlog::level::warn:
        return Level::kWarn;
      default:
        return Level::kError;
    }
  }
  const std::string identifier_;
  const Fields fixed_;  // sent with every entry
};
#endif

// The process's loggers. `current` is what Write uses; every logger ever
// set up stays alive in `all` (a handful per process), so a thread that
// loaded the old pointer finishes its line safely.
struct State {
  std::mutex mu;
  std::vector<std::shared_ptr<spdlog::logger>> all;  // guarded by mu
  std::atomic<spdlog::logger*> current{nullptr};
  std::atomic<bool> to_stderr{true};

  State() {
    auto l = std::make_shared<spdlog::logger>(
        "shovel", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%n: %v");  // what the binaries printed before Setup existed
    // A library in someone else's program (shovelctl, Python, C) adds no
    // warnings to its stderr: the caller gets each error as a Status.
    l->set_level(spdlog::level::err);
    l->flush_on(spdlog::level::trace);
    all.push_back(l);
    current.store(l.get());
  }
};

State& S() {
  static State* state = new State;  // never destroyed: threads may log at exit
  return *state;
}

}  // namespace

bool JournalAvailable() {
#ifdef SHOVEL_HAVE_JOURNAL
  struct stat st;
  return stat(kJournalSocket, &st) == 0 && S_ISSOCK(st.st_mode);
#else
  return false;
#endif
}

Status Setup(const Options& options) {
  spdlog::sink_ptr sink;
  std::string pattern = "%Y-%m-%dT%H:%M:%S.%e%z %l %n[%P]: %v";
  try {
    switch (options.sink) {
      case Sink::kStderr:
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        break;
      case Sink::kFile:
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
        break;
      case Sink::kJournal:
#ifdef SHOVEL_HAVE_JOURNAL
        if (!JournalAvailable()) {
          return Status::Unavailable(std::string("no systemd journal (") +
                                     kJournalSocket + " is missing); give a log file");
        }
        sink = std::make_shared<JournalSink>(
            options.program.empty() ? std::string("shovel") : options.program,
            options.journal_fields);
        pattern = "%v";  // the journal keeps the time, level and program
        break;
#else
        return Status::Unavailable(
            "this build has no systemd journal support; give a log file");
#endif
    }
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot open log file '" + options.file +
                               "': " + e.what());
  }
  auto l = std::make_shared<spdlog::logger>(
      options.program.empty() ? std::string("shovel") : options.program, std::move(sink));
  l->set_pattern(pattern);
  l->set_level(ToSpd(options.level));
  l->flush_on(spdlog::level::trace);
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  s.all.push_back(l);
  s.current.store(l.get());
  s.to_stderr.store(options.sink == Sink::kStderr);
  return Status::Ok();
}

bool StderrIsJournal() {
  const char* e = std::getenv("JOURNAL_STREAM");
  if (e == nullptr || *e == '\0') return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(e, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st;
  if (fstat(2, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

bool WritesToStderr() { return S().to_stderr.load(); }

bool Enabled(Level level) {
  return S().current.load(std::memory_order_acquire)->should_log(ToSpd(level));
}

void Write(Level level, std::string_view message) {
  spdlog::logger* l = S().current.load(std::memory_order_acquire);
  const auto lvl = ToSpd(level);
  if (!l->should_log(lvl)) return;
  try {
    l->log(lvl, spdlog::string_view_t(message.data(), message.size()));
  } catch (...) {  // a full disk must not take the process down
  }
}

void Write(Level level, std::string_view message, const Fields& fields) {
  tls_line_fields = &fields;
  Write(level, message);
  tls_line_fields = nullptr;
}

void Flush() {
  try {
    S().current.load(std::memory_order_acquire)->flush();
  } catch (...) {
  }
}

std::optional<uint64_t> Limiter::Allow(const std::string& key, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  if (it != keys_.end()) {
    if (now - it->second.last < every_) {
      ++it->second.held;
      return std::nullopt;
    }
    const uint64_t held = it->second.held;
    it->second = Entry{now, 0};
    return held;
  }
  if (keys_.size() >= kMaxKeys) {
    for (auto i = keys_.begin(); i != keys_.end();) {
      i = now - i->second.last >= every_ ? keys_.erase(i) : std::next(i);
    }
    if (keys_.size() >= kMaxKeys) keys_.erase(keys_.begin());
  }
  keys_.emplace(key, Entry{now, 0});
  return 0;
}

}  // namespace shovel::log
