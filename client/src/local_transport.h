// LocalTransport: the Transport of a client that shares its process with
// workers (ClientOptions::local_workers, shovelfs's embedded mode). Requests
// for an in-process worker are served by a direct call on the caller's
// thread; every other request goes to the wrapped (ZeroMQ) transport.
//
// A local request is encoded with the wire codec exactly as for ZeroMQ,
// served by the worker's LocalServeFn (which decodes and validates it like
// the worker's server does) and its reply decoded like a received one, so
// statuses and error texts are the same on both paths. Its `done` runs on
// the calling thread before Send returns (transport.h allows it); it has no
// deadline and is never retried. Reply frames of kCopyBelow bytes or more
// are not copied: the Response's frames keep the worker's slices (a GET's
// chunk bytes) alive.
//
// Thread-safety: as Transport. The table of local endpoints is fixed at
// construction; the wrapped transport is owned.
#pragma once

#include <memory>
#include <vector>

#include "shovel/client.h"
#include "transport.h"

namespace shovel::client {

// `remote` serves the endpoints not in `locals`. A local endpoint listed
// twice is served by its first entry.
std::unique_ptr<Transport> NewLocalTransport(std::unique_ptr<Transport> remote,
                                             std::vector<LocalWorker> locals);

}  // namespace shovel::client
