// Key files for the security tests: key pairs made by shovelctl keygen, and
// authorized-keys files written whole.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "ctl_run.h"
#include "shovel/keys.h"

namespace shovel::test {

// shovelctl keygen FILE; returns the public key it printed ("" if none).
inline std::string Keygen(const std::string& path) {
  CtlRun r = Ctl({"keygen", path});
  EXPECT_EQ(r.code, 0) << r.err;
  if (r.out.size() != kZ85KeySize + 1) return "";
  return r.out.substr(0, kZ85KeySize);
}

// Writes `text` to `path` through a rename: a worker that reloads the file
// (SIGHUP) never reads half of it.
inline void WriteFile(const std::string& path, const std::string& text) {
  {
    std::ofstream f(path + ".tmp", std::ios::trunc);
    f << text;
  }
  std::rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace shovel::test
