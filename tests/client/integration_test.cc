// The client against three real shovel-worker processes on loopback.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <zmq_addon.hpp>

#include "client_fixture.h"
#include "random_bytes.h"
#include "shovel/client.h"
#include "shovel/protocol.h"

namespace shovel {
namespace {

using test::RandomBytes;

using namespace std::chrono_literals;
using testing::Cluster;
using testing::ConnectTo;
using testing::ThreeWorkers;
using testing::WaitStopped;
using testing::WorkerProcess;

TEST_F(ThreeWorkers, SetGetAppendStatDelete) {
  Client& c = *client_;
  auto v1 = c.Set("a/b", "hello");
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(*c.Get("a/b"), "hello");
  EXPECT_EQ(*c.Get("a/b", 1, 3), "ell");
  EXPECT_EQ(*c.Get("a/b", 3), "lo");
  EXPECT_EQ(*c.Get("a/b", 10), "");
  auto v2 = c.Append("a/b", " world");
  ASSERT_TRUE(v2.ok());
  EXPECT_GT(*v2, *v1);
  EXPECT_EQ(*c.Get("a/b"), "hello world");
  auto st = c.Stat("a/b");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 11u);
  EXPECT_EQ(st->version, *v2);
  EXPECT_EQ(st->holders.size(), 1u);
  EXPECT_FALSE(st->pinned);
  EXPECT_TRUE(*c.Exists("a/b"));
  ASSERT_TRUE(c.Append("new/one", "x").ok());  // append creates
  EXPECT_EQ(*c.Get("new/one"), "x");
  ASSERT_TRUE(c.Delete("a/b").ok());
  EXPECT_FALSE(*c.Exists("a/b"));
  auto g = c.Get("a/b");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kNotFound);
  EXPECT_EQ(c.Delete("a/b").code(), Code::kNotFound);
}

TEST_F(ThreeWorkers, ListMergesAllWorkersWithPagingAndDelimiter) {
  Client& c = *client_;
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    char b[32];
    snprintf(b, sizeof b, "l/%02d", i);
    ids.push_back(b);
    ASSERT_TRUE(c.Set(b, "v").ok());
  }
  ASSERT_TRUE(c.Set("l/sub/x", "v").ok());
  ASSERT_TRUE(c.Set("other", "v").ok());
  std::vector<std::string> all;
  std::string cursor;
  int pages = 0;
  do {
    auto p = c.List("l/", cursor, 7);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_LE(p->ids.size(), 7u);
    all.insert(all.end(), p->ids.begin(), p->ids.end());
    cursor = p->next_cursor;
    ASSERT_LT(++pages, 20);
  } while (!cursor.empty());
  std::vector<std::string> want = ids;
  want.push_back("l/sub/x");
  EXPECT_EQ(all, want);
  auto d = c.List("l/", "", 1000, true);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->ids.size(), 51u);
  EXPECT_EQ(d->ids.back(), "sub/");
  EXPECT_EQ(d->ids.front(), "00");
  EXPECT_TRUE(d->next_cursor.empty());
}

TEST_F(ThreeWorkers, RenameSetAttrsMulti) {
  Client& c = *client_;
  for (int i = 0; i < 20; ++i) {
    std::string from = "r/src" + std::to_string(i), to = "r/dst" + std::to_string(i);
    ASSERT_TRUE(c.Set(from, "data" + std::to_string(i)).ok());
    ASSERT_TRUE(c.Set(to, "old").ok());
    ASSERT_TRUE(c.Rename(from, to).ok()) << from;
    EXPECT_EQ(*c.Get(to), "data" + std::to_string(i));
    EXPECT_FALSE(*c.Exists(from));
  }
  ASSERT_TRUE(c.SetAttrs("r/dst0", {{"mode", "0644"}, {"user.x", "1"}}).ok());
  ASSERT_TRUE(c.SetAttrs("r/dst0", {}, {"user.x"}).ok());
  auto st = c.Stat("r/dst0");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->attrs, (std::map<std::string, std::string>{{"mode", "0644"}}));
  std::vector<std::pair<std::string, std::string>> items;
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    items.emplace_back("m/" + std::to_string(i), std::string(1024, 'a' + i % 26));
    keys.push_back(items.back().first);
  }
  keys.push_back("m/missing");
  auto set = c.MultiSet(items);
  for (auto& r : set) ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto got = c.MultiGet(keys);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(*got[i], items[i].second);
  EXPECT_EQ(got[100].status().code(), Code::kNotFound);
}

