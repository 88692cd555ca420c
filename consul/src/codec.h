// JSON encoding and decoding of Consul API bodies (internal to
// shovel_consul). Pure functions; thread-safe. Decoders never throw: a body
// that is not what Consul sends is kProtocol with what was wrong.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/consul/coordinate.h"
#include "shovel/consul/types.h"
#include "shovel/status.h"

namespace shovel::consul::codec {

// Go duration text: "10s", "1500ms".
std::string GoDuration(std::chrono::milliseconds d);

std::string EncodeRegistration(const ServiceRegistration& service);
std::string EncodeCheckUpdate(CheckStatus status, std::string_view output);
std::string EncodeSession(const SessionOptions& options);
std::string EncodeCoordinateEntry(const CoordinateEntry& entry);

Result<AgentSelf> DecodeSelf(std::string_view body);
Result<std::map<std::string, AgentService>> DecodeAgentServices(std::string_view body);
Result<std::vector<HealthEntry>> DecodeHealth(std::string_view body);
Result<std::vector<KvPair>> DecodeKvPairs(std::string_view body);
Result<std::vector<std::string>> DecodeStrings(std::string_view body);
Result<bool> DecodeBool(std::string_view body);  // "true" / "false"
Result<std::string> DecodeSessionId(std::string_view body);
Result<std::vector<SessionInfo>> DecodeSessions(std::string_view body);
Result<std::vector<CoordinateEntry>> DecodeCoordinates(std::string_view body);

}  // namespace shovel::consul::codec
