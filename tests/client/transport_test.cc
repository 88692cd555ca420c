// The ZeroMQ transport over inproc://, against a fake worker (a ROUTER
// socket in a test thread) that answers in an order the test chooses.
#include "transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <zmq_addon.hpp>

#include "connection_watch.h"
#include "down_endpoints.h"
#include "zmq_transport.h"

namespace shovel::client {
namespace {

using namespace std::chrono_literals;

// Receives `n` requests, then answers them in reverse order, echoing the
// request's offset field in version_no (so the test can match them).
void ReverseWorker(zmq::socket_t& router, int n, int skip_every = 0) {
  std::vector<std::vector<zmq::message_t>> got;
  for (int i = 0; i < n; ++i) {
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(router, std::back_inserter(frames));
    got.push_back(std::move(frames));
  }
  for (int i = n - 1; i >= 0; --i) {
    if (skip_every && i % skip_every == 0) continue;
    auto h = wire::DecodeHeader(got[i][1].to_string_view());
    wire::Header reply = wire::ReplyHeader(*h, Code::kOk);
    reply.version_no = h->offset;
    router.send(got[i][0], zmq::send_flags::sndmore);
    router.send(zmq::buffer(wire::EncodeHeader(reply)), zmq::send_flags::sndmore);
    router.send(zmq::buffer("payload-" + std::to_string(h->offset)),
                zmq::send_flags::none);
  }
}

OutRequest Get(uint64_t tag, std::chrono::milliseconds deadline = 2000ms) {
  OutRequest r;
  r.header.op = wire::Op::kGet;
  r.header.offset = tag;
  r.id = "some/id";
  r.deadline = deadline;
  return r;
}

class TransportTest : public ::testing::Test {
 protected:
  zmq::context_t ctx_;
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  std::unique_ptr<Transport> t_;
  void SetUp() override {
    router_.bind("inproc://worker");
    t_ = NewZmqTransport({&ctx_});
  }
};

TEST_F(TransportTest, MatchesRepliesOutOfOrder) {
  std::thread worker([&] { ReverseWorker(router_, 20); });
  std::vector<std::pair<std::string, OutRequest>> reqs;
  for (uint64_t i = 0; i < 20; ++i) reqs.emplace_back("inproc://worker", Get(i));
  auto replies = t_->CallMany(reqs);
  worker.join();
  for (uint64_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(replies[i].ok()) << replies[i].status().ToString();
    EXPECT_EQ((*replies[i])->reply.header.version_no, i);
    EXPECT_EQ((*replies[i])->PayloadBytes(), "payload-" + std::to_string(i));
    EXPECT_EQ((*replies[i])->endpoint, "inproc://worker");
  }
}

TEST_F(TransportTest, DeadlineExpiresWithTimeoutNamingTheWorker) {
  std::thread worker([&] { ReverseWorker(router_, 4, 2); });  // drops 0 and 2
  std::vector<std::pair<std::string, OutRequest>> reqs;
  for (uint64_t i = 0; i < 4; ++i) {
    OutRequest r = Get(i, 300ms);
    r.header.op = wire::Op::kSet;  // not idempotent: no retry
    reqs.emplace_back("inproc://worker", r);
  }
  auto start = std::chrono::steady_clock::now();
  auto replies = t_->CallMany(reqs);
  auto took = std::chrono::steady_clock::now() - start;
  worker.join();
  EXPECT_TRUE(replies[1].ok());
  EXPECT_TRUE(replies[3].ok());
  for (int i : {0, 2}) {
    ASSERT_FALSE(replies[i].ok());
    EXPECT_EQ(replies[i].status().code(), Code::kTimeout);
    EXPECT_NE(replies[i].status().message().find("inproc://worker"), std::string::npos);
    EXPECT_NE(replies[i].status().message().find("300 ms"), std::string::npos);
  }
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 2000ms);
}

TEST_F(TransportTest, UnreachableWorkerIsUnavailableAfterTheDeadline) {
  auto start = std::chrono::steady_clock::now();
  auto r = t_->Call("tcp://127.0.0.1:1", Get(1, 200ms));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("tcp://127.0.0.1:1"), std::string::npos);
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 1500ms);
}

