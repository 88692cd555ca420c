#include "local_transport.h"

#include <atomic>
#include <exception>

namespace shovel::client {
namespace {

constexpr size_t kCopyBelow = 8192;  // smaller reply frames are copied

// A message frame that keeps `owner` alive instead of copying the bytes.
zmq::message_t HoldingMessage(const wire::SharedFrame& f) {
  if (f.bytes.size() < kCopyBelow || !f.owner) {
    return zmq::message_t(f.bytes.data(), f.bytes.size());
  }
  auto* hold = new std::shared_ptr<const void>(f.owner);
  return zmq::message_t(
      const_cast<char*>(f.bytes.data()), f.bytes.size(),
      [](void*, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); },
      hold);
}

class LocalTransport : public Transport {
 public:
  LocalTransport(std::unique_ptr<Transport> remote, std::vector<LocalWorker> locals)
      : remote_(std::move(remote)), locals_(std::move(locals)) {}

  void Send(const std::string& endpoint, const OutRequest& request,
            ResponseCallback done) override {
    if (const LocalWorker* w = Find(endpoint)) {
      done(Serve(*w, request));
      return;
    }
    remote_->Send(endpoint, request, std::move(done));
  }

  void SendMany(const RequestBatch& requests,
                std::vector<ResponseCallback> done) override {
    bool any_local = false;
    for (const auto& r : requests) any_local = any_local || Find(r.first) != nullptr;
    if (!any_local) {
      remote_->SendMany(requests, std::move(done));
      return;
    }
    // The remote requests go first, so they travel while the local ones are
    // served here.
    RequestBatch remote;
    std::vector<ResponseCallback> remote_done;
    std::vector<std::pair<const LocalWorker*, size_t>> local;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (const LocalWorker* w = Find(requests[i].first)) {
        local.emplace_back(w, i);
      } else {
        remote.push_back(requests[i]);
        remote_done.push_back(std::move(done[i]));
      }
    }
    if (!remote.empty()) remote_->SendMany(remote, std::move(remote_done));
    for (auto [w, i] : local) done[i](Serve(*w, requests[i].second));
  }

  bool IsDown(const std::string& endpoint) override { return remote_->IsDown(endpoint); }
  void MarkDown(const std::string& endpoint) override { remote_->MarkDown(endpoint); }

 private:
  const LocalWorker* Find(const std::string& endpoint) const {
    for (const auto& w : locals_) {
      if (w.endpoint == endpoint) return &w;
    }
    return nullptr;
  }

  Result<ResponsePtr> Serve(const LocalWorker& w, const OutRequest& request) {
    wire::Header h = request.header;
    h.request_id = next_id_.fetch_add(1, std::memory_order_relaxed);
    char header[wire::kHeaderSize];
    wire::EncodeHeader(h, header);
    std::vector<std::string_view> frames;
    frames.reserve(3 + request.payload.size());
    frames.emplace_back(header, sizeof header);
    frames.push_back(request.id);
    frames.insert(frames.end(), request.payload.begin(), request.payload.end());
    if (request.frame) frames.push_back(request.frame->to_string_view());
    std::vector<wire::SharedFrame> reply;
    try {
      reply = w.serve(frames);
    } catch (const std::exception& e) {
      return Status::Internal("in-process worker " + w.endpoint + " failed: " + e.what());
    }
    if (reply.empty()) {
      // The worker refused the header: the status its server would have
      // put in the error reply.
      auto refused = wire::DecodeHeader(frames[0]);
      if (!refused.ok()) return refused.status();
      return Status::Protocol("in-process worker " + w.endpoint + " did not answer");
    }
    auto resp = std::make_unique<Response>();
    resp->endpoint = w.endpoint;
    resp->frames.reserve(reply.size());
    std::vector<std::string_view> views;
    views.reserve(reply.size());
    for (const auto& f : reply) {
      resp->frames.push_back(HoldingMessage(f));
      views.push_back(resp->frames.back().to_string_view());
    }
    reply.clear();
    auto decoded = wire::DecodeReply(views);
    if (!decoded.ok())
      return decoded.status().WithContext("bad reply from " + w.endpoint);
    if (decoded->header.request_id != h.request_id) {
      return Status::Protocol("in-process worker " + w.endpoint +
                              " answered another request id");
    }
    resp->reply = std::move(*decoded);
    return ResponsePtr(std::move(resp));
  }

  const std::unique_ptr<Transport> remote_;
  const std::vector<LocalWorker> locals_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace

std::unique_ptr<Transport> NewLocalTransport(std::unique_ptr<Transport> remote,
                                             std::vector<LocalWorker> locals) {
  return std::make_unique<LocalTransport>(std::move(remote), std::move(locals));
}

}  // namespace shovel::client
