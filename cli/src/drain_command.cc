// shovelctl drain NODE: the worker leaves the cluster without losing the
// ids only it holds. Starts the leave, then follows it through NODE_STATS
// (Members) until the worker says it has left.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_internal.h"
#include "output.h"
#include "shovel/size.h"

namespace shovel::cli {
namespace {

const NodeInfo* Find(const std::vector<NodeInfo>& members, const std::string& node) {
  for (const auto& n : members) {
    if (n.node_id == node || n.endpoint == node) return &n;
  }
  return nullptr;
}

}  // namespace

int Commands::Drain(Cli& cli, const std::string& node) {
  using Clock = std::chrono::steady_clock;
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail("drain", client.status());
  Status st = (*client)->Drain(node);
  if (!st.ok()) return cli.Fail("drain", st);
  const auto start = Clock::now();
  const auto give_up = start + std::chrono::minutes(15);
  NodeInfo last;
  bool seen = false, left = false;
  int unanswered = 0;
  while (Clock::now() < give_up) {
    auto m = (*client)->Members();
    const NodeInfo* n = m.ok() ? Find(*m, node) : nullptr;
    if (n != nullptr && !n->leave_state.empty()) {
      last = *n;
      seen = true;
      unanswered = 0;
      if (cli.io_.err_is_tty) {
        std::fprintf(cli.io_.err, "\rdrain %s: %s, %llu of %llu ids, %s copied   ",
                     last.node_id.c_str(), last.leave_state.c_str(),
                     (unsigned long long)last.handover_ids,
                     (unsigned long long)last.leave_ids,
                     FormatSize(last.handover_bytes).c_str());
        std::fflush(cli.io_.err);
      }
      if (n->leave_state == "left") {
        left = true;
        break;
      }
    } else if (++unanswered >= 20) {
      break;  // gone (or never answering) for 5 s
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (cli.io_.err_is_tty && seen) std::fputc('\n', cli.io_.err);
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (!left) {
    return cli.Fail("drain " + node,
                    Status::Unavailable(
                        seen ? "the worker stopped answering before it said it had left "
                               "(last seen: " +
                                   last.leave_state + ", " +
                                   std::to_string(last.handover_ids) + " ids copied)"
                             : "the worker never reported its leave"));
  }
  if (cli.globals().json) {
    nlohmann::json j = {{"node_id", last.node_id},         {"endpoint", last.endpoint},
                        {"state", last.leave_state},       {"ids", last.leave_ids},
                        {"copied", last.handover_ids},     {"bytes", last.handover_bytes},
                        {"not_copied", last.leave_failed}, {"seconds", secs}};
    std::fprintf(cli.io_.out, "%s\n", j.dump().c_str());
  } else {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s left: %llu ids held, %llu copies (%s) sent in %.1f s",
                  last.node_id.c_str(), (unsigned long long)last.leave_ids,
                  (unsigned long long)last.handover_ids,
                  FormatSize(last.handover_bytes).c_str(), secs);
    PrintLine(cli.io_.out, line);
  }
  if (last.leave_failed != 0) {
    return cli.Fail("drain " + node,
                    Status::Unavailable(std::to_string(last.leave_failed) +
                                        " ids were not copied (see the worker's log): "
                                        "a new holder that did not answer, or the "
                                        "leave timeout"));
  }
  return 0;
}

}  // namespace shovel::cli