TEST(DownEndpointsTest, AWorkerFoundDownIsRecheckedBrieflyUntilItAnswers) {
  DownEndpoints down;
  using Clock = DownEndpoints::Clock;
  auto t0 = Clock::now(), until = t0 + 5000ms;
  EXPECT_EQ(down.ConnectBy("tcp://a:1", t0, until), until);
  Status first = down.NoConnection("tcp://a:1", 5000ms, 5000ms);
  EXPECT_EQ(first.code(), Code::kUnavailable);
  EXPECT_EQ(first.message(),
            "cannot reach worker tcp://a:1 (no connection within 5000 ms)");
  EXPECT_TRUE(down.IsDown("tcp://a:1"));
  EXPECT_EQ(down.ConnectBy("tcp://a:1", t0, until), t0 + DownEndpoints::kRecheck);
  EXPECT_EQ(down.ConnectBy("tcp://a:1", t0, t0 + 100ms),
            t0 + 100ms);                                     // a shorter deadline
  EXPECT_EQ(down.ConnectBy("tcp://b:1", t0, until), until);  // others are not
  EXPECT_EQ(down.NoConnection("tcp://a:1", 500ms, 2000ms).message(),
            "cannot reach worker tcp://a:1 (no connection within 500 ms, nor within 5000 "
            "ms of an earlier request)");
  // A wait that was not cut short says only that.
  EXPECT_EQ(down.NoConnection("tcp://a:1", 300ms, 300ms).message(),
            "cannot reach worker tcp://a:1 (no connection within 300 ms)");
  down.Reached("tcp://b:1");
  EXPECT_TRUE(down.IsDown("tcp://a:1"));
  down.Reached("tcp://a:1");
  EXPECT_FALSE(down.IsDown("tcp://a:1"));
  EXPECT_EQ(down.ConnectBy("tcp://a:1", t0, until), until);
}

TEST(DownEndpointsTest, AWorkerWhoseConnectionClosedIsRecheckedBriefly) {
  DownEndpoints down;
  using Clock = DownEndpoints::Clock;
  auto t0 = Clock::now(), until = t0 + 5000ms;
  down.Closed("tcp://a:1");
  EXPECT_TRUE(down.IsDown("tcp://a:1"));
  EXPECT_EQ(down.ConnectBy("tcp://a:1", t0, until), t0 + DownEndpoints::kRecheck);
  EXPECT_EQ(down.NoConnection("tcp://a:1", 500ms, 5000ms).message(),
            "cannot reach worker tcp://a:1 (no connection within 500 ms, after it closed "
            "the connection)");
  down.Reached("tcp://a:1");
  EXPECT_FALSE(down.IsDown("tcp://a:1"));
}

// A port nothing listens on, held by a TCP socket bound to it that does not
// listen (connections are refused), so no other program can take it while
// the test runs (a port merely released was, by a test running beside it).
class RefusingPort {
 public:
  RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), n) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n) != 0) {
      ADD_FAILURE() << "cannot reserve a loopback port: " << std::strerror(errno);
    }
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~RefusingPort() { Release(); }
  // Lets the port go (for a listener of the test's own).
  void Release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  int fd_;
  std::string endpoint_;
};

