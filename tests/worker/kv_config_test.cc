// The worker's Consul config parsers, layer merge and flag resolution (pure).
#include "shovel/worker/kv_config.h"

#include <gtest/gtest.h>

#include "shovel/worker/consul_setup.h"

namespace shovel::worker {
namespace {

TEST(KvConfig, ParsesEveryKey) {
  ConfigOverrides o;
  ASSERT_TRUE(ParseSetting("max-memory", "512MiB", o).ok());
  EXPECT_EQ(*o.max_memory, 512ull << 20);
  ASSERT_TRUE(ParseSetting("compression-level", " 3 ", o).ok());
  EXPECT_EQ(*o.compression_level, 3);
  ASSERT_TRUE(ParseSetting("chunk-size", "64KiB", o).ok());
  EXPECT_EQ(*o.chunk_size, 64u << 10);
  ASSERT_TRUE(ParseSetting("eviction", "OFF", o).ok());
  EXPECT_FALSE(*o.eviction);
  for (const char* on : {"on", "true", "yes", "1", "True"}) {
    ASSERT_TRUE(ParseSetting("eviction", on, o).ok()) << on;
    EXPECT_TRUE(*o.eviction) << on;
  }
  ASSERT_TRUE(ParseSetting("handover-rate", "64MiB", o).ok());
  EXPECT_EQ(*o.handover_rate, 64ull << 20);
  ASSERT_TRUE(ParseSetting("replicas", "2", o).ok());
  EXPECT_EQ(*o.replicas, 2u);
  ASSERT_TRUE(ParseSetting("decoded-cache", " 25% ", o).ok());
  EXPECT_EQ(*o.decoded_cache_percent, 25);
  EXPECT_EQ(*o.decoded_cache_bytes, 0u);
  ASSERT_TRUE(ParseSetting("decoded-cache", "256MiB", o).ok());
  EXPECT_EQ(*o.decoded_cache_percent, 0);
  EXPECT_EQ(*o.decoded_cache_bytes, 256u << 20);
}

TEST(KvConfig, DecodedCacheIsAShareOrASizeAndAtMostHalfTheLimit) {
  ConfigOverrides o;
  EXPECT_EQ(ParseSetting("decoded-cache", "60%", o).message(),
            "decoded-cache = '60%': decoded-cache must be 0% to 50% of max-memory, or a "
            "size");
  EXPECT_FALSE(o.decoded_cache_percent.has_value());
  WorkerConfig c;
  c.max_memory = 1ull << 30;
  EXPECT_EQ(DecodedCacheCapacity(c), (1ull << 30) / 10);  // the default, 10%
  ConfigOverrides node;
  ASSERT_TRUE(ParseSetting("decoded-cache", "0", node).ok());
  EXPECT_EQ(DecodedCacheCapacity(MergeConfig(c, {}, node)), 0u);
  ASSERT_TRUE(ParseSetting("decoded-cache", "4GiB", node).ok());
  EXPECT_EQ(DecodedCacheCapacity(MergeConfig(c, {}, node)), 512u << 20);
}

TEST(KvConfig, BadValuesNameKeyValueAndRule) {
  ConfigOverrides o;
  Status s = ParseSetting("max-memory", "lots", o);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("max-memory = 'lots': size 'lots' is not a byte count", 0),
            0u)
      << s.message();
  EXPECT_EQ(ParseSetting("max-memory", "512KiB", o).message(),
            "max-memory = '512KiB': max-memory must be at least 1 MiB");
  EXPECT_EQ(ParseSetting("compression-level", "20", o).message(),
            "compression-level = '20': compression-level must be 0 (raw) to 19");
  EXPECT_EQ(ParseSetting("compression-level", "3x", o).message(),
            "compression-level = '3x': '3x' is not a whole number");
  EXPECT_EQ(ParseSetting("chunk-size", "1KiB", o).message(),
            "chunk-size = '1KiB': chunk-size must be between 4 KiB and 64 MiB");
  EXPECT_EQ(ParseSetting("eviction", "maybe", o).message(),
            "eviction = 'maybe': 'maybe' is not on/off (use on, off, true, false, yes, "
            "no, 1 or 0)");
  EXPECT_EQ(ParseSetting("max-mem", "1GiB", o).message(),
            "unknown config key 'max-mem'; valid keys: max-memory, compression-level, "
            "chunk-size, eviction, handover-rate, decoded-cache, replicas");
  EXPECT_EQ(ParseSetting("replicas", "9", o).message(),
            "replicas = '9': replicas must be 1 to 8 copies");
  EXPECT_EQ(ParseSetting("replicas", "two", o).message(),
            "replicas = 'two': 'two' is not a whole number");
  EXPECT_EQ(
      ParseSetting("handover-rate", "100KiB", o).message(),
      "handover-rate = '100KiB': handover-rate must be at least 1 MiB (per second)");
  EXPECT_FALSE(o.replicas.has_value());
  EXPECT_FALSE(o.max_memory.has_value());  // nothing bad was stored
  EXPECT_FALSE(o.compression_level.has_value());
}

TEST(KvConfig, PrefixesAndKeys) {
  EXPECT_EQ(ClusterConfigPrefix(), "shoveling/config/");
  EXPECT_EQ(NodeConfigPrefix("w1"), "shoveling/nodes/w1/config/");
  EXPECT_EQ(NodeConfigPrefix("w1", "x"), "x/nodes/w1/config/");
  EXPECT_TRUE(IsConfigKey("eviction"));
  EXPECT_FALSE(IsConfigKey("evict"));
}

TEST(KvConfig, MergeFlagsClusterNode) {
  WorkerConfig flags{1ull << 30, 1, 4ull << 20, true};
  ConfigOverrides cluster, node;
  cluster.max_memory = 256ull << 20;
  cluster.compression_level = 5;
  node.compression_level = 0;
  node.eviction = false;
  WorkerConfig c = MergeConfig(flags, cluster, node);
  EXPECT_EQ(c.max_memory, 256ull << 20);  // cluster over flags
  EXPECT_EQ(c.compression_level, 0);      // node over cluster
  EXPECT_EQ(c.chunk_size, 4ull << 20);    // flags when nobody sets it
  EXPECT_FALSE(c.eviction);
  EXPECT_EQ(c.handover_rate, 128ull << 20);  // the default
  cluster.handover_rate = 32ull << 20;
  EXPECT_EQ(MergeConfig(flags, cluster, node).handover_rate, 32ull << 20);
}

TEST(KvConfig, LayerKeepsLastGoodValueAndReportsOnce) {
  ConfigLayer layer;
  auto m = UpdateLayer(layer, {{"max-memory", "64MiB"}}, "p/config/");
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(*layer.overrides.max_memory, 64ull << 20);
  m = UpdateLayer(layer, {{"max-memory", "lots"}}, "p/config/");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].rfind("ignoring p/config/max-memory = 'lots': size 'lots'", 0), 0u)
      << m[0];
  EXPECT_NE(m[0].find("(keeping '64MiB')"), std::string::npos) << m[0];
  EXPECT_EQ(*layer.overrides.max_memory, 64ull << 20);
  // The same bad value again (another key changed): not reported again.
  m = UpdateLayer(layer, {{"max-memory", "lots"}, {"eviction", "off"}}, "p/config/");
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(*layer.overrides.max_memory, 64ull << 20);
  EXPECT_FALSE(*layer.overrides.eviction);
  // Fixed, then deleted: falls through to the layer below.
  m = UpdateLayer(layer, {{"max-memory", "128MiB"}}, "p/config/");
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(*layer.overrides.max_memory, 128ull << 20);
  EXPECT_FALSE(layer.overrides.eviction.has_value());
  UpdateLayer(layer, {}, "p/config/");
  EXPECT_FALSE(layer.overrides.max_memory.has_value());
}

