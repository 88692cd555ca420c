// In-process serving: a worker living in the client's own process (shovelfs's
// embedded mode) answers the client's requests by a plain function call, with
// no socket and no thread hop. The function takes and returns the same
// encoded frames the ZeroMQ path carries (protocol.h), so both paths decode,
// validate and answer alike; only the transport differs.
//
// Worker::LocalServe() (worker library) makes one; ClientOptions::
// local_workers (client library) takes it. Neither library links the other.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace shovel::wire {

// One frame of an encoded message and what keeps its bytes alive (null when
// the bytes outlive the call by other means).
struct SharedFrame {
  std::string_view bytes;
  std::shared_ptr<const void> owner;
};

// Serves one encoded request ([header][id][payload...]) on the calling thread
// and returns the encoded reply ([header][payload...]). The request's bytes
// need to live only for the call; the reply's frames live as long as their
// owners. An empty reply means the header did not decode (nothing to answer).
// Must be thread-safe: called from any number of threads at once.
using LocalServeFn =
    std::function<std::vector<SharedFrame>(const std::vector<std::string_view>& request)>;

}  // namespace shovel::wire
