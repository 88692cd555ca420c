// The project's version, as CMake's project(VERSION) gives it ("0.1.0"):
// what every binary prints for --version. Thread-safe.
#pragma once

#include <string>

namespace shovel {

std::string Version();

}  // namespace shovel