// MultiSet/MultiGet go as BATCH messages; values over a BATCH item's 64 KiB
// and blobs too large for a GET item take the single-request path.
TEST_F(ThreeWorkers, MultiMixesBatchedAndLargeValues) {
  Client& c = *client_;
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 40; ++i) {
    size_t n = i % 10 == 0 ? (100 << 10) + i : 100 + i;
    items.emplace_back("mx/" + std::to_string(i), std::string(n, 'a' + i % 26));
  }
  items.emplace_back("mx//bad", "v");
  auto set = c.MultiSet(items);
  ASSERT_EQ(set.size(), items.size());
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(set[i].ok()) << set[i].status().ToString();
  EXPECT_EQ(set[40].status().code(), Code::kInvalidArgument);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(items[i].first);
  ids.push_back("mx/missing");
  auto got = c.MultiGet(ids);
  ASSERT_EQ(got.size(), ids.size());
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].status().ToString();
    EXPECT_TRUE(*got[i] == items[i].second) << i << ": " << got[i]->size() << " bytes";
  }
  EXPECT_EQ(got[40].status().code(), Code::kNotFound);
  // Set then get the same ids in one MultiSet: the later write wins.
  auto again = c.MultiSet({{"mx/dup", "first"}, {"mx/dup", "second"}});
  ASSERT_TRUE(again[1].ok());
  EXPECT_GT(*again[1], *again[0]);
  EXPECT_EQ(*c.Get("mx/dup"), "second");
}