TEST_F(TransportTest, AfterOneFullDeadlineWithoutAConnectionCallsFailFastUntilItAnswers) {
  RefusingPort port;
  const std::string& ep = port.endpoint();
  auto timed = [&](auto&& call) {
    auto start = std::chrono::steady_clock::now();
    auto r = call();
    return std::make_pair(std::move(r), std::chrono::steady_clock::now() - start);
  };
  // The first call waits its whole deadline for a connection.
  auto [r1, took1] = timed([&] { return t_->Call(ep, Get(1, 1500ms)); });
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.status().message(),
            "cannot reach worker " + ep + " (no connection within 1500 ms)");
  EXPECT_GE(took1, 1450ms);
  // The next ones (direct, and through the I/O thread) only DownEndpoints::kRecheck.
  auto [r2, took2] = timed([&] { return t_->Call(ep, Get(2, 1500ms)); });
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), Code::kUnavailable);
  EXPECT_NE(r2.status().message().find("nor within 1500 ms of an earlier request"),
            std::string::npos)
      << r2.status().ToString();
  EXPECT_GE(took2, 450ms);
  EXPECT_LT(took2, 1200ms);
  auto [r3, took3] = timed([&] { return t_->Start(ep, Get(3, 1500ms))->Wait(); });
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.status().code(), Code::kUnavailable);
  EXPECT_LT(took3, 1200ms);
  // Once the worker is there, calls reach it again.
  zmq::socket_t router(ctx_, zmq::socket_type::router);
  port.Release();
  router.bind(ep);
  std::thread worker([&] { ReverseWorker(router, 1); });
  auto r4 = t_->Call(ep, Get(4, 1500ms));
  worker.join();
  ASSERT_TRUE(r4.ok()) << r4.status().ToString();
  EXPECT_EQ((*r4)->reply.header.version_no, 4u);
}

TEST_F(TransportTest, IdempotentRequestIsRetriedOnce) {
  std::thread worker([&] {
    std::vector<zmq::message_t> first, second;
    (void)zmq::recv_multipart(router_, std::back_inserter(first));  // lost
    (void)zmq::recv_multipart(router_, std::back_inserter(second));
    auto h = wire::DecodeHeader(second[1].to_string_view());
    router_.send(second[0], zmq::send_flags::sndmore);
    router_.send(zmq::buffer(wire::EncodeHeader(wire::ReplyHeader(*h, Code::kOk))));
  });
  OutRequest r = Get(7, 600ms);
  r.idempotent = true;
  auto reply = t_->Call("inproc://worker", r);
  worker.join();
  EXPECT_TRUE(reply.ok()) << reply.status().ToString();
}

TEST(ConnectionWatchTest, OnlyADisconnectEventCounts) {
  auto event = [](uint16_t e) {
    std::string f(6, '\0');
    std::memcpy(f.data(), &e, sizeof e);
    return f;
  };
  EXPECT_TRUE(IsDisconnectEvent(event(ZMQ_EVENT_DISCONNECTED)));
  EXPECT_FALSE(IsDisconnectEvent(event(ZMQ_EVENT_CONNECTED)));
  EXPECT_FALSE(IsDisconnectEvent(event(ZMQ_EVENT_CLOSED)));
  EXPECT_FALSE(IsDisconnectEvent(event(ZMQ_EVENT_DISCONNECTED).substr(0, 2)));
  EXPECT_FALSE(IsDisconnectEvent(""));
}

// A fake worker on TCP that takes `n` requests, answers the first
// `answered` of them, and a moment later closes its socket (as a dying
// worker's kernel does) without answering the rest. (A reply still queued
// in the client's ZeroMQ when its connection closes is dropped by ZeroMQ,
// with or without a ConnectionWatch; the moment lets it be read first.)
void AnswerThenClose(zmq::socket_t router, int n, int answered) {
  std::vector<std::vector<zmq::message_t>> got(n);
  for (auto& frames : got) (void)zmq::recv_multipart(router, std::back_inserter(frames));
  for (int i = 0; i < answered; ++i) {
    auto h = wire::DecodeHeader(got[i][1].to_string_view());
    router.send(got[i][0], zmq::send_flags::sndmore);
    router.send(zmq::buffer(wire::EncodeHeader(wire::ReplyHeader(*h, Code::kOk))));
  }
  router.set(zmq::sockopt::linger, 2000);  // the replies go out first
  std::this_thread::sleep_for(200ms);
  router.close();
}

