// Test equipment: runs the shovelctl binary (SHOVELCTL_BIN) as a child
// process and collects its exit code, stdout and stderr.
#pragma once

#include <string>
#include <vector>

namespace shovel {

struct CtlRun {
  int code = -1;
  std::string out, err;
};

// Runs shovelctl with `args`, feeding `input` on stdin; bounded to 60 s
// (then killed by pid). The environment is the test's.
CtlRun Ctl(const std::vector<std::string>& args, const std::string& input = "");

}  // namespace shovel
