// libFuzzer target for the shovelfs command line (fs/include/shovel/fs/
// options.h). Input: the arguments, separated by NUL bytes. Besides not
// crashing: what an accepted command line sets is within the documented
// ranges (max_write 4 KiB..1 MiB, replicas 0..8, compression_level 0..19).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "shovel/fs/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::string cur;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  args.push_back(cur);
  auto cfg = shovel::fs::ParseCommandLine(args);
  if (cfg.ok()) {
    if (cfg->max_write < 4096 || cfg->max_write > (1u << 20)) __builtin_trap();
    if (cfg->replicas > 8) __builtin_trap();
    if (cfg->compression_level < 0 || cfg->compression_level > 19) __builtin_trap();
  }
  return 0;
}
