// The journal entry of one log line (shovel/log.h): pure, no systemd and no
// spdlog here, so that it is unit-tested without a journal.
#include <string>

#include "shovel/log.h"

namespace shovel::log {
namespace {

// What sd_journal_sendv accepts as a field name (journal-fields(7)); the
// leading '_' is for fields the journal adds itself. Not one JournalEntry
// sets itself.
bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '_' ||
      (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  // The three every entry has: a second value would make a list of them.
  return name != "MESSAGE" && name != "PRIORITY" && name != "SYSLOG_IDENTIFIER";
}

bool Named(const Fields& fields, std::string_view name) {
  for (const auto& f : fields) {
    if (f.first == name) return true;
  }
  return false;
}

}  // namespace

int JournalPriority(Level level) {
  switch (level) {
    case Level::kDebug:
      return 7;
    case Level::kInfo:
      return 6;
    case Level::kWarn:
      return 4;
    case Level::kError:
    case Level::kOff:
      break;
  }
  return 3;
}

std::vector<std::string> JournalEntry(Level level, std::string_view message,
                                      std::string_view identifier, const Fields& fixed,
                                      const Fields& line) {
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.remove_suffix(1);
  }
  std::vector<std::string> entry;
  entry.reserve(3 + fixed.size() + line.size());
  entry.push_back("MESSAGE=" + std::string(message));
  entry.push_back("PRIORITY=" + std::to_string(JournalPriority(level)));
  entry.push_back("SYSLOG_IDENTIFIER=" + std::string(identifier));
  for (const auto& [name, value] : fixed) {
    if (ValidName(name) && !Named(line, name)) entry.push_back(name + "=" + value);
  }
  for (const auto& [name, value] : line) {
    if (ValidName(name)) entry.push_back(name + "=" + value);
  }
  return entry;
}

}  // namespace shovel::log
