// FakeTransport: an in-memory HttpTransport for unit tests. Records every
// request and answers from a script (FIFO); an empty script answers HTTP 599
// so a test that sends more than it expected fails clearly. Thread-safe.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "shovel/consul/http_transport.h"

namespace shovel::consul::testing {

class FakeTransport : public HttpTransport {
 public:
  void Respond(int status, std::string body, std::optional<std::string> index = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    if (index) r.headers["x-consul-index"] = *index;
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(r));
  }
  void Fail(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(status));
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    if (script_.empty()) {
      HttpResponse r;
      r.status = 599;
      r.body = "FakeTransport: no scripted response";
      return r;
    }
    Result<HttpResponse> next = std::move(script_.front());
    script_.pop_front();
    return next;
  }
  std::string Describe() const override { return "http://fake:8500"; }

  std::vector<HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  HttpRequest last() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.empty() ? HttpRequest{} : requests_.back();
  }

 private:
  mutable std::mutex mu_;
  std::deque<Result<HttpResponse>> script_;
  std::vector<HttpRequest> requests_;
};

}  // namespace shovel::consul::testing
