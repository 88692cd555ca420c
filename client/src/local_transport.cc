#include "local_transport.h"

#include <atomic>
#include <exception>
#include <string>

namespace shovel::client {
namespace {

constexpr size_t kCopyBelow = 8192;  // smaller reply frames are copied

// What keeps a local reply's bytes alive: the worker's owners of the frames
// kept as they are, and one buffer for the copied ones.
struct LocalReply {
  std::vector<std::shared_ptr<const void>> owners;
  std::string copied;
};

bool Kept(const wire::SharedFrame& f) { return f.owner && f.bytes.size() >= kCopyBelow; }

// Moves the worker's reply frames into `resp` (frames and keep).
void TakeLocalReply(std::vector<wire::SharedFrame>& reply, Response& resp) {
  auto held = std::make_shared<LocalReply>();
  size_t copy = 0;
  for (const auto& f : reply) copy += Kept(f) ? 0 : f.bytes.size();
  held->copied.reserve(copy);  // appends below never move it
  resp.frames.reserve(reply.size());
  for (auto& f : reply) {
    if (Kept(f)) {
      resp.frames.push_back(f.bytes);
      held->owners.push_back(std::move(f.owner));
      continue;
    }
    const size_t at = held->copied.size();
    held->copied.append(f.bytes);
    resp.frames.push_back(std::string_view(held->copied).substr(at));
  }
  resp.keep = std::move(held);
  resp.frames_own_memory = true;
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
    if (request.frame) frames.push_back(request.frame->bytes);
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
    TakeLocalReply(reply, *resp);
    reply.clear();
    auto decoded = wire::DecodeReply(resp->frames);
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
