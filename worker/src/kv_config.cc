#include "shovel/worker/kv_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "shovel/size.h"

namespace shovel::worker {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status Bad(std::string_view, std::string_view, const std::string& why) {
  return Status::InvalidArgument(why);
}

// ParseSetting without the "KEY = 'VALUE': " in front of the reason.
Status ParseValue(std::string_view key, std::string_view value, ConfigOverrides& out);

}  // namespace

const std::vector<std::string>& ConfigKeys() {
  static const std::vector<std::string> kKeys = {
      "max-memory",    "compression-level", "chunk-size", "eviction",
      "handover-rate", "decoded-cache",     "replicas"};
  return kKeys;
}

std::string ClusterConfigPrefix(std::string_view prefix) {
  return std::string(prefix) + "/config/";
}

std::string NodeConfigPrefix(std::string_view node_id, std::string_view prefix) {
  return std::string(prefix) + "/nodes/" + std::string(node_id) + "/config/";
}

Result<bool> ParseBool(std::string_view text) {
  std::string v = Lower(Trim(text));
  if (v == "on" || v == "true" || v == "yes" || v == "1") return true;
  if (v == "off" || v == "false" || v == "no" || v == "0") return false;
  return Status::InvalidArgument("'" + std::string(text) +
                                 "' is not on/off (use on, off, true, false, yes, no, "
                                 "1 or 0)");
}

Result<int64_t> ParseInt(std::string_view text) {
  std::string_view t = Trim(text);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a whole number");
  }
  return v;
}

Status ParseSetting(std::string_view key, std::string_view value, ConfigOverrides& out) {
  Status s = ParseValue(key, value, out);
  if (s.ok() || !IsConfigKey(key)) return s;
  return Status::InvalidArgument(std::string(key) + " = '" + std::string(value) +
                                 "': " + s.message());
}

bool IsConfigKey(std::string_view key) {
  const auto& keys = ConfigKeys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

namespace {

Status ParseValue(std::string_view key, std::string_view value, ConfigOverrides& out) {
  if (key == "max-memory") {
    auto v = ParseSize(Trim(value));
    if (!v.ok()) return Bad(key, value, v.status().message());
    if (*v < (1u << 20)) return Bad(key, value, "max-memory must be at least 1 MiB");
    out.max_memory = *v;
    return Status::Ok();
  }
  if (key == "compression-level") {
    auto v = ParseInt(value);
    if (!v.ok()) return Bad(key, value, v.status().message());
    if (*v < 0 || *v > 19) {
      return Bad(key, value, "compression-level must be 0 (raw) to 19");
    }
    out.compression_level = static_cast<int>(*v);
    return Status::Ok();
  }
  if (key == "chunk-size") {
    auto v = ParseSize(Trim(value));
    if (!v.ok()) return Bad(key, value, v.status().message());
    if (*v < (4u << 10) || *v > (64u << 20)) {
      return Bad(key, value, "chunk-size must be between 4 KiB and 64 MiB");
    }
    out.chunk_size = *v;
    return Status::Ok();
  }
  if (key == "eviction") {
    auto v = ParseBool(value);
    if (!v.ok()) return Bad(key, value, v.status().message());
    out.eviction = *v;
    return Status::Ok();
  }
  if (key == "handover-rate") {
    auto v = ParseSize(Trim(value));
    if (!v.ok()) return Bad(key, value, v.status().message());
    if (*v < (1u << 20)) {
      return Bad(key, value, "handover-rate must be at least 1 MiB (per second)");
    }
    out.handover_rate = *v;
    return Status::Ok();
  }
  if (key == "decoded-cache") {
    std::string_view t = Trim(value);
    if (!t.empty() && t.back() == '%') {
      auto v = ParseInt(t.substr(0, t.size() - 1));
      if (!v.ok() || *v < 0 || *v > 50) {
        return Bad(key, value,
                   "decoded-cache must be 0% to 50% of max-memory, or a size");
      }
      out.decoded_cache_percent = static_cast<int>(*v);
      out.decoded_cache_bytes = 0;
      return Status::Ok();
    }
    auto v = ParseSize(t);
    if (!v.ok()) {
      return Bad(key, value,
                 v.status().message() + " (decoded-cache is a size or a share like 10%)");
    }
    out.decoded_cache_percent = 0;
    out.decoded_cache_bytes = *v;
    return Status::Ok();
  }
  if (key == "replicas") {
    auto v = ParseInt(value);
    if (!v.ok()) return Bad(key, value, v.status().message());
    if (*v < 1 || *v > 8) return Bad(key, value, "replicas must be 1 to 8 copies");
    out.replicas = static_cast<uint32_t>(*v);
    return Status::Ok();
  }
  std::string keys;
  for (const auto& k : ConfigKeys()) keys += (keys.empty() ? "" : ", ") + k;
  return Status::InvalidArgument("unknown config key '" + std::string(key) +
                                 "'; valid keys: " + keys);
}

}  // namespace

WorkerConfig MergeConfig(const WorkerConfig& flags, const ConfigOverrides& cluster,
                         const ConfigOverrides& node) {
  WorkerConfig c = flags;
  for (const ConfigOverrides* o : {&cluster, &node}) {
    if (o->max_memory) c.max_memory = *o->max_memory;
    if (o->compression_level) c.compression_level = *o->compression_level;
    if (o->chunk_size) c.chunk_size = *o->chunk_size;
    if (o->eviction) c.eviction = *o->eviction;
    if (o->handover_rate) c.handover_rate = *o->handover_rate;
    if (o->decoded_cache_percent) c.decoded_cache_percent = *o->decoded_cache_percent;
    if (o->decoded_cache_bytes) c.decoded_cache_bytes = *o->decoded_cache_bytes;
  }
  return c;
}

std::vector<std::string> UpdateLayer(ConfigLayer& layer,
                                     const std::map<std::string, std::string>& listing,
                                     std::string_view prefix) {
  std::vector<std::string> messages;
  std::map<std::string, std::string> good;
  for (const auto& [key, value] : listing) {
    ConfigOverrides probe;
    Status s = ParseValue(key, value, probe);
    if (s.ok()) {
      good[key] = value;
      continue;
    }
    // Keep the last good value of a key that now holds a bad one.
    if (auto it = layer.good.find(key); it != layer.good.end()) good[key] = it->second;
    auto seen = layer.raw.find(key);
    if (seen == layer.raw.end() || seen->second != value) {
      std::string keep = good.count(key) ? "keeping '" + good[key] + "'"
                                         : "using the value from the layer below";
      messages.push_back("ignoring " + std::string(prefix) + key + " = '" + value +
                         "': " + s.message() + " (" + keep + ")");
    }
  }
  layer.raw = listing;
  layer.good = std::move(good);
  layer.overrides = {};
  for (const auto& [key, value] : layer.good) {
    (void)ParseValue(key, value, layer.overrides);
  }
  return messages;
}

}  // namespace shovel::worker
