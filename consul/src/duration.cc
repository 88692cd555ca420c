#include "shovel/consul/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace shovel::consul {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("duration '" + std::string(text) +
                                   "' is not valid; use e.g. 500ms, 10s, 1m, 1m30s, 2h");
  };
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return bad();
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (i == start) return bad();
    std::string number(text.substr(start, i - start));
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return bad();
    double unit_ms = 0;
    if (text.substr(i).starts_with("ms")) {
      unit_ms = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 'h') {
      unit_ms = 3600e3;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit_ms = 60e3;
      ++i;
    } else if (i < text.size() && text[i] == 's') {
      unit_ms = 1e3;
      ++i;
    } else {
      return bad();
    }
    total_ms += value * unit_ms;
  }
  if (!std::isfinite(total_ms) || total_ms > 1e15) return bad();
  return std::chrono::milliseconds(std::llround(total_ms));
}

}  // namespace shovel::consul