TEST_F(TransportTest, RequestsOnAConnectionTheWorkerClosesFailAtOnce) {
  auto listen = [&] {
    zmq::socket_t router(ctx_, zmq::socket_type::router);
    router.bind("tcp://127.0.0.1:*");
    return router;
  };
  // Through the I/O thread: three requests, the first answered.
  zmq::socket_t router = listen();
  std::string ep = router.get(zmq::sockopt::last_endpoint);
  std::thread worker(AnswerThenClose, std::move(router), 3, 1);
  std::vector<std::pair<std::string, OutRequest>> reqs;
  for (uint64_t i = 0; i < 3; ++i) reqs.emplace_back(ep, Get(i, 5000ms));
  auto start = std::chrono::steady_clock::now();
  auto replies = t_->CallMany(reqs);
  auto took = std::chrono::steady_clock::now() - start;
  worker.join();
  EXPECT_TRUE(replies[0].ok())
      << replies[0].status().ToString();  // came before the close
  for (int i : {1, 2}) {
    ASSERT_FALSE(replies[i].ok());
    EXPECT_EQ(replies[i].status().code(), Code::kUnavailable);
    EXPECT_EQ(replies[i].status().message(),
              "worker " + ep + " closed the connection before it answered");
  }
  EXPECT_LT(took, 2000ms);
  // On a caller's own socket (a Call with nothing else in progress).
  router = listen();
  ep = router.get(zmq::sockopt::last_endpoint);
  worker = std::thread(AnswerThenClose, std::move(router), 1, 0);
  start = std::chrono::steady_clock::now();
  auto r = t_->Call(ep, Get(9, 5000ms));
  took = std::chrono::steady_clock::now() - start;
  worker.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "worker " + ep + " closed the connection before it answered");
  EXPECT_LT(took, 2000ms);
}

TEST_F(TransportTest, BadEndpointIsInvalidArgument) {
  auto r = t_->Call("nonsense", Get(1, 200ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(TransportTest, ManyThreadsShareOneTransport) {
  constexpr int kThreads = 8, kEach = 50;
  std::thread worker([&] {
    for (int i = 0; i < kThreads * kEach; ++i) ReverseWorker(router_, 1);
  });
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        uint64_t tag = t * 1000 + i;
        auto r = t_->Call("inproc://worker", Get(tag));
        if (r.ok() && (*r)->reply.header.version_no == tag) ++ok;
      }
    });
  }
  for (auto& c : callers) c.join();
  worker.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
}

// CallMany from many threads at once: every caller gets exactly its own
// replies, in request order, however the worker orders them (it answers each
// group of kPer requests it reads, from whichever callers, in reverse).
TEST_F(TransportTest, ManyThreadsCallManyGetTheirOwnRepliesInOrder) {
  constexpr int kThreads = 8, kEach = 40, kPer = 3;
  std::thread worker([&] {
    for (int i = 0; i < kThreads * kEach; ++i) ReverseWorker(router_, kPer);
  });
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        RequestBatch reqs;
        for (int j = 0; j < kPer; ++j) {
          reqs.emplace_back("inproc://worker", Get((t * 1000 + i) * 10 + j));
        }
        auto rs = t_->CallMany(reqs);
        bool all = rs.size() == kPer;
        for (int j = 0; all && j < kPer; ++j) {
          all = rs[j].ok() && (*rs[j])->reply.header.version_no ==
                                  static_cast<uint64_t>((t * 1000 + i) * 10 + j);
        }
        if (all) ++ok;
      }
    });
  }
  for (auto& c : callers) c.join();
  worker.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
}

// Receives one request and answers it OK; returns its frames.
std::vector<zmq::message_t> AnswerOneOk(zmq::socket_t& router) {
  std::vector<zmq::message_t> got;
  (void)zmq::recv_multipart(router, std::back_inserter(got));
  auto h = wire::DecodeHeader(got[1].to_string_view());
  router.send(got[0], zmq::send_flags::sndmore);
  router.send(zmq::buffer(wire::EncodeHeader(wire::ReplyHeader(*h, Code::kOk))),
              zmq::send_flags::none);
  return got;
}

