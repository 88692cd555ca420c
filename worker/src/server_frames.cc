#include "server_frames.h"

#include <sys/socket.h>

#include <chrono>

namespace shovel::worker::frames {
namespace {

constexpr size_t kCopyBelow = 8192;  // smaller reply frames are copied

// A reply's own bytes (a decompressed range, a listing), counted in the
// store's transit gauge until ZeroMQ frees them.
struct OwnedReply {
  std::string bytes;
  std::atomic<int64_t>* transit;
};

// Moving a frame this large keeps its data pointer (only frames of a few
// bytes live inline), so views taken before KeepPayload moves it stay valid.
constexpr size_t kKeepAbove = 64 << 10;

}  // namespace

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string PeerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return std::string(reinterpret_cast<const char*>(&ss), len);
}

bool RecvMessage(zmq::socket_t& s, std::vector<zmq::message_t>& out, size_t max_frames,
                 bool& oversized) {
  out.clear();
  oversized = false;
  zmq::message_t m;
  if (!s.recv(m, zmq::recv_flags::dontwait)) return false;
  for (;;) {
    bool more = m.more();
    if (out.size() < max_frames)
      out.push_back(std::move(m));
    else
      oversized = true;
    if (!more) return true;
    m = zmq::message_t();
    (void)s.recv(m, zmq::recv_flags::none);  // parts of a message arrive together
  }
}

void SendAll(zmq::socket_t& s, std::vector<zmq::message_t>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    auto flags = zmq::send_flags::dontwait;
    if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
    (void)s.send(frames[i], flags);
  }
}

zmq::message_t ToMessage(Frame& f, std::atomic<int64_t>* transit) {
  if (!f.slice.owner) {
    if (f.bytes.size() < kCopyBelow)
      return zmq::message_t(f.bytes.data(), f.bytes.size());
    auto* hold = new OwnedReply{std::move(f.bytes), transit};
    if (transit) transit->fetch_add(static_cast<int64_t>(hold->bytes.size()));
    return zmq::message_t(
        hold->bytes.data(), hold->bytes.size(),
        [](void*, void* hint) {
          auto* h = static_cast<OwnedReply*>(hint);
          if (h->transit) h->transit->fetch_sub(static_cast<int64_t>(h->bytes.size()));
          delete h;
        },
        hold);
  }
  if (f.slice.size < kCopyBelow) return zmq::message_t(f.slice.data, f.slice.size);
  auto* hold = new std::shared_ptr<const void>(std::move(f.slice.owner));
  return zmq::message_t(
      const_cast<char*>(f.slice.data), f.slice.size,
      [](void*, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); },
      hold);
}

std::shared_ptr<const void> KeepPayload(std::vector<zmq::message_t>& msg) {
  if (msg.size() != 4 || msg[3].size() < kKeepAbove) return nullptr;
  return std::make_shared<zmq::message_t>(std::move(msg[3]));
}

zmq::message_t HeaderMessage(const wire::Header& h) {
  zmq::message_t m(wire::kHeaderSize);
  wire::EncodeHeader(h, static_cast<char*>(m.data()));
  return m;
}

void ReplyWithError(zmq::socket_t& router, std::vector<zmq::message_t>& msg,
                    const Status& st) {
  if (msg.size() < 2 || msg[1].size() != wire::kHeaderSize) return;
  const auto* p = static_cast<const unsigned char*>(msg[1].data());
  wire::Header req;
  for (int i = 7; i >= 0; --i) req.request_id = (req.request_id << 8) | p[8 + i];
  req.op = p[3] <= wire::kMaxOp ? static_cast<wire::Op>(p[3]) : wire::Op::kPing;
  ServiceReply rep = Service::Error(req, st);
  std::vector<zmq::message_t> out;
  out.push_back(std::move(msg[0]));
  out.push_back(HeaderMessage(rep.header));
  out.push_back(ToMessage(rep.payload[0]));
  SendAll(router, out);
}

bool FrameProbe::Cheap() {
  auto req = Decode();
  return req.ok() && service_.Cheap(*req);
}

void FrameProbe::BatchIds(std::vector<std::string_view>& ids) {
  ids.clear();
  auto req = Decode();
  if (!req.ok()) return;
  wire::BatchReader reader(req->payload[0], req->header.aux);
  wire::Frames item;
  bool ok = reader.CheckCount().ok();
  for (uint64_t i = 0; ok && i < req->header.aux; ++i) {
    ok = reader.Next(&item).ok();
    if (ok && item.size() >= 2) ids.push_back(item[1]);
  }
  if (!ok || !reader.Finish().ok()) ids.clear();
}

Result<wire::Request> FrameProbe::Decode() {
  views_.clear();
  for (size_t i = 1; i < msg_.size(); ++i) views_.push_back(View(msg_[i]));
  return wire::DecodeRequest(views_);
}

}  // namespace shovel::worker::frames