TEST(KvConfig, BadValueWithoutHistoryAndUnknownKey) {
  ConfigLayer layer;
  auto m = UpdateLayer(layer, {{"chunk-size", "huge"}, {"colour", "red"}}, "p/");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_NE(m[0].find("p/chunk-size = 'huge'"), std::string::npos) << m[0];
  EXPECT_NE(m[0].find("using the value from the layer below"), std::string::npos);
  EXPECT_NE(m[1].find("unknown config key 'colour'"), std::string::npos) << m[1];
  EXPECT_FALSE(layer.overrides.chunk_size.has_value());
}

consul::Config::Getenv Env(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConsulFlags, OffUnlessAskedEvenWithTheEnvironment) {
  auto s = ResolveConsulFlags({}, Env({{"CONSUL_HTTP_ADDR", "127.0.0.1:8500"}}));
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->enabled);
  EXPECT_NE(s->hint.find("pass --consul env"), std::string::npos);
  s = ResolveConsulFlags({}, Env({}));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->hint.empty());
}

TEST(ConsulFlags, ExplicitAddressEnvAndDurations) {
  ConsulFlags f;
  f.consul = "http://127.0.0.1:9500";
  f.ttl = "2s";
  auto s = ResolveConsulFlags(
      f, Env({{"CONSUL_HTTP_ADDR", "bad address"}, {"CONSUL_HTTP_TOKEN", "tok"}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->enabled);
  EXPECT_EQ(s->config.address, "http://127.0.0.1:9500");
  EXPECT_EQ(s->config.token, "tok");
  EXPECT_EQ(s->ttl.count(), 2000);
  EXPECT_EQ(s->heartbeat.count(), 666);
  EXPECT_EQ(s->deregister_after.count(), 60000);

  f.consul = "env";
  s = ResolveConsulFlags(f, Env({{"CONSUL_HTTP_ADDR", "10.1.2.3:8500"}}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->config.address, "10.1.2.3:8500");
  EXPECT_EQ(ResolveConsulFlags(f, Env({})).status().message(),
            "--consul env: CONSUL_HTTP_ADDR is not set");
}

TEST(ConsulFlags, BadValuesNameTheFlag) {
  ConsulFlags f;
  f.consul = "127.0.0.1:8500";
  f.ttl = "soon";
  EXPECT_EQ(ResolveConsulFlags(f, Env({})).status().message().rfind("--consul-ttl: ", 0),
            0u);
  f.ttl = "2s";
  f.heartbeat = "3s";
  EXPECT_EQ(ResolveConsulFlags(f, Env({})).status().message(),
            "--consul-heartbeat must be positive and shorter than --consul-ttl");
  f.heartbeat = "";
  f.consul = "ftp://x";
  EXPECT_EQ(ResolveConsulFlags(f, Env({})).status().message().rfind("--consul: ", 0), 0u);
}

TEST(ConsulFlags, AdvertisedAddress) {
  EXPECT_EQ(DefaultAdvertiseHost("tcp://127.0.0.1:7070", "h"), "127.0.0.1");
  EXPECT_EQ(DefaultAdvertiseHost("tcp://0.0.0.0:7070", "node-1"), "node-1");
  EXPECT_EQ(DefaultAdvertiseHost("tcp://*:7070", "node-1"), "node-1");
  EXPECT_EQ(DefaultAdvertiseHost("tcp://[::]:7070", "node-1"), "node-1");
  EXPECT_EQ(DefaultAdvertiseHost("tcp://[fd00::2]:7070", "h"), "fd00::2");
  EXPECT_EQ(EndpointPort("tcp://0.0.0.0:7070"), 7070);
  EXPECT_EQ(EndpointPort("tcp://host"), 0);
}

}  // namespace
}  // namespace shovel::worker
