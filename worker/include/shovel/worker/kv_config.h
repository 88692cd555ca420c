// Live worker configuration from Consul KV: the key names, the value parsers
// and the merge of the layers (flags < cluster-wide keys < per-worker keys).
//
// Keys live under a prefix (default "shoveling"):
//   <prefix>/config/<key>                    cluster-wide
//   <prefix>/nodes/<node-id>/config/<key>    override for one worker
// with <key> one of max-memory, compression-level, chunk-size, eviction,
// handover-rate, decoded-cache, replicas. `replicas` is read by clients, not by workers
// (only its cluster-wide key counts).
// shovel-worker applies them live; shovelctl validates with the same parsers
// before it writes. Pure functions and plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/status.h"
#include "shovel/worker/config.h"

namespace shovel::worker {

inline constexpr std::string_view kDefaultKvPrefix = "shoveling";

// The keys, in the order they are listed to users.
const std::vector<std::string>& ConfigKeys();

// "<prefix>/config/" and "<prefix>/nodes/<node_id>/config/".
std::string ClusterConfigPrefix(std::string_view prefix = kDefaultKvPrefix);
std::string NodeConfigPrefix(std::string_view node_id,
                             std::string_view prefix = kDefaultKvPrefix);

// Values set by one layer; an unset field falls through to the layer below.
struct ConfigOverrides {
  std::optional<uint64_t> max_memory;
  std::optional<int> compression_level;
  std::optional<uint64_t> chunk_size;
  std::optional<bool> eviction;
  std::optional<uint64_t> handover_rate;
  // decoded-cache: "N%" of max-memory, or a size (0: off); both set at once.
  std::optional<int> decoded_cache_percent;
  std::optional<uint64_t> decoded_cache_bytes;
  std::optional<uint32_t> replicas;  // for clients; MergeConfig ignores it
};

// "on/off/true/false/yes/no/1/0" (any case). kInvalidArgument otherwise.
Result<bool> ParseBool(std::string_view text);
// A whole decimal integer, surrounding spaces allowed. kInvalidArgument.
Result<int64_t> ParseInt(std::string_view text);

// Whether `key` is one of ConfigKeys().
bool IsConfigKey(std::string_view key);

// Parses `value` for `key` and stores it in `out`. Errors (kInvalidArgument)
// name the key, the value and what is accepted: an unknown key lists the
// valid ones; ranges are those of ValidateConfig (max-memory >= 1 MiB,
// compression-level 0..19, chunk-size 4 KiB..64 MiB, handover-rate >= 1 MiB
// (per second), decoded-cache 0%..50% or a size, replicas 1..8).
Status ParseSetting(std::string_view key, std::string_view value, ConfigOverrides& out);

// flags < cluster < node.
WorkerConfig MergeConfig(const WorkerConfig& flags, const ConfigOverrides& cluster,
                         const ConfigOverrides& node);

// One KV layer as the worker tracks it across updates: the raw values last
// seen (so a bad value is reported once, not on every wake-up) and the last
// good value of each key (kept while the key holds a bad value).
struct ConfigLayer {
  std::map<std::string, std::string> raw;   // key (without prefix) -> value
  std::map<std::string, std::string> good;  // key -> last value that parsed
  ConfigOverrides overrides;                // parsed from `good`
};

// Folds a new listing of a layer (key without prefix -> value) into `layer`.
// A key that is gone falls through to the layer below; a key with a bad
// value keeps its last good value. Returns one message per key that became
// bad or unknown since the last update, naming the full key (`prefix` +
// key), the value and the reason.
std::vector<std::string> UpdateLayer(ConfigLayer& layer,
                                     const std::map<std::string, std::string>& listing,
                                     std::string_view prefix);

}  // namespace shovel::worker
