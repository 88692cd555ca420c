// Keys with different roles on the same workers at once, each client with
// many requests in flight (pipelined MultiSet / MultiGet): every request is
// judged by the key of its own connection, never by another client's.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "key_files.h"
#include "shovel/client.h"
#include "worker_fixture.h"

namespace shovel {
namespace {

using test::Keygen;
using test::WriteFile;

class RolesInFlightTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shovel-roles-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    worker_pub_ = Keygen(dir_ + "/worker.key");
    const std::string rw = Keygen(dir_ + "/rw.key");
    const std::string ro = Keygen(dir_ + "/ro.key");
    WriteFile(dir_ + "/authorized", rw + "\n" + ro + " ro\n");
    for (int i = 1; i <= 2; ++i) {
      auto w = testing::WorkerProcess::Start("k" + std::to_string(i), "256MiB",
                                             "tcp://127.0.0.1:0",
                                             {"--key-file", dir_ + "/worker.key",
                                              "--authorized-keys", dir_ + "/authorized"});
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      workers_.push_back(std::move(*w));
    }
  }
  void TearDown() override {
    workers_.clear();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Client> ConnectAs(const std::string& key) {
    ClientOptions o;
    for (const auto& w : workers_) o.workers.push_back(w->endpoint());
    o.key_file = dir_ + "/" + key + ".key";
    o.worker_key = worker_pub_;
    o.keys_from_environment = false;
    auto c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  std::string dir_, worker_pub_;
  std::vector<std::unique_ptr<testing::WorkerProcess>> workers_;
};

std::string Id(int i) { return "roles/" + std::to_string(i); }

TEST_F(RolesInFlightTest, TwoKeysWithManyRequestsInFlightKeepTheirOwnRoles) {
  constexpr int kIds = 64, kRounds = 20;
  auto rw = ConnectAs("rw");
  auto ro = ConnectAs("ro");
  ASSERT_NE(rw, nullptr);
  ASSERT_NE(ro, nullptr);
  std::vector<std::pair<std::string, std::string>> first;
  for (int i = 0; i < kIds; ++i) first.emplace_back(Id(i), "r0-" + std::to_string(i));
  for (const auto& r : rw->MultiSet(first)) ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> ids;
  for (int i = 0; i < kIds; ++i) ids.push_back(Id(i));

  // The read-write client rewrites every id each round; meanwhile the
  // read-only one reads them all and tries to overwrite half, on the same
  // workers, each with a round's requests in flight at once.
  std::atomic<int> rw_failed{0};
  std::thread writer([&] {
    for (int round = 1; round <= kRounds; ++round) {
      std::vector<std::pair<std::string, std::string>> items;
      for (int i = 0; i < kIds; ++i) {
        items.emplace_back(Id(i), "r" + std::to_string(round) + "-" + std::to_string(i));
      }
      for (const auto& r : rw->StartMultiSet(std::move(items))->Wait()) {
        if (!r.ok()) {
          ADD_FAILURE() << "read-write key: " << r.status().ToString();
          rw_failed.fetch_add(1);
        }
      }
    }
  });
  int refused = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto reads = ro->StartMultiGet(ids);
    std::vector<std::pair<std::string, std::string>> items;
    for (int i = 0; i < kIds; i += 2) items.emplace_back(Id(i), "from the read-only key");
    auto writes = ro->StartMultiSet(std::move(items));
    auto got = reads->Wait();
    ASSERT_EQ(got.size(), ids.size());
    for (int i = 0; i < kIds; ++i) {
      ASSERT_TRUE(got[i].ok()) << Id(i) << ": " << got[i].status().ToString();
      // Some round's value of this id, never the read-only key's.
      const std::string tail = "-" + std::to_string(i);
      EXPECT_EQ(got[i]->front(), 'r') << *got[i];
      EXPECT_EQ(got[i]->substr(got[i]->size() - tail.size()), tail) << *got[i];
    }
    for (const auto& w : writes->Wait()) {
      ASSERT_FALSE(w.ok());
      EXPECT_EQ(w.status().code(), Code::kPermissionDenied) << w.status().ToString();
      EXPECT_NE(w.status().message().find("read-only key cannot write"),
                std::string::npos)
          << w.status().ToString();
      ++refused;
    }
  }
  writer.join();
  EXPECT_EQ(rw_failed.load(), 0);
  EXPECT_EQ(refused, kRounds * kIds / 2);
  // What the read-write key wrote last is what both keys read now.
  auto last_rw = rw->MultiGet(ids);
  auto last_ro = ro->MultiGet(ids);
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(last_rw[i].ok() && last_ro[i].ok()) << Id(i);
    EXPECT_EQ(*last_rw[i], "r" + std::to_string(kRounds) + "-" + std::to_string(i));
    EXPECT_EQ(*last_ro[i], *last_rw[i]);
  }
}

}  // namespace
}  // namespace shovel
