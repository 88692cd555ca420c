#include "zap_handler.h"

#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace shovel::worker {

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                      Authorizer* auth) {
  std::unique_ptr<ZapHandler> h(new ZapHandler);
  h->auth_ = auth;
  try {
    h->socket_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
    h->socket_->set(zmq::sockopt::linger, 0);
    h->socket_->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("cannot start the ZAP handler: ") + e.what());
  }
  h->thread_ = std::thread([p = h.get()] { p->Run(); });
  return h;
}

ZapHandler::~ZapHandler() { Stop(); }

void ZapHandler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  socket_.reset();
}

void ZapHandler::Run() {
  // Request (RFC 27): version, request id, domain, address, routing id,
  // mechanism, credentials... Reply: version, request id, status code,
  // status text, user id, metadata.
  std::vector<zmq::message_t> req;
  try {
    while (!stop_) {
      zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      req.clear();
      if (!zmq::recv_multipart(*socket_, std::back_inserter(req))) continue;
      std::string version = req.size() > 0 ? req[0].to_string() : "";
      std::string request_id = req.size() > 1 ? req[1].to_string() : "";
      std::string address = req.size() > 3 ? req[3].to_string() : "?";
      std::string mechanism = req.size() > 5 ? req[5].to_string() : "";
      std::string key;
      if (req.size() > 6 && req[6].size() == 32) {
        char z85[41];
        if (zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32))
          key = z85;
      }
      std::string code = "400", text = "key not authorized";
      if (version != "1.0") {
        text = "unsupported ZAP version";
      } else if (mechanism != "CURVE" || key.empty()) {
        text = "a key (CURVE) is required";
        auth_->Refused(address, "", "no CURVE key");
      } else if (auth_->RoleOf(key)) {
        code = "200";
        text = "OK";
      } else {
        auth_->Refused(address, key, "key not in the authorized keys");
      }
      std::vector<zmq::message_t> rep;
      rep.emplace_back(version.data(), version.size());
      rep.emplace_back(request_id.data(), request_id.size());
      rep.emplace_back(code.data(), code.size());
      rep.emplace_back(text.data(), text.size());
      rep.emplace_back(code == "200" ? key.data() : "", code == "200" ? key.size() : 0);
      rep.emplace_back();
      zmq::send_multipart(*socket_, rep);
    }
  } catch (const zmq::error_t&) {
    // The context is closing.
  }
}

}  // namespace shovel::worker
