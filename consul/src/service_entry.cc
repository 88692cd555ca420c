#include "shovel/consul/service_entry.h"

#include <algorithm>

namespace shovel::consul {

std::string ServiceEndpoint(const HealthEntry& entry) {
  const std::string& host = entry.Host();
  bool v6 = host.find(':') != std::string::npos && !host.starts_with("[");
  return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(entry.service.port);
}

std::string ServiceNodeId(const HealthEntry& entry) {
  auto it = entry.service.meta.find("node_id");
  return it != entry.service.meta.end() && !it->second.empty() ? it->second
                                                               : entry.service.id;
}

std::vector<WorkerEntry> WorkersOf(const std::vector<HealthEntry>& entries) {
  std::vector<WorkerEntry> out;
  out.reserve(entries.size());
  for (const auto& e : entries) {
    WorkerEntry w;
    w.node_id = ServiceNodeId(e);
    w.endpoint = ServiceEndpoint(e);
    w.consul_node = e.node;
    w.status = e.aggregated;
    auto key = e.service.meta.find("curve_key");
    if (key != e.service.meta.end()) w.curve_key = key->second;
    out.push_back(std::move(w));
  }
  std::sort(out.begin(), out.end(), [](const WorkerEntry& a, const WorkerEntry& b) {
    return a.node_id != b.node_id ? a.node_id < b.node_id : a.endpoint < b.endpoint;
  });
  return out;
}

}  // namespace shovel::consul
