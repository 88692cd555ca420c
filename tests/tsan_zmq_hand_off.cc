// Built and linked into every target only with SHOVEL_SANITIZE=thread: tells
// ThreadSanitizer that sending a ZeroMQ message happens before receiving it.
//
// Debian's libzmq is not instrumented, so TSan cannot see the ordering its
// pipes give: bytes one of our threads writes into a message and another of
// our threads reads after an inproc:// send and receive look like a race,
// although ZeroMQ hands a message to exactly one receiver after the sender let
// go of it. This library defines zmq_msg_send and zmq_msg_recv (the calls
// cppzmq's socket_t::send and recv make), so the dynamic linker picks them
// before libzmq's: each marks the message's bytes released before the real
// send and acquired after the real receive, then calls libzmq's through
// dlsym(RTLD_NEXT). An inproc message keeps its data pointer from sender to
// receiver, so the ordering is per message and hides nothing else; only
// messages of a few bytes (copied inside libzmq) get no mark, and need none.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>
#include <zmq.h>

#include <cstdio>
#include <cstdlib>

namespace {

template <typename Fn>
Fn Next(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_zmq_hand_off: libzmq's %s not found: %s\n", name,
                 dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

using MsgFn = int (*)(zmq_msg_t*, void*, int);

}  // namespace

extern "C" int zmq_msg_send(zmq_msg_t* msg, void* socket, int flags) {
  static const MsgFn real = Next<MsgFn>("zmq_msg_send");
  if (zmq_msg_size(msg) > 0) __tsan_release(zmq_msg_data(msg));
  return real(msg, socket, flags);
}

extern "C" int zmq_msg_recv(zmq_msg_t* msg, void* socket, int flags) {
  static const MsgFn real = Next<MsgFn>("zmq_msg_recv");
  int n = real(msg, socket, flags);
  if (n > 0) __tsan_acquire(zmq_msg_data(msg));
  return n;
}
