// Output helpers shared by the command bodies: one line, or an aligned table
// for people. Stateless; thread-compatible (callers own the FILE*).
#pragma once

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

}  // namespace shovel::cli