// A payload frame handed over with its owner (OutRequest::frame) is sent
// after the inline payload, byte for byte, and the caller may drop its
// reference as soon as Send returned.
TEST_F(TransportTest, SharedFrameIsSentAfterThePayload) {
  std::string big(100000, 'b');
  std::vector<zmq::message_t> got;
  std::thread worker([&] { got = AnswerOneOk(router_); });
  std::shared_ptr<PendingCall> call;
  {
    auto body = std::make_shared<std::string>(big);
    OutRequest r = Get(1);
    r.payload = {"inline"};
    r.frame = wire::SharedFrame{*body, body};
    call = t_->Start("inproc://worker", r);
  }  // the caller's reference is gone; the transport holds its own share
  ASSERT_TRUE(call->Wait().ok());
  worker.join();
  ASSERT_EQ(got.size(), 5u);  // routing id, header, id, payload, frame
  EXPECT_EQ(got[2].to_string_view(), "some/id");
  EXPECT_EQ(got[3].to_string_view(), "inline");
  EXPECT_TRUE(got[4].to_string_view() == big);
}

// A payload frame without an owner is copied before Send returns: the
// caller may change its bytes at once.
TEST_F(TransportTest, FrameWithoutOwnerIsCopiedBeforeSendReturns) {
  std::vector<zmq::message_t> got;
  std::thread worker([&] { got = AnswerOneOk(router_); });
  std::string body(100000, 'b');
  OutRequest r = Get(1);
  r.frame = wire::SharedFrame{body, nullptr};
  auto call = t_->Start("inproc://worker", r);
  body.assign(body.size(), 'x');
  ASSERT_TRUE(call->Wait().ok());
  worker.join();
  ASSERT_EQ(got.size(), 4u);  // routing id, header, id, frame
  EXPECT_TRUE(got[3].to_string_view() == std::string(100000, 'b'));
}

// A BATCH request whose body is items with the given ids.
OutRequest Batch(const std::vector<std::string>& ids) {
  wire::BatchWriter w;
  for (const auto& id : ids) {
    wire::Header h;
    h.op = wire::Op::kGet;
    w.AddRequest(h, id, {});
  }
  auto body = std::make_shared<std::string>(w.Take());
  OutRequest r;
  r.header.op = wire::Op::kBatch;
  r.header.aux = ids.size();
  r.frame = wire::SharedFrame{*body, body};
  return r;
}

// Answers one BATCH: each item's reply carries its id as payload, or, with
// `status`, the whole message is that error. Returns the item count seen.
uint64_t AnswerBatch(zmq::socket_t& router, Code status = Code::kOk) {
  std::vector<zmq::message_t> f;
  (void)zmq::recv_multipart(router, std::back_inserter(f));
  auto h = wire::DecodeHeader(f[1].to_string_view());
  wire::Header rep = wire::ReplyHeader(*h, status);
  std::string body = "unknown opcode 17";
  if (status == Code::kOk) {
    auto items = wire::DecodeBatchBody(f[3].to_string_view(), h->aux);
    wire::BatchWriter w;
    for (const auto& item : *items) {
      auto req = wire::DecodeBatchItem(item);
      w.AddReply(wire::ReplyHeader(req->header, Code::kOk), {req->id});
    }
    body = w.Take();
    rep.aux = h->aux;
  }
  router.send(f[0], zmq::send_flags::sndmore);
  router.send(zmq::buffer(wire::EncodeHeader(rep)), zmq::send_flags::sndmore);
  router.send(zmq::buffer(body), zmq::send_flags::none);
  return h->aux;
}

