// Reachability: a quick look, before any request, at whether the workers
// of a static list can be reached at all, so that a refused connection or
// a host name that does not resolve is reported at once and by its cause
// (like redis-cli's "Connection refused"), not as a request that got no
// connection within its deadline.
//
// A plain TCP connect (no ZeroMQ): it tells "nothing listens there" and
// "no such host" apart from "no answer yet". Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "shovel/status.h"

namespace shovel::client {

// One endpoint. Ok for tcp://HOST:PORT that accepts a TCP connection within
// `timeout`, and for non-TCP endpoints (ipc://, inproc://: not looked at).
// Errors (each names the endpoint):
//   kInvalidArgument  HOST does not resolve (a typo, or no DNS entry);
//   kUnavailable      connection refused (no worker listens on PORT), or
//                     the host is unreachable, or no answer within `timeout`.
Status CheckReachable(const std::string& endpoint, std::chrono::milliseconds timeout);

// A cluster given as a list: Ok when at least one endpoint is reachable and
// every host name resolves (a typo in one name is a configuration error
// even while the others answer). Otherwise the first endpoint's error; the
// endpoints are tried concurrently, so this takes at most `timeout`.
Status CheckAnyReachable(const std::vector<std::string>& endpoints,
                         std::chrono::milliseconds timeout);

}  // namespace shovel::client
