// Test equipment: runs a program (shovelctl by default) as a child process
// with arguments and stdin, and collects its exit code, stdout and stderr.
// Bounded to 60 s (then killed by pid). Thread-compatible.
#pragma once

#include <string>
#include <vector>

namespace shovel {

struct CtlRun {
  int code = -1;
  std::string out, err;
};

// Runs `bin` with `args`, feeding `input` on stdin.
CtlRun RunProgram(const std::string& bin, const std::vector<std::string>& args,
                  const std::string& input = "");
// Runs shovelctl (SHOVELCTL_BIN) with `args`.
CtlRun Ctl(const std::vector<std::string>& args, const std::string& input = "");

}  // namespace shovel
