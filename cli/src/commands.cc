// The shovelctl commands: each is one function over a connected Client.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_internal.h"
#include "output.h"
#include "shovel/base64.h"
#include "shovel/size.h"
#include "shovel/text.h"

namespace shovel::cli {
namespace {

using nlohmann::json;

constexpr size_t kReadChunk = 4 << 20;

void PrintJson(std::FILE* out, const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s += '\n';
  std::fwrite(s.data(), 1, s.size(), out);
}

}  // namespace

int Commands::Write(Cli& cli, const WriteArgs& a, WriteMode mode) {
  const char* verb = mode == WriteMode::kSet ? "set" : "append";
  std::string what = std::string(verb) + " " + QuoteForMessage(a.id);
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail(what, client.status());
  Result<uint64_t> version = Status::Internal("unset");
  uint64_t size = 0;
  if (a.value) {
    size = a.value->size();
    version = mode == WriteMode::kSet ? (*client)->Set(a.id, *a.value)
                                      : (*client)->Append(a.id, *a.value);
  } else {
    std::FILE* f = cli.io_.in;
    if (!a.file.empty() && a.file != "-") {
      f = std::fopen(a.file.c_str(), "rb");
      if (!f) {
        return cli.Fail(what, Status::InvalidArgument("cannot open '" + a.file +
                                                      "': " + std::strerror(errno)));
      }
    }
    // A regular file's size goes with the upload, so a worker refuses a
    // value that can never fit before it evicts anything for it.
    struct stat fs {};
    uint64_t hint = fstat(fileno(f), &fs) == 0 && S_ISREG(fs.st_mode) ? fs.st_size : 0;
    auto w = (*client)->OpenWriter(a.id, mode, hint);
    if (!w.ok()) return cli.Fail(what, w.status());
    std::string buf(kReadChunk, '\0');
    Status st;
    while (st.ok()) {
      size_t n = std::fread(buf.data(), 1, buf.size(), f);
      if (n > 0) st = (*w)->Write(std::string_view(buf.data(), n));
      size += n;
      if (n < buf.size()) break;
    }
    bool read_error = std::ferror(f);
    int read_errno = errno;
    if (f != cli.io_.in) std::fclose(f);
    if (read_error) {
      std::string from = f == cli.io_.in ? "stdin" : "'" + a.file + "'";
      st = Status::InvalidArgument("reading " + from +
                                   " failed: " + std::strerror(read_errno));
    }
    if (!st.ok()) return cli.Fail(what, st);
    version = (*w)->Commit();
  }
  if (!version.ok()) return cli.Fail(what, version.status());
  if (cli.globals_.json) {
    PrintJson(cli.io_.out, {{"id", a.id}, {"version", *version}, {"bytes", size}});
  }
  return 0;
}

int Commands::Get(Cli& cli, const GetArgs& a) {
  std::string what = "get " + QuoteForMessage(a.id);
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail(what, client.status());
  uint64_t length = a.length ? *a.length : kWholeBlob;
  if (cli.globals_.json) {
    auto v = (*client)->Get(a.id, a.offset, length);
    if (!v.ok()) return cli.Fail(what, v.status());
    json j = {{"id", a.id}, {"offset", a.offset}, {"bytes", v->size()}};
    // JSON strings are text: bytes that are not UTF-8 go as base64, so the
    // value comes back exactly (U+FFFD in their place lost them).
    if (FirstInvalidUtf8(*v) == std::string_view::npos) {
      j["data"] = std::move(*v);
    } else {
      j["data_base64"] = Base64Encode(*v);
    }
    PrintJson(cli.io_.out, j);
    return 0;
  }
  Status st = (*client)->GetTo(a.id, a.offset, length, [&](std::string_view piece) {
    if (std::fwrite(piece.data(), 1, piece.size(), cli.io_.out) != piece.size()) {
      return Status::Unavailable("writing to stdout failed");
    }
    return Status::Ok();
  });
  std::fflush(cli.io_.out);
  return st.ok() ? 0 : cli.Fail(what, st);
}

int Commands::Remove(Cli& cli, const std::string& id) {
  std::string what = "rm " + QuoteForMessage(id);
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail(what, client.status());
  Status st = (*client)->Delete(id);
  if (!st.ok()) return cli.Fail(what, st);
  if (cli.globals_.json) PrintJson(cli.io_.out, {{"id", id}, {"deleted", true}});
  return 0;
}

int Commands::List(Cli& cli, const ListArgs& a) {
  std::string what = "ls " + QuoteForMessage(a.prefix);
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail(what, client.status());
  json ids = json::array();
  std::string cursor = a.after;
  uint64_t shown = 0;
  do {
    uint32_t page = 1000;
    if (a.limit) page = static_cast<uint32_t>(std::min<uint64_t>(page, *a.limit - shown));
    if (page == 0) break;
    auto p = (*client)->List(a.prefix, cursor, page, a.dirs);
    if (!p.ok()) return cli.Fail(what, p.status());
    for (auto& id : p->ids) {
      if (cli.globals_.json) {
        ids.push_back(id);
      } else {
        PrintLine(cli.io_.out, id);
      }
      ++shown;
    }
    cursor = p->next_cursor;
  } while (!cursor.empty());
  if (cli.globals_.json) {
    json j = {{"prefix", a.prefix}, {"ids", ids}};
    // Stopped by --limit with more to come: where the next page starts.
    if (!cursor.empty()) j["next_after"] = cursor;
    PrintJson(cli.io_.out, j);
  }
  return 0;
}

int Commands::Stat(Cli& cli, const std::string& id) {
  std::string what = "stat " + QuoteForMessage(id);
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail(what, client.status());
  auto s = (*client)->Stat(id);
  if (!s.ok()) return cli.Fail(what, s.status());
  json j = {{"id", s->id},
            {"size", s->size},
            {"stored_bytes", s->stored_bytes},
            {"version", s->version},
            {"pinned", s->pinned},
            {"holders", s->holders},
            {"ctime_ns", s->ctime_ns},
            {"mtime_ns", s->mtime_ns},
            {"atime_ns", s->atime_ns},
            {"attrs", s->attrs}};
  if (cli.globals_.json) {
    PrintJson(cli.io_.out, j);
    return 0;
  }
  std::string holders;
  for (auto& h : s->holders) holders += (holders.empty() ? "" : ",") + h;
  // For people: times in UTC (--json keeps the nanoseconds).
  std::fprintf(cli.io_.out,
               "id: %s\nsize: %llu\nstored: %llu\nversion: %llu\npinned: %s\n"
               "holders: %s\ncreated: %s\nmodified: %s\naccessed: %s\n",
               s->id.c_str(), (unsigned long long)s->size,
               (unsigned long long)s->stored_bytes, (unsigned long long)s->version,
               s->pinned ? "yes" : "no", holders.c_str(),
               FormatTimeNs(s->ctime_ns).c_str(), FormatTimeNs(s->mtime_ns).c_str(),
               FormatTimeNs(s->atime_ns).c_str());
  for (auto& [k, v] : s->attrs)
    std::fprintf(cli.io_.out, "attr.%s: %s\n", k.c_str(), v.c_str());
  return 0;
}

int Commands::NodeIds(Cli& cli, const std::string& id) {
  std::string what = "node-ids " + QuoteForMessage(id);
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail(what, client.status());
  auto h = (*client)->NodeIds(id);
  if (!h.ok()) return cli.Fail(what, h.status());
  if (cli.globals_.json) {
    PrintJson(cli.io_.out, {{"id", id}, {"node_ids", *h}});
  } else {
    for (auto& n : *h) PrintLine(cli.io_.out, n);
  }
  return 0;
}

int Commands::NodeId(Cli& cli, const std::string& id, const std::string& strategy) {
  std::string what = "node-id " + QuoteForMessage(id);
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail(what, client.status());
  auto n = (*client)->NodeId(id, strategy);
  if (!n.ok()) return cli.Fail(what, n.status());
  if (cli.globals_.json) {
    PrintJson(cli.io_.out, {{"id", id}, {"strategy", strategy}, {"node_id", *n}});
  } else {
    PrintLine(cli.io_.out, *n);
  }
  return 0;
}

int Commands::Score(Cli& cli, const std::string& node, const std::string& id) {
  std::string what = "score " + QuoteForMessage(node) + " " + QuoteForMessage(id);
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail(what, client.status());
  auto s = (*client)->NodeCacheScore(node, id);
  if (!s.ok()) return cli.Fail(what, s.status());
  if (cli.globals_.json) {
    json score = s->has_value() ? json(**s) : json(nullptr);
    PrintJson(cli.io_.out, {{"node", node}, {"id", id}, {"score_ms", score}});
  } else if (s->has_value()) {
    char b[64];
    std::snprintf(b, sizeof b, "%g", **s);
    PrintLine(cli.io_.out, b);
  } else {
    PrintLine(cli.io_.out, "unknown");
  }
  return 0;
}

int Commands::Members(Cli& cli) {
  auto client = cli.Connected();
  if (!client.ok()) return cli.Fail("members", client.status());
  auto m = (*client)->Members();
  if (!m.ok()) return cli.Fail("members", m.status());
  // Exit 1 (with a line on stderr) when no worker answered, so a script can
  // tell a dead cluster from a listing.
  auto status = [&] {
    bool any =
        std::any_of(m->begin(), m->end(), [](const NodeInfo& n) { return n.healthy; });
    return any ? 0 : cli.Fail("members", Status::Unavailable("no worker answered"));
  };
  if (cli.globals_.json) {
    json arr = json::array();
    for (auto& n : *m) {
      json row = {{"node_id", n.node_id},
                  {"endpoint", n.endpoint},
                  {"healthy", n.healthy},
                  {"cores", n.cores},
                  {"mem_used", n.mem_used},
                  {"mem_limit", n.mem_limit},
                  {"ids", n.ids},
                  {"load", n.load},
                  {"malformed", n.malformed},
                  {"handover",
                   {{"ids", n.handover_ids},
                    {"bytes", n.handover_bytes},
                    {"jobs", n.handover_jobs}}}};
      if (!n.leave_state.empty()) {
        row["leave"] = {{"state", n.leave_state},
                        {"ids", n.leave_ids},
                        {"not_copied", n.leave_failed}};
      }
      if (!n.consul_health.empty()) {
        row["consul_health"] = n.consul_health;
        row["consul_node"] = n.consul_node;
      }
      arr.push_back(std::move(row));
    }
    PrintJson(cli.io_.out, {{"members", arr}});
    return status();
  }
  bool consul = std::any_of(m->begin(), m->end(),
                            [](const NodeInfo& n) { return !n.consul_health.empty(); });
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "ENDPOINT", "CORES", "MEMORY", "IDS", "HEALTH", "HAND-OVER"}};
  if (consul) rows[0].push_back("CONSUL");
  for (auto& n : *m) {
    // What it copied to other workers (joiners, or its leave) and whether
    // it is copying now.
    std::string handover = "-";
    if (n.handover_jobs != 0 || n.handover_ids != 0) {
      handover = (n.handover_jobs != 0 ? "copying: " : "") +
                 std::to_string(n.handover_ids) + " ids, " +
                 FormatSize(n.handover_bytes) + " sent";
    }
    std::string health = n.healthy ? "ok" : "unreachable";
    if (n.leave_state == "left") {
      health = "left";
    } else if (!n.leave_state.empty()) {
      health = "leaving";
    }
    rows.push_back({n.node_id, n.endpoint, std::to_string(n.cores),
                    FormatSize(n.mem_used) + " / " + FormatSize(n.mem_limit),
                    std::to_string(n.ids), health, handover});
    // Consul's check status and the agent node the worker is registered on.
    if (consul) rows.back().push_back(n.consul_health + " (" + n.consul_node + ")");
  }
  PrintTable(cli.io_.out, rows);
  return status();
}

}  // namespace shovel::cli
