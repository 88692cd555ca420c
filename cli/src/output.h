// Output helpers shared by the command bodies: one line, or an aligned table
// for people. Stateless; thread-compatible (callers own the FILE*).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace shovel::cli {

// Writes `s` and a newline.
void PrintLine(std::FILE* out, std::string_view s);

// Writes rows (the first is the header) as columns separated by two spaces,
// each as wide as its widest cell. `rows` must not be empty.
void PrintTable(std::FILE* out, const std::vector<std::vector<std::string>>& rows);

// A time in ns since the epoch as UTC ISO 8601 with milliseconds
// ("2026-12-03T13:05:12.345Z"); "-" for 0 (never).
std::string FormatTimeNs(int64_t ns);

}  // namespace shovel::cli
