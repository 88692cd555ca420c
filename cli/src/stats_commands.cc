// shovelctl stats and top: the workers' counters (NODE_STATS), as INFO-like
// lines or JSON, and as a live view of rates.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "cli_internal.h"
#include "output.h"
#include "top_view.h"

namespace shovel::cli {
namespace {

void PrintJsonLine(std::FILE* out, const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  s += '\n';
  std::fwrite(s.data(), 1, s.size(), out);
}

}  // namespace

int Commands::Stats(Cli& cli, const StatsArgs& a) {
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail("stats", client.status());
  auto m = (*client)->Members();
  if (!m.ok()) return cli.Fail("stats", m.status());
  std::vector<NodeInfo> shown;
  for (auto& n : *m) {
    if (a.node.empty() || n.node_id == a.node || n.endpoint == a.node) shown.push_back(n);
  }
  if (shown.empty()) {
    std::string known;
    for (auto& n : *m) known += (known.empty() ? "" : ", ") + n.node_id;
    return cli.Fail(
        "stats", Status::NotFound("no worker '" + a.node + "' (workers: " + known + ")"));
  }
  if (cli.globals_.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& n : shown) arr.push_back(StatsJson(n));
    PrintJsonLine(cli.io_.out, {{"workers", arr}});
  } else {
    bool first = true;
    for (auto& n : shown) {
      if (!first) PrintLine(cli.io_.out, "");
      first = false;
      PrintLine(cli.io_.out, "# " + n.node_id);
      for (const auto& line : StatsLines(n)) PrintLine(cli.io_.out, line);
    }
  }
  bool any = std::any_of(shown.begin(), shown.end(), [](auto& n) { return n.healthy; });
  return any ? 0 : cli.Fail("stats", Status::Unavailable("no worker answered"));
}

int Commands::Top(Cli& cli, const TopArgs& a) {
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail("top", client.status());
  const bool live = !a.once && cli.io_.out_is_tty;
  const auto interval = std::chrono::duration<double>(a.interval);
  auto before = (*client)->Members();
  if (!before.ok()) return cli.Fail("top", before.status());
  auto taken = std::chrono::steady_clock::now();
  for (;;) {
    std::this_thread::sleep_until(taken + interval);
    auto after = (*client)->Members();
    if (!after.ok()) return cli.Fail("top", after.status());
    auto now = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(now - taken).count();
    auto rates = TopRatesOf(*before, *after, seconds);
    if (cli.globals_.json) {
      PrintJsonLine(cli.io_.out, {{"interval_s", seconds}, {"workers", TopJson(rates)}});
    } else {
      if (live) std::fputs("\033[H\033[2J", cli.io_.out);  // home, clear
      PrintTable(cli.io_.out, TopTable(rates));
    }
    std::fflush(cli.io_.out);
    if (!live) {
      bool any =
          std::any_of(after->begin(), after->end(), [](auto& n) { return n.healthy; });
      return any ? 0 : cli.Fail("top", Status::Unavailable("no worker answered"));
    }
    before = std::move(after);
    taken = now;
  }
}

}  // namespace shovel::cli
