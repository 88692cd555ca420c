#include "cli.h"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_internal.h"
#include "shovel/embedded_endpoint.h"
#include "shovel/version.h"

namespace shovel::cli {
namespace {

// Whole numbers: an unsigned option would take "-1" as 2^64-1, and CLI11's
// range checks print a 300-digit bound. CLI11 prefixes the option's name.
bool IsWholeNumber(const std::string& s) {
  return !s.empty() && s.size() <= 20 &&
         s.find_first_not_of("0123456789") == std::string::npos &&
         (s.size() < 20 || s <= "18446744073709551615");
}
// A byte offset or count: 0 or more.
const CLI::Validator kByteCount(
    [](std::string& s) -> std::string {
      if (IsWholeNumber(s)) return "";
      return "'" + s + "' is not a byte count (a whole number, 0 or more)";
    },
    "BYTES");
// A count of ids for `init --prefix`: 0 to kMaxInitCount (the ids are
// made in memory first; 2^64-3 ran the client out of memory).
constexpr uint64_t kMaxInitCount = 10'000'000;
const CLI::Validator kIdCount(
    [](std::string& s) -> std::string {
      if (!IsWholeNumber(s)) {
        return "'" + s + "' is not a count of ids (a whole number, 0 or more)";
      }
      if (std::stoull(s) > kMaxInitCount) {
        return s + " ids is more than one init makes (at most " +
               std::to_string(kMaxInitCount) + "; use several prefixes)";
      }
      return "";
    },
    "N");
// A page size or a deadline: 1 or more.
const CLI::Validator kPositive(
    [](std::string& s) -> std::string {
      if (IsWholeNumber(s) && s.find_first_not_of('0') != std::string::npos &&
          s.size() <= 18) {
        return "";
      }
      return "'" + s + "' is not a whole number of 1 or more";
    },
    "N");

// Registers the commands on `app`; `run` is set to the chosen command.
struct Parsed {
  WriteArgs write;
  GetArgs get;
  ListArgs list;
  InitArgs init;
  ConfigArgs config;
  StatsArgs stats;
  TopArgs top;
  std::string id, node, strategy = "default";
};

void AddCommands(CLI::App& app, Parsed& p, std::function<int()>& run, Cli& cli) {
  auto* set = app.add_subcommand("set", "replace ID's value with FILE (or stdin)");
  set->add_option("ID", p.write.id, "cache id")->required();
  auto* set_file =
      set->add_option("FILE", p.write.file, "input file; stdin when absent or '-'");
  set->add_option("--value", p.write.value, "use this text as the value")
      ->excludes(set_file);
  set->callback(
      [&] { run = [&] { return Commands::Write(cli, p.write, WriteMode::kSet); }; });

  auto* app_ = app.add_subcommand("append", "append FILE (or stdin) to ID");
  app_->add_option("ID", p.write.id, "cache id")->required();
  auto* append_file =
      app_->add_option("FILE", p.write.file, "input file; stdin when absent or '-'");
  app_->add_option("--value", p.write.value, "append this text")->excludes(append_file);
  app_->callback(
      [&] { run = [&] { return Commands::Write(cli, p.write, WriteMode::kAppend); }; });

  auto* get = app.add_subcommand("get", "write ID's value (or a range) to stdout");
  get->add_option("ID", p.get.id, "cache id")->required();
  get->add_option("--offset", p.get.offset, "first byte")->check(kByteCount);
  get->add_option("--length", p.get.length, "bytes to read (default: to the end)")
      ->check(kByteCount);
  get->callback([&] { run = [&] { return Commands::Get(cli, p.get); }; });

  auto* rm = app.add_subcommand("rm", "delete ID");
  rm->add_option("ID", p.id, "cache id")->required();
  rm->callback([&] { run = [&] { return Commands::Remove(cli, p.id); }; });

  auto* ls = app.add_subcommand("ls", "list ids starting with PREFIX, sorted");
  ls->add_option("PREFIX", p.list.prefix, "id prefix (default: everything)");
  ls->add_option("--limit", p.list.limit, "at most N ids (1 or more)")->check(kPositive);
  ls->add_option("--after", p.list.after,
                 "start after this id (the last one of a previous --limit page; "
                 "--json gives it as next_after)");
  ls->add_flag("-d,--dirs", p.list.dirs,
               "one level: names under PREFIX, 'name/' for namespaces");
  ls->callback([&] { run = [&] { return Commands::List(cli, p.list); }; });

  auto* stat = app.add_subcommand("stat", "size, version, times, holders of ID");
  stat->add_option("ID", p.id, "cache id")->required();
  stat->callback([&] { run = [&] { return Commands::Stat(cli, p.id); }; });

  auto* init =
      app.add_subcommand("init", "create empty pinned ids spread over the workers");
  init->add_option("--strategy", p.init.strategy,
                   "uniform_nodes | uniform_cpu | uniform_memory")
      ->capture_default_str();
  init->add_option("ID", p.init.ids, "ids to create");
  init->add_option("--prefix", p.init.prefix, "with --count: ids PREFIX0..PREFIX<N-1>");
  init->add_option("--count", p.init.count, "number of ids for --prefix")
      ->check(kIdCount);
  init->add_option("--from-file", p.init.from_file, "file with one id per line");
  init->callback([&] { run = [&] { return Commands::Init(cli, p.init); }; });

  auto* nids = app.add_subcommand("node-ids", "workers holding ID, primary first");
  nids->add_option("ID", p.id, "cache id")->required();
  nids->callback([&] { run = [&] { return Commands::NodeIds(cli, p.id); }; });

  auto* nid = app.add_subcommand("node-id", "best worker to process ID");
  nid->add_option("ID", p.id, "cache id")->required();
  nid->add_option("--strategy", p.strategy, "default | least_loaded | nearest")
      ->capture_default_str();
  nid->callback([&] { run = [&] { return Commands::NodeId(cli, p.id, p.strategy); }; });

  auto* score = app.add_subcommand("score", "distance (ms) between NODE and ID's data");
  score->add_option("NODE", p.node, "node id")->required();
  score->add_option("ID", p.id, "cache id")->required();
  score->callback([&] { run = [&] { return Commands::Score(cli, p.node, p.id); }; });

  auto* keygen = app.add_subcommand(
      "keygen", "write a new CURVE key pair to FILE (mode 0600), print its public key");
  keygen->add_option("FILE", p.id, "key pair file to create (never overwritten)")
      ->required();
  keygen->callback([&] { run = [&] { return Commands::Keygen(cli, p.id); }; });

  auto* members = app.add_subcommand("members", "the workers and their use");
  members->callback([&] { run = [&] { return Commands::Members(cli); }; });

  auto* drain = app.add_subcommand(
      "drain",
      "NODE leaves: its ids go to the workers that take its place, then it ends");
  drain->add_option("NODE", p.node, "node id or endpoint")->required();
  drain->callback([&] { run = [&] { return Commands::Drain(cli, p.node); }; });
  auto* stats = app.add_subcommand("stats", "each worker's counters since it started");
  stats->add_option("NODE", p.stats.node, "one worker: node id or endpoint");
  stats->callback([&] { run = [&] { return Commands::Stats(cli, p.stats); }; });

  auto* top = app.add_subcommand(
      "top", "live rates of every worker (refreshed each second on a terminal)");
  top->add_flag("--once", p.top.once, "print one sample and exit");
  top->add_option("--interval", p.top.interval, "seconds between samples")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  top->callback([&] { run = [&] { return Commands::Top(cli, p.top); }; });

  auto* config = app.add_subcommand(
      "config", "the workers' live configuration in Consul KV (applied at once)");
  config->require_subcommand(1);
  auto node_opt = [&](CLI::App* sub) {
    sub->add_option("--node", p.config.node, "the override of one worker (node id)");
  };
  auto* cget = config->add_subcommand("get", "print KEY's value");
  cget->add_option(
          "KEY", p.config.key,
          "max-memory | compression-level | chunk-size | eviction | handover-rate | "
          "decoded-cache | replicas")
      ->required();
  node_opt(cget);
  cget->callback([&] { run = [&] { return Commands::ConfigGet(cli, p.config); }; });
  auto* cset = config->add_subcommand("set", "validate VALUE and store it as KEY");
  cset->add_option(
          "KEY", p.config.key,
          "max-memory | compression-level | chunk-size | eviction | handover-rate | "
          "decoded-cache | replicas")
      ->required();
  cset->add_option("VALUE", p.config.value, "e.g. 512MiB, 3, 4MiB, off, 10%")->required();
  node_opt(cset);
  cset->callback([&] { run = [&] { return Commands::ConfigSet(cli, p.config); }; });
  auto* crm = config->add_subcommand("rm", "remove KEY (the layer below applies again)");
  crm->add_option("KEY", p.config.key, "config key")->required();
  node_opt(crm);
  crm->callback([&] { run = [&] { return Commands::ConfigRemove(cli, p.config); }; });
  auto* cls = config->add_subcommand(
      "ls", "every key set; with --node, what applies to that worker and from where");
  node_opt(cls);
  cls->callback([&] { run = [&] { return Commands::ConfigList(cli, p.config); }; });
}

}  // namespace

Result<std::string> MountEndpoint(const std::string& mountpoint) {
  char buf[PATH_MAX];
  if (realpath(mountpoint.c_str(), buf) == nullptr) {
    return Status::InvalidArgument("--mount " + mountpoint + ": " + std::strerror(errno));
  }
  std::string dir = EmbeddedSocketDir(getuid(), std::getenv("XDG_RUNTIME_DIR"));
  std::string endpoint = EmbeddedEndpoint(dir, buf);
  struct stat st;
  if (stat(endpoint.substr(6).c_str(), &st) != 0) {
    return Status::Unavailable("no embedded worker of this user for " + std::string(buf) +
                               " (no " + endpoint.substr(6) +
                               "; shovelfs mounted with no cluster makes it)");
  }
  return endpoint;
}

int Cli::Fail(const std::string& what, const Status& s) {
  std::string line = "shovelctl: " + what + ": " + s.ToString() + "\n";
  std::fwrite(line.data(), 1, line.size(), io_.err);
  return 1;
}

Result<Client*> Cli::Connected() {
  std::string key = globals_.workers + "|" + globals_.consul + "|" +
                    std::to_string(globals_.deadline_ms) + "|" +
                    std::to_string(globals_.replicas) + "|" + globals_.key_file + "|" +
                    globals_.worker_key + "|" + globals_.mount;
  if (client_ && key == connected_with_) return client_.get();
  ClientOptions o;
  if (!globals_.workers.empty()) {
    size_t pos = 0;
    while (pos <= globals_.workers.size()) {
      size_t c = globals_.workers.find(',', pos);
      if (c == std::string::npos) c = globals_.workers.size();
      std::string w = globals_.workers.substr(pos, c - pos);
      if (!w.empty()) o.workers.push_back(w);
      pos = c + 1;
    }
  }
  if (!globals_.mount.empty()) {
    SHOVEL_ASSIGN_OR_RETURN(std::string endpoint, MountEndpoint(globals_.mount));
    o.workers = {endpoint};
    // The embedded worker has no CURVE (its socket is private to its
    // owner): a SHOVEL_KEY_FILE meant for a cluster does not apply.
    o.keys_from_environment = false;
  }
  if (o.workers.empty()) o.consul_addr = globals_.consul;
  o.deadline = std::chrono::milliseconds(globals_.deadline_ms);
  o.replicas = globals_.replicas;
  // A refused connection or a host that does not resolve is reported at
  // once, by its cause, not after the deadline.
  o.check_reachable = true;
  o.key_file = globals_.key_file;
  o.worker_key = globals_.worker_key;
  SHOVEL_ASSIGN_OR_RETURN(client_, Client::Connect(o));
  connected_with_ = key;
  return client_.get();
}

std::string Cli::ConsulAddress() const {
  if (!globals_.consul.empty()) return globals_.consul;
  if (const char* e = std::getenv("CONSUL_HTTP_ADDR"); e && *e) return e;
  return "http://127.0.0.1:8500";
}

int Cli::Run(const std::vector<std::string>& args, bool in_shell) {
  CLI::App app{"shovelctl: the shoveling cache from the shell", "shovelctl"};
  app.require_subcommand(0, 1);
  // Global options may also follow the command (`members --json`): an
  // option a command does not know is looked up on the app.
  app.fallthrough();
  app.set_version_flag("--version", "shovelctl " + Version());
  GlobalOptions g = globals_;
  app.add_option("--workers", g.workers,
                 "worker endpoints, tcp://HOST:PORT,... (default: $SHOVEL_WORKERS)");
  app.add_option("--consul", g.consul,
                 "Consul agent URL: workers from its catalog, config in its KV "
                 "(default: $CONSUL_HTTP_ADDR)");
  app.add_option("--deadline", g.deadline_ms, "deadline of one request in ms")
      ->check(kPositive);
  app.add_option("--replicas", g.replicas,
                 "copies of each id written, 1-8, capped by the workers "
                 "(default: $SHOVEL_REPLICAS, else 1)")
      ->check(CLI::Range(1, 8));
  app.add_option("--key-file", g.key_file,
                 "this client's CURVE key pair file, from shovelctl keygen "
                 "(default: $SHOVEL_KEY_FILE; docs/security.md)");
  app.add_option("--worker-key", g.worker_key,
                 "the workers' public key (Z85) when Consul does not give it, or a "
                 "file of them, followed as it changes (default: $SHOVEL_WORKER_KEY)");
  app.add_option("--mount", g.mount,
                 "use the embedded worker of this shovelfs mount (mounted by this "
                 "user with no cluster)");
  app.add_flag("--json", g.json, "machine-readable output");
  Parsed parsed;
  std::function<int()> run;
  AddCommands(app, parsed, run, *this);
  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp&) {
    std::string help = app.help();
    if (auto* sub = app.get_subcommands().empty() ? nullptr : app.get_subcommands()[0]) {
      help = sub->help();
    }
    std::fwrite(help.data(), 1, help.size(), io_.out);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::string line = std::string(e.what()) + "\n";
    std::fwrite(line.data(), 1, line.size(), io_.out);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string line = std::string("shovelctl: ") + e.what() + " (see --help)\n";
    std::fwrite(line.data(), 1, line.size(), io_.err);
    return 2;
  }
  globals_ = g;
  if (!run) {
    wants_shell_ = !in_shell;
    return 0;
  }
  try {
    return run();
  } catch (const std::exception& e) {  // e.g. nlohmann::json; never a crash
    return Fail("internal error", Status::Internal(e.what()));
  }
}

