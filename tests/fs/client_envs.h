// The Client implementations the typed vfs suite runs against: FakeEnv (the
// in-memory FakeClient) and, when the client and worker libraries are built,
// RealEnv (the real client connected to an in-process worker on a free
// loopback port, fresh for every test) and LocalEnv (the same, with the
// client calling the worker in-process as shovelfs's embedded mode does).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "fake_client.h"

#ifdef SHOVEL_FS_REAL_CLIENT
#include "shovel/worker/worker.h"
#endif

namespace shovel::fs::testing {

struct FakeEnv {
  Client* client() { return &fake; }
  FakeClient fake;
};

#ifdef SHOVEL_FS_REAL_CLIENT
struct RealEnv {
  // `local`: the client calls the worker in-process (shovelfs's embedded
  // mode) instead of over loopback TCP.
  explicit RealEnv(bool local = false) {
    worker::WorkerOptions wo;
    wo.listen = "tcp://127.0.0.1:0";
    wo.max_memory = 512ull << 20;
    wo.threads = 2;
    auto w = worker::Worker::Start(wo);
    if (!w.ok()) throw std::runtime_error("worker: " + w.status().ToString());
    worker_ = std::move(w).value();
    ClientOptions co;
    co.workers = {worker_->endpoint()};
    if (local) co.local_workers = {{worker_->endpoint(), worker_->LocalServe()}};
    auto c = Client::Connect(co);
    if (!c.ok()) throw std::runtime_error("client: " + c.status().ToString());
    client_ = std::move(c).value();
  }
  ~RealEnv() {
    client_.reset();
    worker_->Stop();
  }
  Client* client() { return client_.get(); }
  std::unique_ptr<worker::Worker> worker_;
  std::unique_ptr<Client> client_;
};
struct LocalEnv : RealEnv {
  LocalEnv() : RealEnv(true) {}
};
using ClientEnvs = ::testing::Types<FakeEnv, RealEnv, LocalEnv>;
#else
using ClientEnvs = ::testing::Types<FakeEnv>;
#endif

}  // namespace shovel::fs::testing
