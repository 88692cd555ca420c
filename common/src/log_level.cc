// Log level names (no spdlog here: the mount-option fuzzer links this alone).
#include <string>

#include "shovel/log.h"

namespace shovel::log {

Result<Level> ParseLevel(std::string_view name) {
  if (name == "debug" || name == "trace") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  return Status::InvalidArgument("log level '" + std::string(name) +
                                 "' is not one of debug, info, warn, error, off");
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      break;
  }
  return "off";
}

}  // namespace shovel::log