int Commands::Init(Cli& cli, const InitArgs& a) {
  auto strategy = ParseInitStrategy(a.strategy);
  if (!strategy.ok()) return cli.Fail("init", strategy.status());
  std::vector<std::string> ids = a.ids;
  int sources = !a.ids.empty() + !a.prefix.empty() + !a.from_file.empty();
  if (sources != 1 || (!a.prefix.empty() != a.count.has_value())) {
    return cli.Fail("init", Status::InvalidArgument(
                                "give ids, or --prefix P --count N, or --from-file F"));
  }
  if (a.count) {
    for (uint64_t i = 0; i < *a.count; ++i) ids.push_back(a.prefix + std::to_string(i));
  }
  if (!a.from_file.empty()) {
    std::ifstream in(a.from_file);
    if (!in) {
      return cli.Fail("init", Status::InvalidArgument("cannot open '" + a.from_file +
                                                      "': " + std::strerror(errno)));
    }
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) ids.push_back(line);
    }
  }
  // Each id once, in first-seen order (as the client creates them): the
  // count printed is of ids, not of lines.
  {
    std::set<std::string_view> seen;
    std::vector<std::string> distinct;
    for (auto& id : ids) {
      if (seen.insert(id).second) distinct.push_back(id);
    }
    ids = std::move(distinct);
  }
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail("init", client.status());
  int last_pct = -1;
  ProgressFn bar = [&](uint64_t done, uint64_t total) {
    int pct = total ? static_cast<int>(done * 100 / total) : 100;
    if (pct == last_pct) return;
    last_pct = pct;
    std::string b(pct / 5, '#');
    b.resize(20, ' ');
    std::fprintf(cli.io_.err, "\rinit [%s] %3d%% %llu/%llu", b.c_str(), pct,
                 (unsigned long long)done, (unsigned long long)total);
    std::fflush(cli.io_.err);
  };
  Status st = (*client)->Init(ids, *strategy, cli.io_.err_is_tty ? bar : ProgressFn());
  if (cli.io_.err_is_tty && last_pct >= 0) std::fputc('\n', cli.io_.err);
  if (!st.ok()) return cli.Fail("init", st);
  if (cli.globals_.json) {
    std::string s =
        nlohmann::json{{"initialized", ids.size()}, {"strategy", a.strategy}}.dump();
    std::fprintf(cli.io_.out, "%s\n", s.c_str());
  } else {
    std::fprintf(cli.io_.out, "initialized %zu ids (%s)\n", ids.size(),
                 a.strategy.c_str());
  }
  return 0;
}

Result<std::vector<std::string>> SplitWords(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        cur += line[++i];
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote)
    return Status::InvalidArgument(std::string("unterminated ") + quote + " quote");
  if (in_word) out.push_back(std::move(cur));
  return out;
}

}  // namespace shovel::cli
