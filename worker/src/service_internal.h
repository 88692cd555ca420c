// Helpers shared by the Service's source files (service.cc,
// service_replica.cc): request options and reply shapes. Not part of any
// interface.
#pragma once

#include <string>
#include <string_view>

#include "service.h"

namespace shovel::worker::internal {

inline WriteOptions Options(const wire::Header& h) {
  WriteOptions o;
  o.pinned = (h.flags & wire::kFlagPinned) != 0;
  o.if_version = (h.flags & wire::kFlagIfVersion) != 0;
  o.expected_version = h.version_no;
  return o;
}

// The request's payload as one view; several frames are joined into `tmp`.
inline std::string_view Joined(const wire::Request& req, std::string& tmp) {
  if (req.payload.empty()) return {};
  if (req.payload.size() == 1) return req.payload[0];
  tmp.reserve(req.payload_bytes);
  for (auto p : req.payload) tmp.append(p);
  return tmp;
}

inline ServiceReply Ok(const wire::Header& req) {
  return {wire::ReplyHeader(req, Code::kOk), {}};
}

inline ServiceReply Written(const wire::Header& req, const Result<WriteResult>& r) {
  if (!r.ok()) return Service::Error(req, r.status());
  ServiceReply out = Ok(req);
  out.header.version_no = r->version;
  out.header.length = r->size;
  return out;
}

}  // namespace shovel::worker::internal
