// The in-process path (ClientOptions::local_workers + Worker::LocalServe)
// against the ZeroMQ path to the same worker: one client calls the worker
// in-process, the other over TCP loopback, and both must see the same bytes,
// versions, statuses and error texts. Also: a request after Stop() gets a
// clear error, and the serve function outlives its Worker safely.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <thread>

#include "local_transport.h"
#include "random_bytes.h"
#include "shovel/client.h"
#include "shovel/worker/worker.h"
#include "transport.h"
#include "zmq_transport.h"

namespace shovel {
namespace {

using test::RandomBytes;

using client::OutRequest;

// An in-process worker on a free loopback port (throws if it cannot start).
std::unique_ptr<worker::Worker> NewWorker(const std::string& node_id, uint64_t max_memory,
                                          bool eviction = true) {
  worker::WorkerOptions wo;
  wo.listen = "tcp://127.0.0.1:0";
  wo.node_id = node_id;
  wo.max_memory = max_memory;
  wo.eviction = eviction;
  wo.compression_level = 0;
  wo.threads = 2;
  auto w = worker::Worker::Start(wo);
  if (!w.ok()) throw std::runtime_error("worker: " + w.status().ToString());
  return std::move(w).value();
}

class LocalPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    worker_ = NewWorker("local-w", 256ull << 20);
    ClientOptions co;
    co.workers = {worker_->endpoint()};
    co.deadline = std::chrono::milliseconds(3000);
    auto tcp = Client::Connect(co);
    ASSERT_TRUE(tcp.ok()) << tcp.status().ToString();
    tcp_ = std::move(tcp).value();
    co.local_workers = {{worker_->endpoint(), worker_->LocalServe()}};
    auto local = Client::Connect(co);
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    local_ = std::move(local).value();
  }

  // Both clients, the in-process one first.
  std::vector<Client*> Both() { return {local_.get(), tcp_.get()}; }

  std::unique_ptr<worker::Worker> worker_;
  std::unique_ptr<Client> tcp_;
  std::unique_ptr<Client> local_;
};

void ExpectSameStat(const BlobStat& a, const BlobStat& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.stored_bytes, b.stored_bytes);
  EXPECT_EQ(a.mtime_ns, b.mtime_ns);
  EXPECT_EQ(a.ctime_ns, b.ctime_ns);
  EXPECT_EQ(a.pinned, b.pinned);
  EXPECT_EQ(a.holders, b.holders);
  EXPECT_EQ(a.attrs, b.attrs);
}

TEST_F(LocalPathTest, SetOnOnePathIsReadWholeOnTheOther) {
  for (Client* writer : Both()) {
    Client* reader = writer == local_.get() ? tcp_.get() : local_.get();
    std::string small = "hello from " + std::string(writer == local_.get() ? "l" : "t");
    auto v = writer->Set("a/small", small);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    auto got = reader->GetWithVersion("a/small", 0, kWholeBlob);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->data, small);
    EXPECT_EQ(got->version, *v);
    EXPECT_EQ(got->size, small.size());
  }
  // Large enough for zero-copy reply frames, and for a streamed upload.
  for (size_t n : {size_t{1} << 20, (size_t{9} << 20) + 17}) {
    std::string big = RandomBytes(n, static_cast<uint32_t>(n));
    auto v = local_->Set("a/big", big);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    for (Client* c : Both()) {
      auto got = c->Get("a/big");
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_TRUE(*got == big) << "sizes " << got->size() << " vs " << big.size();
      auto range = c->Get("a/big", 12345, 300000);
      ASSERT_TRUE(range.ok());
      EXPECT_EQ(*range, big.substr(12345, 300000));
    }
  }
}

