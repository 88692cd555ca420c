// shovelctl config get|set|rm|ls: the workers' live configuration in Consul
// KV. Keys and values are checked with the parsers the workers use
// (shovel/worker/kv_config.h) before anything is written.
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli_internal.h"
#include "output.h"
#include "shovel/consul/client.h"
#include "shovel/worker/kv_config.h"

namespace shovel::cli {
namespace {

using nlohmann::json;
namespace kv = shovel::worker;

Result<std::unique_ptr<consul::Client>> ConsulFor(const Cli& cli, bool explicit_addr) {
  auto config = consul::Config::FromEnvironment([&](const char* name) {
    const char* v = std::getenv(name);
    if (explicit_addr && std::string_view(name) == "CONSUL_HTTP_ADDR") v = nullptr;
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!config.ok()) return config.status();
  config->address = cli.ConsulAddress();
  config->timeout = std::chrono::milliseconds(cli.globals().deadline_ms);
  return consul::Client::Create(*config);
}

std::string FullKey(const ConfigArgs& a) {
  return (a.node.empty() ? kv::ClusterConfigPrefix() : kv::NodeConfigPrefix(a.node)) +
         a.key;
}

Status CheckKey(const ConfigArgs& a) {
  if (!kv::IsConfigKey(a.key)) {
    kv::ConfigOverrides probe;
    return kv::ParseSetting(a.key, "", probe);  // names the valid keys
  }
  if (a.node.find('/') != std::string::npos || a.node == "." || a.node == "..") {
    return Status::InvalidArgument("--node '" + a.node +
                                   "' is not a node id (no '/', not . or ..)");
  }
  return Status::Ok();
}

}  // namespace

int Commands::ConfigGet(Cli& cli, const ConfigArgs& a) {
  const std::string what = "config get " + a.key;
  if (Status s = CheckKey(a); !s.ok()) return cli.Fail(what, s);
  auto c = ConsulFor(cli, !cli.globals().consul.empty());
  if (!c.ok()) return cli.Fail(what, c.status());
  const std::string key = FullKey(a);
  auto r = (*c)->KvGet(key);
  if (!r.ok()) return cli.Fail(what, r.status());
  if (!r->value) {
    return cli.Fail(what, Status::NotFound(key + " is not set (" +
                                           (a.node.empty() ? "the workers' flags apply"
                                                           : "the cluster-wide value "
                                                             "applies") +
                                           ")"));
  }
  if (cli.globals().json) {
    PrintLine(cli.io_.out, json{{"key", key}, {"value", r->value->value}}.dump());
  } else {
    PrintLine(cli.io_.out, r->value->value);
  }
  return 0;
}

int Commands::ConfigSet(Cli& cli, const ConfigArgs& a) {
  const std::string what = "config set " + a.key;
  if (Status s = CheckKey(a); !s.ok()) return cli.Fail(what, s);
  kv::ConfigOverrides probe;
  if (Status s = kv::ParseSetting(a.key, a.value, probe); !s.ok()) {
    return cli.Fail(what, s);
  }
  auto c = ConsulFor(cli, !cli.globals().consul.empty());
  if (!c.ok()) return cli.Fail(what, c.status());
  const std::string key = FullKey(a);
  auto r = (*c)->KvPut(key, a.value);
  if (!r.ok()) return cli.Fail(what, r.status());
  if (cli.globals().json) {
    PrintLine(cli.io_.out, json{{"key", key}, {"value", a.value}}.dump());
  } else {
    PrintLine(cli.io_.out, key + " = " + a.value);
  }
  return 0;
}

int Commands::ConfigRemove(Cli& cli, const ConfigArgs& a) {
  const std::string what = "config rm " + a.key;
  if (Status s = CheckKey(a); !s.ok()) return cli.Fail(what, s);
  auto c = ConsulFor(cli, !cli.globals().consul.empty());
  if (!c.ok()) return cli.Fail(what, c.status());
  auto r = (*c)->KvDelete(FullKey(a));
  if (!r.ok()) return cli.Fail(what, r.status());
  return 0;
}

int Commands::ConfigList(Cli& cli, const ConfigArgs& a) {
  const std::string what = "config ls";
  if (!a.node.empty()) {
    // The node checked with any valid key.
    const ConfigArgs probe{a.node, kv::ConfigKeys().front(), ""};
    if (Status s = CheckKey(probe); !s.ok()) return cli.Fail(what, s);
  }
  auto c = ConsulFor(cli, !cli.globals().consul.empty());
  if (!c.ok()) return cli.Fail(what, c.status());
  const std::string root = std::string(kv::kDefaultKvPrefix) + "/";
  auto r = (*c)->KvList(root);
  if (!r.ok()) return cli.Fail(what, r.status());
  std::map<std::string, std::string> all;
  for (const auto& p : r->value) all[p.key] = p.value;
  auto valid = [](const std::string& key, const std::string& value) {
    kv::ConfigOverrides o;
    return kv::ParseSetting(key, value, o);
  };
  std::vector<std::vector<std::string>> rows;
  json arr = json::array();
  if (a.node.empty()) {
    // Every config key set, cluster-wide or per node; bad values flagged.
    rows.push_back({"KEY", "VALUE", "NOTE"});
    for (const auto& [key, value] : all) {
      size_t slash = key.rfind('/');
      std::string leaf = key.substr(slash + 1);
      std::string rest = key.substr(root.size());  // config/K or nodes/N/config/K
      bool cluster = rest == "config/" + leaf;
      size_t node_end =
          rest.starts_with("nodes/") ? rest.find('/', 6) : std::string::npos;
      bool node = node_end != std::string::npos && node_end > 6 &&
                  rest.substr(node_end) == "/config/" + leaf;
      if (!cluster && !node) continue;
      Status s = valid(leaf, value);
      std::string note = s.ok() ? "" : "ignored by workers: " + s.message();
      rows.push_back({key, value, note});
      arr.push_back({{"key", key}, {"value", value}, {"valid", s.ok()}});
    }
  } else {
    // What applies to one worker, and from where.
    rows.push_back({"KEY", "VALUE", "FROM"});
    for (const auto& key : kv::ConfigKeys()) {
      std::string value = "-", from = "worker flag";
      for (const std::string& full :
           {kv::NodeConfigPrefix(a.node) + key, kv::ClusterConfigPrefix() + key}) {
        auto it = all.find(full);
        if (it != all.end() && valid(key, it->second).ok()) {
          value = it->second;
          from = full;
          break;
        }
      }
      rows.push_back({key, value, from});
      arr.push_back({{"key", key},
                     {"value", value == "-" ? json(nullptr) : json(value)},
                     {"from", from}});
    }
  }
  if (cli.globals().json) {
    PrintLine(cli.io_.out, json{{"config", arr}}.dump());
  } else {
    PrintTable(cli.io_.out, rows);
  }
  return 0;
}

}  // namespace shovel::cli
