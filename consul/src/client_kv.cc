// Client: the KV store (/v1/kv). Keys are sent with '/' kept and everything
// else percent-escaped; values travel raw on PUT and base64 in JSON on GET.
#include "codec.h"
#include "shovel/consul/client.h"

namespace shovel::consul {
namespace {

std::string KeyPath(std::string_view key) { return "/v1/kv/" + UrlEscape(key, true); }

void AddParam(std::string& params, std::string_view param) {
  if (!params.empty()) params += '&';
  params += param;
}

}  // namespace

Result<Indexed<std::optional<KvPair>>> Client::KvGet(std::string_view key,
                                                     const QueryOptions& query) {
  if (key.empty()) return Status::InvalidArgument("KV get needs a non-empty key");
  const std::string path = KeyPath(key);
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get(path, "", query, /*not_found_ok=*/true));
  Indexed<std::optional<KvPair>> out;
  out.index = raw.index;
  if (raw.status == 404) return out;
  auto pairs = codec::DecodeKvPairs(raw.body);
  if (!pairs.ok()) return pairs.status().WithContext("GET " + path);
  if (!pairs->empty()) out.value = std::move(pairs->front());
  return out;
}

Result<Indexed<std::vector<KvPair>>> Client::KvList(std::string_view prefix,
                                                    const QueryOptions& query) {
  const std::string path = KeyPath(prefix);
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get(path, "recurse", query, /*not_found_ok=*/true));
  Indexed<std::vector<KvPair>> out;
  out.index = raw.index;
  if (raw.status == 404) return out;
  auto pairs = codec::DecodeKvPairs(raw.body);
  if (!pairs.ok()) return pairs.status().WithContext("GET " + path + "?recurse");
  out.value = std::move(*pairs);
  return out;
}

Result<Indexed<std::vector<std::string>>> Client::KvKeys(std::string_view prefix,
                                                         std::string_view separator,
                                                         const QueryOptions& query) {
  const std::string path = KeyPath(prefix);
  std::string params = "keys";
  if (!separator.empty()) AddParam(params, "separator=" + UrlEscape(separator));
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Get(path, params, query, /*not_found_ok=*/true));
  Indexed<std::vector<std::string>> out;
  out.index = raw.index;
  if (raw.status == 404) return out;
  auto keys = codec::DecodeStrings(raw.body);
  if (!keys.ok()) return keys.status().WithContext("GET " + path + "?" + params);
  out.value = std::move(*keys);
  return out;
}

Result<bool> Client::KvPut(std::string_view key, std::string_view value,
                           const KvPutOptions& options) {
  if (key.empty()) return Status::InvalidArgument("KV put needs a non-empty key");
  if (!options.acquire.empty() && !options.release.empty()) {
    return Status::InvalidArgument("KV put cannot both acquire and release a lock");
  }
  std::string params;
  if (options.cas) AddParam(params, "cas=" + std::to_string(*options.cas));
  if (options.flags) AddParam(params, "flags=" + std::to_string(*options.flags));
  if (!options.acquire.empty()) AddParam(params, "acquire=" + UrlEscape(options.acquire));
  if (!options.release.empty()) AddParam(params, "release=" + UrlEscape(options.release));
  const std::string path = KeyPath(key);
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Write("PUT", path, params, std::string(value)));
  auto ok = codec::DecodeBool(raw.body);
  if (!ok.ok()) return ok.status().WithContext("PUT " + path);
  return ok;
}

Result<bool> Client::KvDelete(std::string_view key, const KvDeleteOptions& options) {
  if (key.empty() && !options.recurse) {
    return Status::InvalidArgument("KV delete needs a key (or recurse for a prefix)");
  }
  std::string params;
  if (options.recurse) AddParam(params, "recurse");
  if (options.cas) AddParam(params, "cas=" + std::to_string(*options.cas));
  const std::string path = KeyPath(key);
  SHOVEL_ASSIGN_OR_RETURN(Raw raw, Write("DELETE", path, params, ""));
  auto ok = codec::DecodeBool(raw.body);
  if (!ok.ok()) return ok.status().WithContext("DELETE " + path);
  return ok;
}

}  // namespace shovel::consul
