#include "output.h"

#include <time.h>

#include <algorithm>

namespace shovel::cli {

void PrintLine(std::FILE* out, std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), out);
  std::fputc('\n', out);
}

void PrintTable(std::FILE* out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    PrintLine(out, line);
  }
}

std::string FormatTimeNs(int64_t ns) {
  if (ns == 0) return "-";
  int64_t secs = ns / 1'000'000'000, ms = ns % 1'000'000'000 / 1'000'000;
  if (ms < 0) secs -= 1, ms += 1000;
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[48];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03lldZ", static_cast<long long>(ms));
  return buf;
}

}  // namespace shovel::cli