TEST_F(LocalPathTest, AppendStatListAndAttrsAgree) {
  ASSERT_TRUE(local_->Append("log", "one,").ok());
  ASSERT_TRUE(tcp_->Append("log", "two,").ok());
  auto v = local_->Append("log", "three");
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(tcp_->SetAttrs("log", {{"mode", "600"}}).ok());
  auto a = local_->Stat("log");
  auto b = tcp_->Stat("log");
  ASSERT_TRUE(a.ok() && b.ok());
  ExpectSameStat(*a, *b);
  EXPECT_EQ(a->size, 13u);
  EXPECT_GE(a->version, *v);
  EXPECT_EQ(a->attrs["mode"], "600");
  EXPECT_EQ(*local_->Get("log"), "one,two,three");

  for (int i = 0; i < 30; ++i) {
    Client* c = i % 2 ? tcp_.get() : local_.get();
    ASSERT_TRUE(c->Set("dir/f" + std::to_string(100 + i), "x").ok());
  }
  ASSERT_TRUE(tcp_->Set("dir/sub/g", "y").ok());
  for (bool delimiter : {false, true}) {
    std::vector<std::string> seen[2];
    for (int k = 0; k < 2; ++k) {
      Client* c = Both()[k];
      std::string cur;
      do {
        auto page = c->List("dir/", cur, 7, delimiter);
        ASSERT_TRUE(page.ok()) << page.status().ToString();
        seen[k].insert(seen[k].end(), page->ids.begin(), page->ids.end());
        cur = page->next_cursor;
      } while (!cur.empty());
    }
    EXPECT_EQ(seen[0], seen[1]);
    EXPECT_EQ(seen[0].size(), 31u);  // 30 files + "sub/g" (or "sub/")
  }
  auto name_l = local_->StatName("dir");
  auto name_t = tcp_->StatName("dir");
  ASSERT_TRUE(name_l.ok() && name_t.ok());
  EXPECT_TRUE(name_l->has_children);
  EXPECT_EQ(name_l->has_children, name_t->has_children);
  EXPECT_EQ(name_l->stat.has_value(), name_t->stat.has_value());

  ASSERT_TRUE(local_->Rename("dir/f100", "dir/renamed").ok());
  EXPECT_EQ(*tcp_->Get("dir/renamed"), "x");
  ASSERT_TRUE(tcp_->Delete("dir/renamed").ok());
  EXPECT_FALSE(*local_->Exists("dir/renamed"));
  auto members = local_->Members();
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ((*members)[0].node_id, "local-w");
  EXPECT_TRUE((*members)[0].healthy);
}

// GetBytes of a range below the ZeroMQ zero-copy size (and above the
// in-process path's own copy size, 8 KiB): the in-process
// reply is the worker's own memory, kept as it is (both reads see the very
// same bytes), where the TCP reply is copied out of the receive buffer.
TEST_F(LocalPathTest, GetBytesKeepsTheInProcessReplyWithoutCopying) {
  const std::string data = RandomBytes(1 << 20, 5);
  ASSERT_TRUE(local_->Set("zc", data).ok());
  for (uint64_t len : {uint64_t{16384}, uint64_t{32768}}) {
    auto a = local_->GetBytes("zc", 40960, len);
    auto b = local_->GetBytes("zc", 40960, len);
    auto t = tcp_->GetBytes("zc", 40960, len);
    ASSERT_TRUE(a.ok() && b.ok() && t.ok());
    EXPECT_EQ(a->view(), data.substr(40960, len));
    EXPECT_EQ(t->view(), a->view());
    EXPECT_EQ(a->data(), b->data()) << len << " bytes were copied";
    EXPECT_NE(t->data(), a->data());
  }
}

