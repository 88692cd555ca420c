#include "shovel/version.h"

namespace shovel {

std::string Version() { return SHOVEL_VERSION; }

}  // namespace shovel
