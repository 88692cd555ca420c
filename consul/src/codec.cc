#include "codec.h"

#include <nlohmann/json.hpp>

#include "shovel/base64.h"

namespace shovel::consul::codec {
namespace {

using nlohmann::json;

// Thrown inside this file only, caught by Decode().
struct ShapeError {
  std::string what;
};

const json* Find(const json& j, const char* key) {
  if (!j.is_object()) throw ShapeError{std::string("expected an object holding ") + key};
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Str(const json& j, const char* key) {
  const json* v = Find(j, key);
  if (v == nullptr) return {};
  if (!v->is_string()) throw ShapeError{std::string(key) + " is not a string"};
  return v->get<std::string>();
}

uint64_t U64(const json& j, const char* key) {
  const json* v = Find(j, key);
  if (v == nullptr) return 0;
  if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
    throw ShapeError{std::string(key) + " is not a non-negative integer"};
  }
  return v->get<uint64_t>();
}

double Dbl(const json& j, const char* key, double fallback) {
  const json* v = Find(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_number()) throw ShapeError{std::string(key) + " is not a number"};
  return v->get<double>();
}

const json& Obj(const json& j, const char* key) {
  static const json kEmpty = json::object();
  const json* v = Find(j, key);
  if (v == nullptr) return kEmpty;
  if (!v->is_object()) throw ShapeError{std::string(key) + " is not an object"};
  return *v;
}

const json& Arr(const json& j) {
  if (!j.is_array()) throw ShapeError{"expected a JSON array"};
  return j;
}

std::vector<std::string> StrList(const json& j, const char* key) {
  std::vector<std::string> out;
  const json* v = Find(j, key);
  if (v == nullptr) return out;
  for (const json& s : Arr(*v)) {
    if (!s.is_string()) throw ShapeError{std::string(key) + " holds a non-string"};
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> StrMap(const json& j, const char* key) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : Obj(j, key).items()) {
    if (!v.is_string()) throw ShapeError{std::string(key) + "." + k + " is not a string"};
    out[k] = v.get<std::string>();
  }
  return out;
}

CheckStatus Check(const std::string& s) {
  auto r = ParseCheckStatus(s);
  if (!r.ok()) throw ShapeError{r.status().message()};
  return *r;
}

// Parses `body` and runs `f` on it; any parse or shape error is kProtocol.
template <typename F>
auto Decode(std::string_view body, F f) -> Result<decltype(f(json()))> {
  try {
    json j = json::parse(body);
    return f(j);
  } catch (const json::exception& e) {
    return Status::Protocol("malformed JSON from Consul: " + std::string(e.what()));
  } catch (const ShapeError& e) {
    return Status::Protocol("unexpected JSON from Consul: " + e.what);
  }
}

AgentService ServiceFrom(const json& s, const char* name_key) {
  AgentService out;
  out.id = Str(s, "ID");
  out.name = Str(s, name_key);
  out.address = Str(s, "Address");
  out.port = static_cast<int>(U64(s, "Port"));
  out.tags = StrList(s, "Tags");
  out.meta = StrMap(s, "Meta");
  return out;
}

Coordinate CoordFrom(const json& c) {
  Coordinate out;
  if (const json* vec = Find(c, "Vec"); vec != nullptr) {
    for (const json& x : Arr(*vec)) {
      if (!x.is_number()) throw ShapeError{"Coord.Vec holds a non-number"};
      out.vec.push_back(x.get<double>());
    }
  }
  out.error = Dbl(c, "Error", out.error);
  out.adjustment = Dbl(c, "Adjustment", out.adjustment);
  out.height = Dbl(c, "Height", out.height);
  return out;
}

}  // namespace

std::string GoDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string EncodeRegistration(const ServiceRegistration& s) {
  json j = {{"ID", s.id.empty() ? s.name : s.id},
            {"Name", s.name},
            {"Tags", s.tags},
            {"Address", s.address},
            {"Port", s.port},
            {"Meta", s.meta}};
  if (s.check) {
    json c = {{"TTL", GoDuration(s.check->ttl)},
              {"Status", std::string(CheckStatusName(s.check->initial_status))}};
    if (!s.check->id.empty()) c["CheckID"] = s.check->id;
    if (!s.check->name.empty()) c["Name"] = s.check->name;
    if (!s.check->notes.empty()) c["Notes"] = s.check->notes;
    if (s.check->deregister_critical_after.count() > 0) {
      c["DeregisterCriticalServiceAfter"] =
          GoDuration(s.check->deregister_critical_after);
    }
    j["Check"] = c;
  }
  return j.dump();
}

std::string EncodeCheckUpdate(CheckStatus status, std::string_view output) {
  return json{{"Status", std::string(CheckStatusName(status))},
              {"Output", std::string(output)}}
      .dump();
}

std::string EncodeSession(const SessionOptions& o) {
  json j = json::object();
  if (!o.name.empty()) j["Name"] = o.name;
  if (!o.node.empty()) j["Node"] = o.node;
  if (o.ttl.count() > 0) j["TTL"] = GoDuration(o.ttl);
  j["Behavior"] = o.behavior;
  j["LockDelay"] = GoDuration(o.lock_delay);
  if (o.node_checks) j["NodeChecks"] = *o.node_checks;
  return j.dump();
}

std::string EncodeCoordinateEntry(const CoordinateEntry& e) {
  json coord = {{"Vec", e.coord.vec},
                {"Error", e.coord.error},
                {"Adjustment", e.coord.adjustment},
                {"Height", e.coord.height}};
  return json{{"Node", e.node}, {"Segment", e.segment}, {"Coord", coord}}.dump();
}

Result<AgentSelf> DecodeSelf(std::string_view body) {
  return Decode(body, [](const json& j) {
    AgentSelf self;
    self.node_name = Str(Obj(j, "Config"), "NodeName");
    self.datacenter = Str(Obj(j, "Config"), "Datacenter");
    self.member_addr = Str(Obj(j, "Member"), "Addr");
    if (self.node_name.empty()) throw ShapeError{"Config.NodeName is missing"};
    return self;
  });
}

Result<std::map<std::string, AgentService>> DecodeAgentServices(std::string_view body) {
  return Decode(body, [](const json& j) {
    std::map<std::string, AgentService> out;
    if (!j.is_object()) throw ShapeError{"expected an object of services"};
    for (const auto& [id, s] : j.items()) out[id] = ServiceFrom(s, "Service");
    return out;
  });
}

Result<std::vector<HealthEntry>> DecodeHealth(std::string_view body) {
  return Decode(body, [](const json& j) {
    std::vector<HealthEntry> out;
    for (const json& e : Arr(j)) {
      HealthEntry h;
      const json& node = Obj(e, "Node");
      h.node = Str(node, "Node");
      h.node_address = Str(node, "Address");
      h.service = ServiceFrom(Obj(e, "Service"), "Service");
      h.aggregated = CheckStatus::kPassing;
      if (const json* checks = Find(e, "Checks"); checks != nullptr) {
        for (const json& c : Arr(*checks)) {
          HealthCheck hc;
          hc.node = Str(c, "Node");
          hc.check_id = Str(c, "CheckID");
          hc.name = Str(c, "Name");
          hc.status = Check(Str(c, "Status"));
          hc.output = Str(c, "Output");
          hc.service_id = Str(c, "ServiceID");
          h.aggregated = std::max(h.aggregated, hc.status);
          h.checks.push_back(std::move(hc));
        }
      }
      out.push_back(std::move(h));
    }
    return out;
  });
}

Result<std::vector<KvPair>> DecodeKvPairs(std::string_view body) {
  return Decode(body, [](const json& j) {
    std::vector<KvPair> out;
    for (const json& e : Arr(j)) {
      KvPair p;
      p.key = Str(e, "Key");
      auto value = Base64Decode(Str(e, "Value"));
      if (!value.ok())
        throw ShapeError{"Value of '" + p.key + "': " + value.status().message()};
      p.value = std::move(*value);
      p.flags = U64(e, "Flags");
      p.create_index = U64(e, "CreateIndex");
      p.modify_index = U64(e, "ModifyIndex");
      p.lock_index = U64(e, "LockIndex");
      p.session = Str(e, "Session");
      out.push_back(std::move(p));
    }
    return out;
  });
}

Result<std::vector<std::string>> DecodeStrings(std::string_view body) {
  return Decode(body, [](const json& j) {
    std::vector<std::string> out;
    if (j.is_null()) return out;
    for (const json& s : Arr(j)) {
      if (!s.is_string()) throw ShapeError{"expected an array of strings"};
      out.push_back(s.get<std::string>());
    }
    return out;
  });
}

Result<bool> DecodeBool(std::string_view body) {
  return Decode(body, [](const json& j) {
    if (!j.is_boolean()) throw ShapeError{"expected true or false"};
    return j.get<bool>();
  });
}

Result<std::string> DecodeSessionId(std::string_view body) {
  return Decode(body, [](const json& j) {
    std::string id = Str(j, "ID");
    if (id.empty()) throw ShapeError{"session ID is missing"};
    return id;
  });
}

Result<std::vector<SessionInfo>> DecodeSessions(std::string_view body) {
  return Decode(body, [](const json& j) {
    std::vector<SessionInfo> out;
    if (j.is_null()) return out;
    for (const json& e : Arr(j)) {
      SessionInfo s;
      s.id = Str(e, "ID");
      s.name = Str(e, "Name");
      s.node = Str(e, "Node");
      s.ttl = Str(e, "TTL");
      s.behavior = Str(e, "Behavior");
      s.create_index = U64(e, "CreateIndex");
      s.modify_index = U64(e, "ModifyIndex");
      out.push_back(std::move(s));
    }
    return out;
  });
}

Result<std::vector<CoordinateEntry>> DecodeCoordinates(std::string_view body) {
  return Decode(body, [](const json& j) {
    std::vector<CoordinateEntry> out;
    if (j.is_null()) return out;
    for (const json& e : Arr(j)) {
      CoordinateEntry c;
      c.node = Str(e, "Node");
      c.segment = Str(e, "Segment");
      c.coord = CoordFrom(Obj(e, "Coord"));
      out.push_back(std::move(c));
    }
    return out;
  });
}

}  // namespace shovel::consul::codec