TEST_F(LocalPathTest, MultiSetAndMultiGetAgree) {
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 50; ++i) {
    items.emplace_back("m/" + std::to_string(i), RandomBytes(10 + i * 997, i));
  }
  items.emplace_back("bad//id", "x");
  auto set = local_->MultiSet(items);
  ASSERT_EQ(set.size(), items.size());
  std::vector<std::string> ids;
  for (const auto& [id, value] : items) ids.push_back(id);
  ids.push_back("m/missing");
  auto from_local = local_->MultiGet(ids);
  auto from_tcp = tcp_->MultiGet(ids);
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(from_local[i].ok(), from_tcp[i].ok()) << ids[i];
    if (from_local[i].ok()) {
      EXPECT_TRUE(set[i].ok());
      EXPECT_EQ(*from_local[i], items[i].second);
      EXPECT_EQ(*from_tcp[i], items[i].second);
    } else {
      EXPECT_EQ(from_local[i].status().code(), from_tcp[i].status().code()) << ids[i];
      EXPECT_EQ(from_local[i].status().message(), from_tcp[i].status().message());
    }
  }
  EXPECT_FALSE(set[50].ok());
  EXPECT_TRUE(from_local[51].status().IsNotFound());
  // Started and waited for later: on the local path the replies are in
  // before Start returns; the results are the same.
  auto started_local = local_->StartMultiGet(ids);
  auto started_tcp = tcp_->StartMultiGet(ids);
  auto later_local = started_local->Wait(), later_tcp = started_tcp->Wait();
  ASSERT_EQ(later_local.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(later_local[i].ok(), from_local[i].ok()) << ids[i];
    ASSERT_EQ(later_tcp[i].ok(), from_local[i].ok()) << ids[i];
    if (from_local[i].ok()) {
      EXPECT_EQ(*later_local[i], items[i].second);
      EXPECT_EQ(*later_tcp[i], items[i].second);
    }
  }
}

TEST_F(LocalPathTest, ErrorsAreTheSameOnBothPaths) {
  ASSERT_TRUE(tcp_->Set("present", "abc").ok());
  std::vector<Status> got[2];
  for (int k = 0; k < 2; ++k) {
    Client* c = Both()[k];
    got[k].push_back(c->Get("missing").status());
    got[k].push_back(c->Stat("missing").status());
    got[k].push_back(c->Delete("missing"));
    got[k].push_back(c->Get("a//b").status());
    got[k].push_back(c->Rename("missing", "other"));
    got[k].push_back(c->List("x", "", 10, true).status());
  }
  for (size_t i = 0; i < got[0].size(); ++i) {
    EXPECT_FALSE(got[0][i].ok()) << i;
    EXPECT_EQ(got[0][i].code(), got[1][i].code()) << i;
    EXPECT_EQ(got[0][i].message(), got[1][i].message()) << i;
  }
  EXPECT_TRUE(got[0][0].IsNotFound());
  EXPECT_EQ(got[0][3].code(), Code::kInvalidArgument);
}

// Requests the client library would never send (a bad id reaches the
// worker's own validation): the worker's error reply is the same text.
TEST_F(LocalPathTest, WorkerSideValidationIsTheSame) {
  auto zmq = client::NewZmqTransport({});
  auto local = client::NewLocalTransport(client::NewZmqTransport({}),
                                         {{worker_->endpoint(), worker_->LocalServe()}});
  std::vector<OutRequest> reqs(4);
  reqs[0].header.op = wire::Op::kGet;
  reqs[0].id = "bad//id";
  reqs[1].header.op = wire::Op::kStat;
  reqs[1].id = std::string_view("nul\0id", 6);
  reqs[2].header.op = wire::Op::kUploadData;  // no such upload handle
  reqs[2].header.aux = 987654;
  reqs[2].payload = {"bytes"};
  reqs[3].header.op = wire::Op::kSet;
  reqs[3].header.flags = 0x8000;  // unknown flag
  reqs[3].id = "fine";
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto a = local->Call(worker_->endpoint(), reqs[i]);
    auto b = zmq->Call(worker_->endpoint(), reqs[i]);
    // As the client reads an outcome: a failed call or an error reply.
    Status sa = a.ok() ? wire::ReplyStatus((*a)->reply) : a.status();
    Status sb = b.ok() ? wire::ReplyStatus((*b)->reply) : b.status();
    EXPECT_FALSE(sa.ok()) << i;
    EXPECT_EQ(sa.code(), sb.code())
        << i << ": " << sa.ToString() << " / " << sb.ToString();
    EXPECT_EQ(sa.message(), sb.message()) << i;
    if (a.ok()) {
      EXPECT_EQ((*a)->endpoint, worker_->endpoint());
    }
  }
}