// BATCH requests queued together for one connection travel as one message;
// each caller still gets a reply with exactly its own items, in order.
TEST_F(TransportTest, BatchesQueuedTogetherShareOneMessage) {
  uint64_t seen = 0;
  std::thread worker([&] { seen = AnswerBatch(router_); });
  RequestBatch reqs;
  reqs.emplace_back("inproc://worker", Batch({"a", "b"}));
  reqs.emplace_back("inproc://worker", Batch({"c", "d", "e"}));
  reqs[1].second.header.aux = 3;
  auto rs = t_->CallMany(reqs);  // one SendMany: one drain of the I/O thread
  worker.join();
  EXPECT_EQ(seen, 5u);  // one message carried both
  std::vector<std::vector<std::string>> want = {{"a", "b"}, {"c", "d", "e"}};
  ASSERT_EQ(rs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(rs[i].ok()) << rs[i].status().ToString();
    const wire::Reply& r = (*rs[i])->reply;
    EXPECT_EQ(r.header.aux, want[i].size());
    ASSERT_EQ(r.payload.size(), 1u);
    wire::BatchReader reader(r.payload[0], want[i].size());
    wire::Frames item;
    for (const auto& id : want[i]) {
      ASSERT_TRUE(reader.Next(&item).ok());
      auto reply = wire::DecodeReply(item);
      ASSERT_TRUE(reply.ok());
      EXPECT_EQ(reply->payload.at(0), id);
    }
    EXPECT_TRUE(reader.Finish().ok());
  }
}

// An error reply to a merged message (here a worker without BATCH) reaches
// every caller whole, so each can fall back on its own.
TEST_F(TransportTest, ErrorReplyToMergedBatchesReachesEachCaller) {
  std::thread worker([&] { AnswerBatch(router_, Code::kProtocol); });
  RequestBatch reqs;
  reqs.emplace_back("inproc://worker", Batch({"a", "b"}));
  reqs.emplace_back("inproc://worker", Batch({"c", "d"}));
  auto rs = t_->CallMany(reqs);
  worker.join();
  for (auto& r : rs) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*r)->reply.header.status, Code::kProtocol);
    EXPECT_EQ((*r)->reply.payload.at(0), "unknown opcode 17");
  }
}

// A SET whose payload is `bytes` long (kDirectAbove is 256 KiB: a Call
// of 300 KiB goes on a socket of the caller's own).
OutRequest BigSet(uint64_t tag, std::chrono::milliseconds deadline = 2000ms,
                  size_t bytes = 300 << 10) {
  static const std::string payload(1 << 20, 'p');
  OutRequest r = Get(tag, deadline);
  r.header.op = wire::Op::kSet;
  r.payload = {std::string_view(payload).substr(0, bytes)};
  return r;
}

// Answers `n` requests one by one; the reply echoes the offset (the tag) in
// version_no and the payload size in length. Returns the routing ids seen.
std::vector<std::string> EchoSizes(zmq::socket_t& router, int n) {
  std::vector<std::string> peers;
  for (int i = 0; i < n; ++i) {
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(router, std::back_inserter(frames));
    auto h = wire::DecodeHeader(frames[1].to_string_view());
    wire::Header reply = wire::ReplyHeader(*h, Code::kOk);
    reply.version_no = h->offset;
    reply.length = frames.size() > 3 ? frames[3].size() : 0;
    peers.push_back(frames[0].to_string());
    router.send(frames[0], zmq::send_flags::sndmore);
    router.send(zmq::buffer(wire::EncodeHeader(reply)), zmq::send_flags::none);
  }
  return peers;
}

