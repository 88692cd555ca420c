#include "shovel/consul/service_entry.h"

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

}  // namespace shovel::consul
