#include "top_view.h"

#include <cstdio>

#include "output.h"
#include "shovel/size.h"

namespace shovel::cli {
namespace {

uint64_t Counter(const NodeInfo& n, const std::string& name) {
  auto it = n.counters.find(name);
  return it == n.counters.end() ? 0 : it->second;
}

// Growth of a counter; a counter that went down (the worker restarted)
// grew from 0.
uint64_t Delta(uint64_t before, uint64_t after) {
  return after >= before ? after - before : after;
}

std::string Fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

}  // namespace

std::vector<TopRates> TopRatesOf(const std::vector<NodeInfo>& before,
                                 const std::vector<NodeInfo>& after, double seconds) {
  std::vector<TopRates> out;
  TopRates total;
  total.node_id = "TOTAL";
  total.healthy = true;
  uint64_t total_hits = 0, total_lookups = 0;
  static const NodeInfo kNone;
  for (const NodeInfo& n : after) {
    const NodeInfo* b = &kNone;
    for (const NodeInfo& x : before) {
      if (x.endpoint == n.endpoint) b = &x;
    }
    auto d = [&](const std::string& name) {
      return static_cast<double>(Delta(Counter(*b, name), Counter(n, name)));
    };
    double all = 0;
    for (const auto& [name, value] : n.counters) {
      if (name.rfind("requests.", 0) == 0) all += d(name);
    }
    TopRates r;
    r.node_id = n.node_id;
    r.healthy = n.healthy;
    r.get = d("requests.get") / seconds;
    r.set = (d("requests.set") + d("requests.upload_begin")) / seconds;
    r.append = d("requests.append") / seconds;
    r.other = all / seconds - r.get - r.set - r.append;
    const double hits = d("hits"), lookups = d("hits") + d("misses");
    if (lookups > 0) r.hit_pct = 100.0 * hits / lookups;
    r.in_mbps = d("bytes_in") / seconds / 1e6;
    r.out_mbps = d("bytes_out") / seconds / 1e6;
    r.evictions = static_cast<double>(Delta(b->evictions, n.evictions)) / seconds;
    r.mem_used = n.mem_used;
    r.mem_limit = n.mem_limit;
    r.ids = n.ids;
    total.healthy = total.healthy && n.healthy;
    total.get += r.get;
    total.set += r.set;
    total.append += r.append;
    total.other += r.other;
    total.in_mbps += r.in_mbps;
    total.out_mbps += r.out_mbps;
    total.evictions += r.evictions;
    total.mem_used += r.mem_used;
    total.mem_limit += r.mem_limit;
    total.ids += r.ids;
    total_hits += static_cast<uint64_t>(hits);
    total_lookups += static_cast<uint64_t>(lookups);
    out.push_back(r);
  }
  if (total_lookups > 0) total.hit_pct = 100.0 * total_hits / total_lookups;
  if (out.size() > 1) out.push_back(total);
  return out;
}

std::vector<std::vector<std::string>> TopTable(const std::vector<TopRates>& rates) {
  std::vector<std::vector<std::string>> rows = {{"NODE", "HEALTH", "GET/s", "SET/s",
                                                 "APPEND/s", "OTHER/s", "HIT%", "IN MB/s",
                                                 "OUT MB/s", "MEMORY", "EVICT/s", "IDS"}};
  for (const TopRates& r : rates) {
    rows.push_back({r.node_id, r.healthy ? "ok" : "down", Fixed(r.get, 0),
                    Fixed(r.set, 0), Fixed(r.append, 0), Fixed(r.other, 0),
                    r.hit_pct < 0 ? "-" : Fixed(r.hit_pct, 1), Fixed(r.in_mbps, 2),
                    Fixed(r.out_mbps, 2),
                    FormatSize(r.mem_used) + " / " + FormatSize(r.mem_limit),
                    Fixed(r.evictions, 0), std::to_string(r.ids)});
  }
  return rows;
}

nlohmann::json TopJson(const std::vector<TopRates>& rates) {
  nlohmann::json arr = nlohmann::json::array();
  for (const TopRates& r : rates) {
    nlohmann::json row = {{"node_id", r.node_id},
                          {"healthy", r.healthy},
                          {"get_per_s", r.get},
                          {"set_per_s", r.set},
                          {"append_per_s", r.append},
                          {"other_per_s", r.other},
                          {"in_mb_per_s", r.in_mbps},
                          {"out_mb_per_s", r.out_mbps},
                          {"evictions_per_s", r.evictions},
                          {"mem_used", r.mem_used},
                          {"mem_limit", r.mem_limit},
                          {"ids", r.ids}};
    row["hit_pct"] = r.hit_pct < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.hit_pct);
    arr.push_back(std::move(row));
  }
  return arr;
}

std::vector<std::string> StatsLines(const NodeInfo& n) {
  std::vector<std::string> out = {
      "node_id:" + n.node_id,
      "endpoint:" + n.endpoint,
      std::string("healthy:") + (n.healthy ? "yes" : "no"),
  };
  if (!n.healthy) return out;
  out.push_back("version:" + n.version);
  out.push_back("cores:" + std::to_string(n.cores));
  out.push_back("mem_used:" + std::to_string(n.mem_used));
  out.push_back("mem_limit:" + std::to_string(n.mem_limit));
  out.push_back("pinned_bytes:" + std::to_string(n.pinned_bytes));
  out.push_back("ids:" + std::to_string(n.ids));
  out.push_back("evictions:" + std::to_string(n.evictions));
  out.push_back("malformed:" + std::to_string(n.malformed));
  out.push_back("load:" + Fixed(n.load, 0));
  for (const auto& [name, value] : n.counters) {
    if (name != "evictions") out.push_back(name + ":" + std::to_string(value));
  }
  if (!n.consul_health.empty()) {
    out.push_back("consul_health:" + n.consul_health);
    out.push_back("consul_node:" + n.consul_node);
  }
  return out;
}

nlohmann::json StatsJson(const NodeInfo& n) {
  nlohmann::json j = {
      {"node_id", n.node_id}, {"endpoint", n.endpoint}, {"healthy", n.healthy}};
  if (!n.healthy) return j;
  j.update({{"version", n.version},
            {"cores", n.cores},
            {"mem_used", n.mem_used},
            {"mem_limit", n.mem_limit},
            {"pinned_bytes", n.pinned_bytes},
            {"ids", n.ids},
            {"evictions", n.evictions},
            {"malformed", n.malformed},
            {"load", n.load},
            {"counters", n.counters}});
  if (!n.consul_health.empty()) {
    j["consul_health"] = n.consul_health;
    j["consul_node"] = n.consul_node;
  }
  return j;
}

}  // namespace shovel::cli