// Large Calls from many threads go on sockets of their own (one connection
// per concurrent caller, reused), and so does a small Call while few are in
// progress, but not on one that carried large writes (direct_calls.h, "Bulk
// writes"); Start goes through the I/O thread's. Every caller gets its own
// reply.
TEST_F(TransportTest, LargeCallsGoOnSocketsOfTheirOwn) {
  constexpr int kThreads = 4, kEach = 20;
  std::vector<std::string> peers;
  std::thread worker([&] { peers = EchoSizes(router_, kThreads * kEach + 4); });
  ASSERT_TRUE(t_->Start("inproc://worker", Get(0))->Wait().ok());  // the I/O thread
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        uint64_t tag = t * 1000 + i + 1;
        auto r = t_->Call("inproc://worker", BigSet(tag));
        if (r.ok() && (*r)->reply.header.version_no == tag &&
            (*r)->reply.header.length == 300u << 10) {
          ++ok;
        }
      }
    });
  }
  for (auto& c : callers) c.join();
  ASSERT_TRUE(t_->Call("inproc://worker", Get(1)).ok());  // one in progress
  ASSERT_TRUE(t_->Call("inproc://worker", Get(2)).ok());
  ASSERT_TRUE(t_->Call("inproc://worker", BigSet(9999)).ok());
  worker.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  const size_t n = peers.size();
  std::set<std::string> bulk(peers.begin() + 1, peers.begin() + 1 + kThreads * kEach);
  EXPECT_EQ(bulk.count(peers[0]), 0u);  // not the I/O thread's connection
  EXPECT_GE(bulk.size(), 1u);
  EXPECT_LE(bulk.size(), size_t{kThreads});  // sockets are reused
  // The small Calls share a direct socket, not a large write's nor the I/O
  // thread's; the next large write takes a large write's again.
  EXPECT_EQ(peers[n - 3], peers[n - 2]);
  EXPECT_EQ(bulk.count(peers[n - 3]), 0u);
  EXPECT_NE(peers[n - 3], peers[0]);
  EXPECT_EQ(bulk.count(peers[n - 1]), 1u);
}

// Many concurrent small Calls share the I/O thread's connections: with 40
// callers at once, at most kDirectCalls (8) of them can have gone direct.
TEST_F(TransportTest, ManySmallCallsShareTheIoThreadsConnections) {
  constexpr int kThreads = 40;
  std::vector<std::string> peers;
  std::thread worker([&] {
    // Read all 40 before answering any: every caller is in progress at once.
    std::vector<std::vector<zmq::message_t>> got(kThreads);
    for (auto& frames : got)
      (void)zmq::recv_multipart(router_, std::back_inserter(frames));
    for (auto& frames : got) {
      peers.push_back(frames[0].to_string());
      auto h = wire::DecodeHeader(frames[1].to_string_view());
      router_.send(frames[0], zmq::send_flags::sndmore);
      router_.send(zmq::buffer(wire::EncodeHeader(wire::ReplyHeader(*h, Code::kOk))));
    }
  });
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      if (t_->Call("inproc://worker", Get(t)).ok()) ++ok;
    });
  }
  for (auto& c : callers) c.join();
  worker.join();
  EXPECT_EQ(ok.load(), kThreads);
  std::set<std::string> connections(peers.begin(), peers.end());
  // Two lanes at most for the shared ones, plus at most 8 direct sockets.
  EXPECT_LE(connections.size(), 10u);
}

TEST_F(TransportTest, LargeCallTimesOutUnreachableAndBadEndpointLikeOthers) {
  std::thread worker([&] {  // reads the request, never answers
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(router_, std::back_inserter(frames));
  });
  auto start = std::chrono::steady_clock::now();
  auto r = t_->Call("inproc://worker", BigSet(1, 300ms));
  auto took = std::chrono::steady_clock::now() - start;
  worker.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTimeout);
  EXPECT_NE(r.status().message().find("inproc://worker did not answer within 300 ms"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 2000ms);

  auto u = t_->Call("tcp://127.0.0.1:1", BigSet(2, 200ms));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), Code::kUnavailable);
  EXPECT_NE(u.status().message().find("cannot reach worker tcp://127.0.0.1:1"),
            std::string::npos)
      << u.status().ToString();

  auto b = t_->Call("nonsense", BigSet(3, 200ms));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kInvalidArgument);
}

