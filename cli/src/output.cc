#include "output.h"

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

}  // namespace shovel::cli
