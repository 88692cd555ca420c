// Internals of the command layer: parsed arguments and the command bodies.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli.h"

namespace shovel::cli {

struct WriteArgs {
  std::string id;
  std::string file;                  // empty or "-": stdin
  std::optional<std::string> value;  // --value: the bytes themselves
};

struct GetArgs {
  std::string id;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

struct ListArgs {
  std::string prefix;
  std::string after;  // start after this id (name, with --dirs); "" = first
  std::optional<uint64_t> limit;
  bool dirs = false;
};

struct InitArgs {
  std::string strategy = "uniform_nodes";
  std::vector<std::string> ids;
  std::string prefix;
  std::optional<uint64_t> count;
  std::string from_file;
};

struct ConfigArgs {
  std::string node;  // --node: the per-worker override layer
  std::string key;
  std::string value;
};

struct StatsArgs {
  std::string node;  // node id or endpoint; "" = every worker
};

struct TopArgs {
  bool once = false;
  double interval = 1.0;  // seconds between samples
};
// The ipc:// endpoint of the embedded worker of the shovelfs mount at
// `mountpoint`, mounted by this user (shovel/embedded_endpoint.h);
// kUnavailable when there is none.
Result<std::string> MountEndpoint(const std::string& mountpoint);

class Commands {
 public:
  static int Write(Cli& cli, const WriteArgs& a, WriteMode mode);
  static int Get(Cli& cli, const GetArgs& a);
  static int Remove(Cli& cli, const std::string& id);
  static int List(Cli& cli, const ListArgs& a);
  static int Stat(Cli& cli, const std::string& id);
  static int Init(Cli& cli, const InitArgs& a);
  static int NodeIds(Cli& cli, const std::string& id);
  static int NodeId(Cli& cli, const std::string& id, const std::string& strategy);
  static int Score(Cli& cli, const std::string& node, const std::string& id);
  static int Members(Cli& cli);
  // shovelctl drain NODE (drain_command.cc).
  static int Drain(Cli& cli, const std::string& node);
  // INFO-like counters of each worker (or of one), or --json.
  static int Stats(Cli& cli, const StatsArgs& a);
  // Rates between samples `interval` apart: refreshed on a terminal until
  // interrupted; one sample with --once or when stdout is not a terminal.
  static int Top(Cli& cli, const TopArgs& a);
  // shovelctl keygen FILE: a new CURVE key pair in FILE (0600), the public
  // key on stdout (keygen.cc).
  static int Keygen(Cli& cli, const std::string& file);
  // shovelctl config get|set|rm|ls over the Consul KV keys (kv_config.h).
  static int ConfigGet(Cli& cli, const ConfigArgs& a);
  static int ConfigSet(Cli& cli, const ConfigArgs& a);
  static int ConfigRemove(Cli& cli, const ConfigArgs& a);
  static int ConfigList(Cli& cli, const ConfigArgs& a);
};

}  // namespace shovel::cli