TEST_F(TransportTest, LargeIdempotentCallIsRetriedOnceAndAMalformedReplyIsAnError) {
  std::thread worker([&] {
    std::vector<zmq::message_t> first, second, third;
    (void)zmq::recv_multipart(router_, std::back_inserter(first));  // lost
    (void)zmq::recv_multipart(router_, std::back_inserter(second));
    auto h = wire::DecodeHeader(second[1].to_string_view());
    router_.send(second[0], zmq::send_flags::sndmore);
    router_.send(zmq::buffer(wire::EncodeHeader(wire::ReplyHeader(*h, Code::kOk))));
    (void)zmq::recv_multipart(router_, std::back_inserter(third));
    router_.send(third[0], zmq::send_flags::sndmore);
    router_.send(third[1], zmq::send_flags::none);  // the request, not a reply
  });
  OutRequest r = BigSet(7, 600ms);
  r.idempotent = true;
  auto reply = t_->Call("inproc://worker", r);
  EXPECT_TRUE(reply.ok()) << reply.status().ToString();
  auto bad = t_->Call("inproc://worker", BigSet(8, 600ms));
  worker.join();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad reply from inproc://worker"),
            std::string::npos)
      << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("a request was sent as a reply"),
            std::string::npos);
}

// Lent payload bytes (PayloadLoan) are given back before the caller may free
// them, even when the worker never reads: at the deadline the transport
// closes the connection that still holds them. The buffers are unmapped right
// after WaitReturned, so a later read by ZeroMQ would crash the test. Through
// the I/O thread (Start), the request queued behind them on the same
// connection fails as reset; a Call of that size goes on a socket of its own
// (DirectCalls), which is closed.
void LentBytesComeBack(bool direct) {
  zmq::context_t ctx;
  zmq::socket_t stuck(ctx, zmq::socket_type::router);
  stuck.set(zmq::sockopt::rcvhwm, 1);
  stuck.set(zmq::sockopt::rcvbuf, 64 << 10);
  stuck.bind("tcp://127.0.0.1:*");
  const std::string endpoint = stuck.get(zmq::sockopt::last_endpoint);
  auto t = NewZmqTransport({});
  // Connect first (a PING nobody answers), so the SETs are queued at once.
  (void)t->Start(endpoint, Get(0, 100ms))->Wait();
  constexpr size_t kBytes = 4 << 20;
  constexpr int kSets = 6;
  OutRequest behind = Get(99, direct ? 1000ms : 10000ms);
  behind.id = "same/id";
  auto pending_get = t->Start(endpoint, behind);
  std::vector<std::thread> senders;
  std::atomic<int> timed_out{0};
  for (int i = 0; i < kSets; ++i) {
    senders.emplace_back([&] {
      void* mem = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      ASSERT_NE(mem, MAP_FAILED);
      std::memset(mem, 'v', kBytes);
      OutRequest set;
      set.header.op = wire::Op::kSet;
      set.id = "same/id";
      set.payload = {std::string_view(static_cast<const char*>(mem), kBytes)};
      set.deadline = 500ms;
      set.loan = std::make_shared<PayloadLoan>();
      auto r = direct ? t->Call(endpoint, set) : t->Start(endpoint, set)->Wait();
      set.loan->WaitReturned();
      munmap(mem, kBytes);  // ZeroMQ must not touch it from here on
      if (!r.ok()) ++timed_out;
    });
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(timed_out.load(), kSets);
  auto start = std::chrono::steady_clock::now();
  auto got = pending_get->Wait();
  ASSERT_FALSE(got.ok());
  if (direct) {
    EXPECT_EQ(got.status().code(), Code::kTimeout) << got.status().ToString();
  } else {
    EXPECT_EQ(got.status().code(), Code::kUnavailable);
    EXPECT_NE(got.status().message().find("was reset"), std::string::npos)
        << got.status().ToString();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5000ms);
  }
  // The transport keeps working on a new connection.
  (void)t->Call(endpoint, Get(1, 100ms));
  std::this_thread::sleep_for(200ms);
}

TEST(PayloadLoanTest, LentBytesComeBackAtTheDeadlineWhenTheWorkerNeverReads) {
  LentBytesComeBack(false);
}

TEST(PayloadLoanTest, LentBytesOfDirectCallsComeBackAtTheDeadline) {
  LentBytesComeBack(true);
}

}  // namespace
}  // namespace shovel::client
