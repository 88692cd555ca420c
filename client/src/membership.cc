#include "membership.h"

#include <algorithm>

namespace shovel::client {
namespace {

void SortMembers(std::vector<Member>& m) {
  std::sort(m.begin(), m.end(), [](const Member& a, const Member& b) {
    if (a.node_id != b.node_id) return a.node_id < b.node_id;
    return a.endpoint < b.endpoint;
  });
}

}  // namespace

StaticMembership::StaticMembership(std::vector<std::string> endpoints, PingFn ping,
                                   std::chrono::milliseconds retry)
    : ping_(std::move(ping)) {
  std::sort(endpoints.begin(), endpoints.end());
  endpoints.erase(std::unique(endpoints.begin(), endpoints.end()), endpoints.end());
  for (auto& e : endpoints) {
    set_.members.push_back(Member{e, e, false, ""});
  }
  set_.generation = 1;
  Refresh();
  if (retry.count() <= 0) return;
  retry_thread_ = std::thread([this, retry] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_cv_.wait_for(lock, retry, [&] { return stop_; })) {
      bool any = std::any_of(set_.members.begin(), set_.members.end(),
                             [](const Member& m) { return !m.healthy; });
      if (!any) continue;
      lock.unlock();
      Refresh();
      lock.lock();
    }
  });
}

StaticMembership::~StaticMembership() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (retry_thread_.joinable()) retry_thread_.join();
}

MemberSet StaticMembership::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  return set_;
}

void StaticMembership::Refresh() {
  std::lock_guard<std::mutex> refresh(refresh_mu_);
  std::vector<std::string> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& m : set_.members) {
      if (!m.healthy || m.node_id == m.endpoint) todo.push_back(m.endpoint);
    }
  }
  if (todo.empty() || !ping_) return;
  std::vector<Result<std::string>> ids = ping_(todo);
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool changed = false;
    for (size_t i = 0; i < todo.size(); ++i) {
      if (!ids[i].ok() || ids[i]->empty()) continue;
      for (auto& m : set_.members) {
        if (m.endpoint != todo[i]) continue;
        changed |= !m.healthy || m.node_id != *ids[i];
        m.healthy = true;
        m.node_id = *ids[i];
      }
    }
    if (changed) {
      SortMembers(set_.members);
      generation = ++set_.generation;
    }
  }
  if (generation) Publish(generation);
}

void StaticMembership::ReportHealth(const std::string& endpoint, bool healthy) {
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& m : set_.members) {
      if (m.endpoint == endpoint && m.healthy != healthy) {
        m.healthy = healthy;
        generation = ++set_.generation;
      }
    }
  }
  if (generation) Publish(generation);
}

void StaticMembership::Subscribe(Listener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(std::move(listener));
}

void StaticMembership::Publish(uint64_t generation) {
  std::vector<Listener> copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    copy = listeners_;
  }
  for (auto& l : copy) l(generation);
}

Status CheckEndpoint(std::string_view e) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(
        "worker '" + std::string(e) +
        "' is not a ZeroMQ endpoint (expected tcp://HOST:PORT" + why + ")");
  };
  size_t scheme = e.find("://");
  if (scheme == std::string_view::npos || scheme == 0) return bad("");
  if (e.substr(0, scheme) != "tcp") return Status::Ok();  // ipc://, inproc://
  std::string_view addr = e.substr(scheme + 3);
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("");
  std::string_view port = addr.substr(colon + 1);
  bool digits = !port.empty() && port.size() <= 5 &&
                port.find_first_not_of("0123456789") == std::string_view::npos;
  int number = digits ? std::stoi(std::string(port)) : 0;
  if (number < 1 || number > 65535) return bad("; the port is 1 to 65535");
  return Status::Ok();
}

Result<std::vector<std::string>> ParseWorkerList(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (!item.empty()) {
      SHOVEL_RETURN_IF_ERROR(CheckEndpoint(item));
      out.emplace_back(item);
    }
    pos = comma + 1;
  }
  return out;
}

}  // namespace shovel::client