// A fake worker on loopback: a ROUTER socket whose requests `serve` answers
// on the fake's own thread (nullopt: stay silent, so the client's deadline
// passes). Stopped and joined when destroyed.
struct FakeReply {
  wire::Header header;
  std::vector<std::string> payload;
};
class FakeWorker {
 public:
  // `f` is the request's frames after the routing id's ([header][id]...),
  // `h` its decoded header.
  using Serve = std::function<std::optional<FakeReply>(
      const std::vector<zmq::message_t>& f, const wire::Header& h)>;
  explicit FakeWorker(Serve serve) : serve_(std::move(serve)) {
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeWorker() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  void Run() {
    while (!stop_) {
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(20));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> f;
      (void)zmq::recv_multipart(router_, std::back_inserter(f));
      zmq::message_t route = std::move(f.at(0));
      f.erase(f.begin());
      auto h = wire::DecodeHeader(f.at(0).to_string_view());
      std::optional<FakeReply> rep = serve_(f, *h);
      if (!rep) continue;
      router_.send(route, zmq::send_flags::sndmore);
      router_.send(
          zmq::buffer(wire::EncodeHeader(rep->header)),
          rep->payload.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
      for (size_t i = 0; i < rep->payload.size(); ++i) {
        router_.send(zmq::buffer(rep->payload[i]), i + 1 < rep->payload.size()
                                                       ? zmq::send_flags::sndmore
                                                       : zmq::send_flags::none);
      }
    }
  }
  Serve serve_;
  zmq::context_t ctx_;
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A worker that predates BATCH: answers it kProtocol ("unknown opcode 17")
// and serves PING, SET and GET of its own.
class OldWorker {
 public:
  const std::string& endpoint() const { return fake_.endpoint(); }
  int batches() const { return batches_; }

 private:
  FakeReply Serve(const std::vector<zmq::message_t>& f, const wire::Header& h) {
    std::string id = f.size() > 1 ? f[1].to_string() : "";
    FakeReply rep{wire::ReplyHeader(h, Code::kOk), {}};
    if (h.op == wire::Op::kBatch) {
      ++batches_;
      rep.header.status = Code::kProtocol;
      rep.payload.push_back("unknown opcode 17");
    } else if (h.op == wire::Op::kPing) {
      rep.payload.push_back("old");
    } else if (h.op == wire::Op::kSet) {
      data_[id] = f.at(2).to_string();
      rep.header.version_no = ++version_;
    } else if (data_.count(id)) {
      rep.payload.push_back(data_[id]);
      rep.header.length = data_[id].size();
    } else {
      rep.header.status = Code::kNotFound;
      rep.payload.push_back("id '" + id + "' does not exist");
    }
    return rep;
  }
  std::map<std::string, std::string> data_;  // the fake's thread only
  uint64_t version_ = 0;
  std::atomic<int> batches_{0};
  FakeWorker fake_{[this](const auto& f, const auto& h) { return Serve(f, h); }};
};

TEST(Integration, MultiFallsBackToSingleRequestsOnAWorkerWithoutBatch) {
  OldWorker old;
  auto c = ConnectTo({old.endpoint()});
  ASSERT_NE(c, nullptr);
  auto set = c->MultiSet({{"o/a", "A"}, {"o/b", "B"}, {"o/c", "C"}});
  for (auto& r : set) ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto got = c->MultiGet({"o/a", "o/b", "o/c", "o/missing"});
  EXPECT_EQ(*got[0], "A");
  EXPECT_EQ(*got[1], "B");
  EXPECT_EQ(*got[2], "C");
  EXPECT_EQ(got[3].status().code(), Code::kNotFound);
  EXPECT_EQ(old.batches(), 2);  // each Multi tried one BATCH first
}

// A worker whose answer to a BATCH the test writes: `answer` gets the
// request's items and returns the reply body, or nullopt to stay silent.
// PING is answered; other single requests get kNotFound.
class ScriptedWorker {
 public:
  using Answer =
      std::function<std::optional<std::string>(const std::vector<wire::Frames>&)>;
  explicit ScriptedWorker(Answer answer) : answer_(std::move(answer)) {}
  const std::string& endpoint() const { return fake_.endpoint(); }

 private:
  std::optional<FakeReply> Serve(const std::vector<zmq::message_t>& f,
                                 const wire::Header& h) {
    FakeReply rep{wire::ReplyHeader(h, Code::kOk), {}};
    if (h.op == wire::Op::kBatch) {
      auto items = wire::DecodeBatchBody(f.at(2).to_string_view(), h.aux);
      std::optional<std::string> body = answer_(*items);
      if (!body) return std::nullopt;  // silent: the client's deadline passes
      rep.header.aux = h.aux;
      rep.payload.push_back(*body);
    } else if (h.op == wire::Op::kPing) {
      rep.payload.push_back("scripted");
    } else {
      rep.header.status = Code::kNotFound;
      rep.payload.push_back("not here");
    }
    return rep;
  }
  Answer answer_;
  FakeWorker fake_{[this](const auto& f, const auto& h) { return Serve(f, h); }};
};

// A BATCH body from items given as their frames (so a test can forge any).
std::string BatchBody(const std::vector<std::vector<std::string>>& items) {
  std::string out;
  auto u32 = [&](size_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  for (const auto& frames : items) {
    u32(frames.size());
    for (const auto& f : frames) {
      u32(f.size());
      out += f;
    }
  }
  return out;
}

// Each item of a BATCH reply lands on its own id, in the caller's order, with
// its own status; an item that is not a reply fails only itself.
TEST(Integration, MultiGetMapsEachBatchReplyItemToItsId) {
  ScriptedWorker w([](const std::vector<wire::Frames>& items) {
    std::vector<std::vector<std::string>> out;
    for (const auto& item : items) {
      auto req = wire::DecodeBatchItem(item);
      std::string id(req->id);
      wire::Header h = wire::ReplyHeader(req->header, Code::kOk);
      if (id == "s/missing") {
        h.status = Code::kNotFound;
        out.push_back({wire::EncodeHeader(h), "id 's/missing' does not exist"});
      } else if (id == "s/garbage") {
        out.push_back({"short"});
      } else {
        out.push_back({wire::EncodeHeader(h), "value of " + id});
      }
    }
    return std::optional<std::string>(BatchBody(out));
  });
  auto c = ConnectTo({w.endpoint()});
  ASSERT_NE(c, nullptr);
  auto got = c->MultiGet({"s/b", "s/missing", "s/a", "s//bad", "s/garbage", "s/c"});
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(*got[0], "value of s/b");
  EXPECT_EQ(got[1].status().code(), Code::kNotFound);
  EXPECT_EQ(got[1].status().message(), "id 's/missing' does not exist");
  EXPECT_EQ(*got[2], "value of s/a");
  EXPECT_EQ(got[3].status().code(), Code::kInvalidArgument);
  EXPECT_EQ(got[4].status().code(), Code::kProtocol);
  EXPECT_NE(got[4].status().message().find("batch reply from " + w.endpoint()),
            std::string::npos)
      << got[4].status().ToString();
  EXPECT_EQ(*got[5], "value of s/c");
}

// A BATCH reply whose body does not split into its items fails every item
// it carried (none gets another item's bytes).
TEST(Integration, MultiSetFailsEveryItemOfAMalformedBatchReply) {
  ScriptedWorker w([](const std::vector<wire::Frames>& items) {
    std::vector<std::vector<std::string>> out;
    for (const auto& item : items) {
      auto req = wire::DecodeBatchItem(item);
      out.push_back({wire::EncodeHeader(wire::ReplyHeader(req->header, Code::kOk))});
    }
    std::string body = BatchBody(out);
    body.pop_back();  // truncated
    return std::optional<std::string>(body);
  });
  auto c = ConnectTo({w.endpoint()});
  ASSERT_NE(c, nullptr);
  auto set = c->MultiSet({{"t/a", "1"}, {"t/b", "2"}, {"t/c", "3"}});
  ASSERT_EQ(set.size(), 3u);
  for (auto& r : set) {
    EXPECT_EQ(r.status().code(), Code::kProtocol);
    EXPECT_NE(r.status().message().find("batch reply from"), std::string::npos)
        << r.status().ToString();
  }
}

// A worker that never answers: every item fails kTimeout at about the
// deadline.
TEST(Integration, MultiSetItemsTimeOutAtTheDeadline) {
  ScriptedWorker w([](const std::vector<wire::Frames>&) { return std::nullopt; });
  auto c = ConnectTo({w.endpoint()}, 300ms);
  ASSERT_NE(c, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  auto set = c->MultiSet({{"u/a", "1"}, {"u/b", "2"}});
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(set.size(), 2u);
  for (auto& r : set)
    EXPECT_EQ(r.status().code(), Code::kTimeout) << r.status().ToString();
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST_F(ThreeWorkers, MembersNodeIdsScore) {
  Client& c = *client_;
  auto m = c.Members();
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].node_id, "w1");
  EXPECT_EQ((*m)[2].node_id, "w3");
  for (auto& n : *m) {
    EXPECT_TRUE(n.healthy);
    EXPECT_GT(n.cores, 0u);
    EXPECT_EQ(n.mem_limit, 1ull << 30);
  }
  ASSERT_TRUE(c.Set("n/x", "1").ok());
  auto holders = c.NodeIds("n/x");
  ASSERT_TRUE(holders.ok());
  ASSERT_EQ(holders->size(), 1u);
  EXPECT_EQ(*c.NodeId("n/x"), (*holders)[0]);
  EXPECT_TRUE(c.NodeId("n/x", "least_loaded").ok());
  EXPECT_EQ(c.NodeId("n/x", "nearest").status().code(), Code::kUnavailable);
  EXPECT_EQ(c.NodeId("n/x", "bogus").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(**c.NodeCacheScore((*holders)[0], "n/x"), 0.0);
  std::string other = (*holders)[0] == "w1" ? "w2" : "w1";
  EXPECT_FALSE(c.NodeCacheScore(other, "n/x")->has_value());
  EXPECT_EQ(c.NodeCacheScore("nope", "n/x").status().code(), Code::kNotFound);
  EXPECT_EQ(c.NodeIds("n/missing").status().code(), Code::kNotFound);
}

TEST_F(ThreeWorkers, InitThousandIdsIsExactAndPinned) {
  Client& c = *client_;
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back("init/" + std::to_string(i));
  uint64_t last_done = 0, calls = 0;
  ASSERT_TRUE(c.Init(ids, InitStrategy::kUniformNodes, [&](uint64_t d, uint64_t t) {
                 EXPECT_EQ(t, 1000u);
                 EXPECT_GE(d, last_done);
                 last_done = d;
                 ++calls;
               }).ok());
  EXPECT_EQ(last_done, 1000u);
  std::map<std::string, int> per_node;
  for (auto& id : ids) {
    auto h = c.NodeIds(id);
    ASSERT_TRUE(h.ok()) << id << ": " << h.status().ToString();
    ++per_node[(*h)[0]];
  }
  EXPECT_EQ(per_node,
            (std::map<std::string, int>{{"w1", 334}, {"w2", 333}, {"w3", 333}}));
  // Writes follow the pointers: data stays where init put it.
  auto before = *c.NodeIds("init/7");
  ASSERT_TRUE(c.Set("init/7", "payload").ok());
  EXPECT_EQ(*c.NodeIds("init/7"), before);
  EXPECT_TRUE(c.Stat("init/7")->pinned);
  EXPECT_EQ(*c.Get("init/7"), "payload");
  // A second client (no redirect cache) finds it too, and init is idempotent.
  auto c2 = ConnectTo(cluster_.endpoints());
  EXPECT_EQ(*c2->Get("init/7"), "payload");
  ASSERT_TRUE(c2->Init(ids, InitStrategy::kUniformCpu).ok());
  EXPECT_EQ(*c2->NodeIds("init/7"), before);
  EXPECT_EQ(*c2->Get("init/7"), "payload");
  // Delete removes the data and the pointer; a later set goes home.
  ASSERT_TRUE(c2->Delete("init/7").ok());
  EXPECT_FALSE(*c.Exists("init/7"));
  ASSERT_TRUE(c.Set("init/7", "again").ok());
  EXPECT_EQ(*c2->Get("init/7"), "again");
  EXPECT_FALSE(c2->Stat("init/7")->pinned);
}

TEST_F(ThreeWorkers, StreamedSetAndRangesOfOneVersion) {
  auto c = ConnectTo(cluster_.endpoints(), 5000ms, 256 << 10);  // small chunks
  std::string big = RandomBytes(5 << 20, 7);
  ASSERT_TRUE(c->Set("big/one", big).ok());
  EXPECT_EQ(*c->Get("big/one"), big);
  EXPECT_EQ(*c->Get("big/one", 1000, 3 << 20), big.substr(1000, 3 << 20));
  ASSERT_TRUE(c->Append("big/one", big).ok());
  EXPECT_EQ(c->Stat("big/one")->size, big.size() * 2);
  EXPECT_EQ(*c->Get("big/one", big.size()), big);
  auto w = c->OpenWriter("big/two", WriteMode::kSet);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*w)->Write(big.substr(i * 1000, 1000)).ok());
  EXPECT_FALSE(c->Exists("big/two").value());  // not visible before commit
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(*c->Get("big/two"), big.substr(0, 10000));
}

TEST_F(ThreeWorkers, GetBytesReturnsWhatGetReturns) {
  auto c = ConnectTo(cluster_.endpoints(), 5000ms, 256 << 10);  // small chunks
  ASSERT_TRUE(c->Set("gb/small", "hello").ok());
  EXPECT_EQ(c->GetBytes("gb/small")->view(), "hello");
  EXPECT_EQ(c->GetBytes("gb/small", 1, 3)->view(), "ell");
  EXPECT_EQ(c->GetBytes("gb/small", 10)->size(), 0u);
  ASSERT_TRUE(c->Set("gb/empty", "").ok());
  EXPECT_TRUE(c->GetBytes("gb/empty")->empty());

  // One reply (kept, not copied), and many replies (assembled).
  std::string one = RandomBytes(200 << 10, 11), many = RandomBytes(1 << 20, 12);
  ASSERT_TRUE(c->Set("gb/one", one).ok());
  ASSERT_TRUE(c->Set("gb/many", many).ok());
  auto b1 = c->GetBytes("gb/one");
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  auto bm = c->GetBytes("gb/many");
  ASSERT_TRUE(bm.ok()) << bm.status().ToString();
  EXPECT_EQ(bm->ToString(), many);
  EXPECT_EQ(c->GetBytes("gb/many", 300 << 10, 500 << 10)->view(),
            std::string_view(many).substr(300 << 10, 500 << 10));

  // The bytes are the Bytes' own: a later write does not change them, and
  // moving hands them over.
  ASSERT_TRUE(c->Set("gb/one", "replaced").ok());
  EXPECT_EQ(b1->view(), one);
  Bytes moved = std::move(*b1);
  EXPECT_EQ(moved.view(), one);
  EXPECT_TRUE(b1->empty());

  auto missing = c->GetBytes("gb/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  auto bad = c->GetBytes("gb//bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
}

TEST_F(ThreeWorkers, AbortedUploadLeavesOldValueWhole) {
  auto c = ConnectTo(cluster_.endpoints(), 5000ms, 256 << 10);
  ASSERT_TRUE(c->Set("keep", "old value").ok());
  {
    auto w = c->OpenWriter("keep", WriteMode::kSet);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(RandomBytes(2 << 20, 3)).ok());
  }  // destroyed without commit
  EXPECT_EQ(*c->Get("keep"), "old value");
}

TEST(Integration, WorkerKilledMidStreamGivesAClearErrorSurvivorsUnchanged) {
  auto c3 = Cluster::Start(3);
  ASSERT_TRUE(c3.ok());
  auto c = ConnectTo(c3->endpoints(), 1000ms, 256 << 10);
  std::map<std::string, std::string> holder;
  for (int i = 0; i < 30; ++i) {
    std::string id = "s/" + std::to_string(i);
    ASSERT_TRUE(c->Set(id, "v").ok());
    holder[id] = (*c->NodeIds(id))[0];
  }
  // Find an id on w2, start streaming to it, kill w2 in the middle.
  std::string victim;
  for (int i = 0; victim.empty(); ++i) {
    std::string id = "victim/" + std::to_string(i);
    ASSERT_TRUE(c->Set(id, "x").ok());
    if ((*c->NodeIds(id))[0] == "w2") victim = id;
  }
  auto w = c->OpenWriter(victim, WriteMode::kSet);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(RandomBytes(1 << 20, 1)).ok());
  c3->workers[1]->Kill(SIGKILL);
  auto start = std::chrono::steady_clock::now();
  Status s;
  for (int i = 0; i < 20 && s.ok(); ++i) s = (*w)->Write(RandomBytes(1 << 20, i));
  auto commit = s.ok() ? (*w)->Commit().status() : s;
  EXPECT_FALSE(commit.ok());
  EXPECT_TRUE(commit.code() == Code::kTimeout || commit.code() == Code::kUnavailable)
      << commit.ToString();
  EXPECT_NE(commit.message().find(c3->workers[1]->endpoint()), std::string::npos)
      << commit.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  int survivors = 0;
  for (auto& [id, node] : holder) {
    if (node == "w2") continue;
    ++survivors;
    EXPECT_EQ(*c->Get(id), "v") << id;
  }
  EXPECT_GT(survivors, 0);
}

TEST(Integration, UnreachableWorkerErrorsAfterTheDeadline) {
  auto w = WorkerProcess::Start("w1");
  ASSERT_TRUE(w.ok());
  std::string endpoint = (*w)->endpoint();
  auto c = ConnectTo({endpoint}, 500ms);
  ASSERT_TRUE(c->Set("x", "1").ok());
  (*w)->Kill(SIGKILL);
  auto start = std::chrono::steady_clock::now();
  auto g = c->Get("x");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(g.status().code() == Code::kUnavailable ||
              g.status().code() == Code::kTimeout);
  EXPECT_NE(g.status().message().find(endpoint), std::string::npos);
  EXPECT_LT(took, 3s);
  auto m = c->Members();
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE((*m)[0].healthy);
}

// A worker that dies with requests in flight (stopped, so it cannot answer,
// then killed): the kernel closes its connections, and the requests fail at
// once with an error that says so, not after their 5 s deadline. Both ways a
// request can travel: on a caller's own socket (a Get with nothing else in
// progress) and through the client's I/O thread (a started call).
TEST(Integration, RequestsInFlightFailAtOnceWhenTheirWorkerDies) {
  using Call = std::function<Status(Client&)>;
  std::vector<std::pair<std::string, Call>> ways = {
      {"Get", [](Client& c) { return c.Get("x").status(); }},
      {"StartMultiGet",
       [](Client& c) { return c.StartMultiGet({"x"})->Wait()[0].status(); }},
      {"StartMultiSet",
       [](Client& c) {
         return c.StartMultiSet({{"x", "2"}})->Wait()[0].status();
       }},
  };
  for (auto& [name, call] : ways) {
    auto w = WorkerProcess::Start("w1");
    ASSERT_TRUE(w.ok());
    std::string endpoint = (*w)->endpoint();
    auto c = ConnectTo({endpoint}, 5000ms);
    ASSERT_TRUE(c->Set("x", "1").ok());                    // connected
    ASSERT_TRUE(c->StartMultiGet({"x"})->Wait()[0].ok());  // the I/O thread too
    ASSERT_EQ(kill((*w)->pid(), SIGSTOP), 0);
    ASSERT_TRUE(WaitStopped((*w)->pid()));
    std::thread killer([&] {
      std::this_thread::sleep_for(300ms);
      (*w)->Kill(SIGKILL);
    });
    auto start = std::chrono::steady_clock::now();
    Status st = call(*c);
    auto took = std::chrono::steady_clock::now() - start;
    killer.join();
    EXPECT_EQ(st.code(), Code::kUnavailable) << name << ": " << st.ToString();
    EXPECT_EQ(st.message(),
              "worker " + endpoint + " closed the connection before it answered")
        << name;
    EXPECT_GE(took, 250ms) << name;  // it waited for the worker until it died
    EXPECT_LT(took, 2s) << name;     // and no longer
    // The next request to it waits at most DownEndpoints::kRecheck for a
    // connection, not the deadline.
    start = std::chrono::steady_clock::now();
    st = call(*c);
    took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(st.code(), Code::kUnavailable) << name;
    EXPECT_NE(st.message().find("after it closed the connection"), std::string::npos)
        << name << ": " << st.ToString();
    EXPECT_LT(took, 2s) << name;
  }
}

TEST(Integration, EvictionAtTheLimitAndNoSpace) {
  auto w = WorkerProcess::Start("w1", "32MiB");
  ASSERT_TRUE(w.ok());
  auto c = ConnectTo({(*w)->endpoint()});
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(c->Set("e/" + std::to_string(i), RandomBytes(1 << 20, i)).ok()) << i;
  }
  EXPECT_FALSE(*c->Exists("e/0"));  // least recently used went first
  EXPECT_EQ(*c->Get("e/63"), RandomBytes(1 << 20, 63));
  auto m = c->Members();
  EXPECT_LE((*m)[0].mem_used, 32ull << 20);
  // A value larger than the limit: no space, nothing damaged: every id
  // held before is still there (none evicted for a write that cannot fit).
  ASSERT_TRUE(c->Set("small", "still here").ok());
  std::vector<int> held;
  for (int i = 0; i < 64; ++i) {
    if (*c->Exists("e/" + std::to_string(i))) held.push_back(i);
  }
  ASSERT_GT(held.size(), 20u);
  auto big = c->Set("huge", RandomBytes(40 << 20, 9));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Code::kNoSpace) << big.status().ToString();
  EXPECT_NE(big.status().message().find("worker w1 cannot hold a write of 40.0 MiB (32.0 "
                                        "MiB limit): it did not compress"),
            std::string::npos)
      << big.status().ToString();
  EXPECT_EQ(*c->Get("small"), "still here");
  EXPECT_FALSE(*c->Exists("huge"));
  for (int i : held) {
    EXPECT_EQ(*c->Get("e/" + std::to_string(i)), RandomBytes(1 << 20, i)) << i;
  }
}

}  // namespace
}  // namespace shovel
