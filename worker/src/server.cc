// Server start-up and shutdown: binding the ROUTER, the handler pipes and
// the connection monitor, starting and joining the threads. The I/O loop is
// in server_io.cc, the sockets' peers in server_peers.cc, the handler lanes
// in server_handlers.cc.
#include "server.h"

#include <zmq.hpp>

namespace shovel::worker {
namespace {

// Per peer, in messages: requests ZeroMQ reads ahead of the I/O thread, and
// replies it queues (past this a ROUTER drops them; the byte bound of
// ReplyBudget normally stops a peer long before).
constexpr int kRecvHwm = 256;
constexpr int kSendHwm = 1000;

}  // namespace

Result<std::unique_ptr<Server>> Server::Bind(const std::string& listen, int io_threads,
                                             const ServerSecurity* security) {
  std::unique_ptr<Server> s(new Server);
  std::string ep = listen;
  if (ep.size() > 2 && ep.compare(ep.size() - 2, 2, ":0") == 0) {
    ep.replace(ep.size() - 1, 1, "*");
  }
  try {
    // Each client connection's TCP copies run on one of the I/O threads.
    s->ctx_ = std::make_unique<zmq::context_t>(io_threads);
    if (security) {
      // The ZAP handler listens before the CURVE socket binds.
      SHOVEL_ASSIGN_OR_RETURN(s->zap_, ZapHandler::Start(*s->ctx_, security->auth));
      s->auth_ = security->auth;
    }
    s->router_ = std::make_unique<zmq::socket_t>(*s->ctx_, zmq::socket_type::router);
    if (security) {
      s->router_->set(zmq::sockopt::curve_server, 1);
      s->router_->set(zmq::sockopt::curve_secretkey, security->secret_key);
      s->router_->set(zmq::sockopt::zap_domain, "shoveling");
    }
    s->router_->set(zmq::sockopt::maxmsgsize,
                    static_cast<int64_t>(wire::kMaxMessageBytes + 4096));
    s->router_->set(zmq::sockopt::rcvhwm, kRecvHwm);
    s->router_->set(zmq::sockopt::sndhwm, kSendHwm);
    s->router_->set(zmq::sockopt::linger, 2000);
    // A peer that answers no ZMTP heartbeat for 30 s (a host that vanished
    // without a FIN) is dropped with what was queued for it.
    s->router_->set(zmq::sockopt::heartbeat_ivl, 10000);
    s->router_->set(zmq::sockopt::heartbeat_timeout, 30000);
    s->router_->bind(ep);
    s->endpoint_ = s->router_->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot listen on '" + listen + "': " + e.what());
  }
  return s;
}

Server::~Server() {
  Stop();
  if (router_) zmq_socket_monitor(router_->handle(), nullptr, 0);
  monitor_.reset();
  router_.reset();
  from_handlers_.clear();
  to_handlers_.clear();
  handler_in_.clear();
  handler_out_.clear();
  zap_.reset();
  if (ctx_) ctx_->close();
}

Status Server::Start(Service* service, Store* store, ServiceCounters* counters,
                     int threads, const ServerLimits& limits) {
  limits_ = limits;
  budget_ = std::make_unique<ReplyBudget>(limits.replies);
  service_ = service;
  store_ = store;
  counters_ = counters;
  inproc_ = "inproc://shovel-" + std::to_string(reinterpret_cast<uintptr_t>(this));
  try {
    std::string mon = inproc_ + "-monitor";
    if (zmq_socket_monitor(router_->handle(), mon.c_str(),
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
      throw zmq::error_t();
    }
    monitor_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pair);
    monitor_->connect(mon);
    for (int i = 0; i < threads; ++i) {
      std::string ep = inproc_ + "-h" + std::to_string(i);
      auto push = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::push);
      push->set(zmq::sockopt::sndhwm, 0);
      push->bind(ep);
      auto in = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pull);
      in->set(zmq::sockopt::rcvhwm, 0);
      in->connect(ep);
      // One reply pipe per handler: the I/O thread counts each lane's
      // replies to know when the lane is idle.
      auto pull = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pull);
      pull->set(zmq::sockopt::rcvhwm, 0);
      pull->bind(ep + "-replies");
      auto out = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::push);
      out->set(zmq::sockopt::sndhwm, 0);
      out->connect(ep + "-replies");
      to_handlers_.push_back(std::move(push));
      handler_in_.push_back(std::move(in));
      from_handlers_.push_back(std::move(pull));
      handler_out_.push_back(std::move(out));
    }
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("cannot set up handler sockets: ") + e.what());
  }
  started_ = true;
  for (int i = 0; i < threads; ++i) handlers_.emplace_back([this, i] { HandlerLoop(i); });
  io_ = std::thread([this] { IoLoop(); });
  return Status::Ok();
}

void Server::Stop() {
  if (!started_) return;
  started_ = false;
  stop_ = true;
  if (io_.joinable()) io_.join();
  for (auto& s : to_handlers_) {
    try {
      s->send(zmq::message_t(), zmq::send_flags::none);
    } catch (const zmq::error_t&) {
    }
  }
  for (auto& t : handlers_) t.join();
  handlers_.clear();
}

}  // namespace shovel::worker
