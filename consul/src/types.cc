#include "shovel/consul/types.h"

#include <string>

namespace shovel::consul {

std::string_view CheckStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPassing:
      return "passing";
    case CheckStatus::kWarning:
      return "warning";
    case CheckStatus::kCritical:
      return "critical";
    case CheckStatus::kMaintenance:
      return "maintenance";
  }
  return "critical";
}

Result<CheckStatus> ParseCheckStatus(std::string_view name) {
  if (name == "passing") return CheckStatus::kPassing;
  if (name == "warning") return CheckStatus::kWarning;
  if (name == "critical") return CheckStatus::kCritical;
  if (name == "maintenance") return CheckStatus::kMaintenance;
  return Status::Protocol("unknown check status '" + std::string(name) +
                          "' (expected passing, warning, critical or maintenance)");
}

}  // namespace shovel::consul