// transport.h's contract for a worker in this process: `done` runs once, on
// the calling thread, before Send returns.
TEST_F(LocalPathTest, LocalDoneRunsOnTheCallerBeforeSendReturns) {
  auto t = client::NewLocalTransport(client::NewZmqTransport({}),
                                     {{worker_->endpoint(), worker_->LocalServe()}});
  OutRequest r;
  r.header.op = wire::Op::kPing;
  int calls = 0;
  std::thread::id ran_on;
  t->Send(worker_->endpoint(), r, [&](Result<client::ResponsePtr> got) {
    ++calls;
    ran_on = std::this_thread::get_id();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ((*got)->PayloadBytes(), "local-w");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST_F(LocalPathTest, SendManyMixesLocalAndRemoteEndpoints) {
  auto other = NewWorker("remote-w", 64ull << 20);
  auto t = client::NewLocalTransport(client::NewZmqTransport({}),
                                     {{worker_->endpoint(), worker_->LocalServe()}});
  client::RequestBatch batch;
  for (int i = 0; i < 6; ++i) {
    OutRequest r;
    r.header.op = wire::Op::kPing;
    batch.emplace_back(i % 2 ? other->endpoint() : worker_->endpoint(), r);
  }
  auto replies = t->CallMany(batch);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(replies[i].ok()) << replies[i].status().ToString();
    EXPECT_EQ((*replies[i])->PayloadBytes(), i % 2 ? "remote-w" : "local-w");
  }
}

TEST(LocalPathNoSpace, FullWorkerSaysNoSpaceOnBothPaths) {
  auto w = NewWorker("full", 1ull << 20, /*eviction=*/false);
  ClientOptions co;
  co.workers = {w->endpoint()};
  auto tcp = Client::Connect(co);
  co.local_workers = {{w->endpoint(), w->LocalServe()}};
  auto local = Client::Connect(co);
  ASSERT_TRUE(tcp.ok() && local.ok());
  std::string big = RandomBytes(2 << 20, 3);
  Status a = (*local)->Set("too/big", big).status();
  Status b = (*tcp)->Set("too/big", big).status();
  EXPECT_EQ(a.code(), Code::kNoSpace) << a.ToString();
  EXPECT_EQ(a.code(), b.code());
  EXPECT_EQ(a.message(), b.message());
  Status c = (*local)->Set("small", "fits").status();
  EXPECT_TRUE(c.ok()) << c.ToString();
}

TEST_F(LocalPathTest, ManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string id = "t" + std::to_string(t) + "/" + std::to_string(i % 10);
        std::string value = RandomBytes(100 + i, t * 1000 + i);
        if (!local_->Set(id, value).ok()) ++failures;
        auto got = local_->Get(id);
        if (!got.ok() || *got != value) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(LocalPathTest, AfterStopTheLocalPathAnswersUnavailable) {
  ASSERT_TRUE(local_->Set("k", "v").ok());
  wire::LocalServeFn serve = worker_->LocalServe();
  worker_->Stop();
  auto r = local_->Get("k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("has stopped"), std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find(worker_->endpoint()), std::string::npos);
  // The function outlives the Worker: still an error reply, no crash.
  local_.reset();
  worker_.reset();
  wire::Header h;
  h.op = wire::Op::kPing;
  h.request_id = 77;
  std::string header = wire::EncodeHeader(h);
  auto reply = serve({header, ""});
  ASSERT_FALSE(reply.empty());
  std::vector<std::string_view> views;
  for (auto& f : reply) views.push_back(f.bytes);
  auto decoded = wire::DecodeReply(views);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->header.request_id, 77u);
  EXPECT_EQ(decoded->header.status, Code::kUnavailable);
  // A frame that is not a header gets no reply at all.
  EXPECT_TRUE(serve({"garbage", ""}).empty());
}

TEST(LocalPathConnect, LocalWorkersAloneAreTheMembership) {
  auto w = NewWorker("only", 16ull << 20);
  ClientOptions co;
  co.local_workers = {{w->endpoint(), w->LocalServe()}};
  auto c = Client::Connect(co);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE((*c)->Set("x", "1").ok());
  auto ids = (*c)->NodeIds("x");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, std::vector<std::string>{"only"});

  co.local_workers = {{w->endpoint(), nullptr}};
  auto bad = Client::Connect(co);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("LocalServe"), std::string::npos);
}

}  // namespace
}  // namespace shovel
