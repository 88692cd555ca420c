#include "shovel/consul/http_transport.h"

#include <algorithm>
#include <cctype>

namespace shovel::consul {

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  auto it = headers.find(lower);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

}  // namespace shovel::consul
