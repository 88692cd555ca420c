#include "shovel/size.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace shovel {

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "size '" + std::string(text) +
        "' is not a byte count; use a number with an optional unit: B, K/KiB, "
        "M/MiB, G/GiB, T/TiB, P/PiB (binary) or KB, MB, GB, TB, PB (decimal)");
  };
  size_t i = 0;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) return bad();
  std::string number(text.substr(0, i));
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value)) return bad();
  std::string unit;
  for (char c : text.substr(i)) {
    if (c == ' ') continue;
    unit += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  double mult;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "K" || unit == "KIB")
    mult = 1024.0;
  else if (unit == "M" || unit == "MIB")
    mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "GIB")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TIB")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "P" || unit == "PIB")
    mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
  else if (unit == "KB")
    mult = 1e3;
  else if (unit == "MB")
    mult = 1e6;
  else if (unit == "GB")
    mult = 1e9;
  else if (unit == "TB")
    mult = 1e12;
  else if (unit == "PB")
    mult = 1e15;
  else
    return bad();
  double bytes = value * mult;
  if (bytes >= 1.8e19) {
    return Status::InvalidArgument("size '" + std::string(text) + "' is too large");
  }
  return static_cast<uint64_t>(std::llround(bytes));
}

std::string FormatSize(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", (unsigned long long)bytes);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace shovel
