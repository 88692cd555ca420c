// Integration: real shovel-worker processes on loopback, raw DEALER client.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "random_bytes.h"
#include "shovel/hrw.h"
#include "worker_process.h"

namespace shovel::test {
namespace {

using wire::Op;

class WorkerIntegration : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(w_.endpoint().empty()) << "worker did not start"; }
  WorkerProcess w_;
  RawClient c_{w_.endpoint()};
};

TEST_F(WorkerIntegration, PingAndNodeStats) {
  auto r = c_.Call(Op::kPing, "");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kOk);
  EXPECT_EQ(r.header.request_id, c_.last_request_id());
  ASSERT_EQ(r.payload.size(), 1u);
  EXPECT_FALSE(r.payload[0].empty());
  r = c_.Call(Op::kNodeStats, "");
  ASSERT_TRUE(r.ok);
  auto s = wire::DecodeNodeStats(r.payload.at(0));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GT(s->cores, 0u);
  EXPECT_EQ(s->mem_limit, 1ull << 30);
  EXPECT_EQ(s->endpoint, w_.endpoint());
}

TEST_F(WorkerIntegration, SetGetAppendStatDelete) {
  auto r = c_.Call(Op::kSet, "a/b", {"hello "});
  ASSERT_EQ(r.header.status, Code::kOk);
  uint64_t v1 = r.header.version_no;
  r = c_.Call(Op::kAppend, "a/b", {"world"});
  ASSERT_EQ(r.header.status, Code::kOk);
  EXPECT_GT(r.header.version_no, v1);
  EXPECT_EQ(r.header.length, 11u);
  wire::Header g;
  g.op = Op::kGet;
  g.length = wire::kToEnd;
  r = c_.Call(g, "a/b");
  ASSERT_EQ(r.header.status, Code::kOk);
  EXPECT_EQ(r.payload.at(0), "hello world");
  EXPECT_EQ(r.header.length, 11u);
  g.offset = 6;
  g.length = 3;
  r = c_.Call(g, "a/b");
  EXPECT_EQ(r.payload.at(0), "wor");
  EXPECT_EQ(r.header.offset, 6u);
  r = c_.Call(Op::kStat, "a/b");
  ASSERT_EQ(r.header.status, Code::kOk);
  auto st = wire::DecodeStat(r.payload.at(0));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 11u);
  EXPECT_FALSE(st->pinned);
  EXPECT_GT(st->mtime_ns, 0);
  r = c_.Call(Op::kDelete, "a/b");
  EXPECT_EQ(r.header.status, Code::kOk);
  r = c_.Call(g, "a/b");
  EXPECT_EQ(r.header.status, Code::kNotFound);
  EXPECT_NE(r.payload.at(0).find("a/b"), std::string::npos);
}

TEST_F(WorkerIntegration, LargeValueIsServedInCappedReplies) {
  std::string big = RandomBytes(40 << 20, 7);
  auto r = c_.Call(Op::kSet, "big", {big});
  ASSERT_EQ(r.header.status, Code::kOk);
  std::string got;
  for (int i = 0; i < 10; ++i) {
    wire::Header g;
    g.op = Op::kGet;
    g.offset = got.size();
    g.length = wire::kToEnd;
    r = c_.Call(g, "big");
    ASSERT_EQ(r.header.status, Code::kOk);
    EXPECT_LE(r.payload.at(0).size(), 16u << 20);
    got += r.payload.at(0);
    if (!(r.header.flags & wire::kFlagMore)) break;
  }
  EXPECT_TRUE(got == big);
}

TEST_F(WorkerIntegration, CreateListRenameAttrs) {
  auto r = c_.Call(Op::kCreate, "d/x", {}, wire::kFlagPinned);
  ASSERT_EQ(r.header.status, Code::kOk);
  r = c_.Call(Op::kCreate, "d/x", {}, wire::kFlagExclusive);
  EXPECT_EQ(r.header.status, Code::kAlreadyExists);
  for (auto id : {"d/y", "d/sub/1", "d/sub/2", "e"}) c_.Call(Op::kSet, id, {"v"});
  r = c_.Call(Op::kList, "d/", {}, wire::kFlagDelimiter);
  ASSERT_EQ(r.header.status, Code::kOk);
  auto names = wire::DecodeStrings(r.payload.at(0));
  EXPECT_EQ(*names, (std::vector<std::string>{"sub/", "x", "y"}));
  wire::Header l;
  l.op = Op::kList;
  l.aux = 2;
  r = c_.Call(l, "d/");
  EXPECT_TRUE(r.header.flags & wire::kFlagMore);
  EXPECT_EQ(*wire::DecodeStrings(r.payload.at(0)),
            (std::vector<std::string>{"d/sub/1", "d/sub/2"}));
  r = c_.Call(l, "d/", {"d/sub/2"});
  EXPECT_EQ(*wire::DecodeStrings(r.payload.at(0)),
            (std::vector<std::string>{"d/x", "d/y"}));
  r = c_.Call(Op::kRename, "d/y", {"d/z"});
  EXPECT_EQ(r.header.status, Code::kOk);
  r = c_.Call(Op::kSetAttrs, "d/z", {wire::EncodeAttrs({{"mode", "0644"}})});
  EXPECT_EQ(r.header.status, Code::kOk);
  r = c_.Call(Op::kStat, "d/z");
  EXPECT_EQ(wire::DecodeStat(r.payload.at(0))->attrs.at("mode"), "0644");
  r = c_.Call(Op::kStat, "d/x");
  EXPECT_TRUE(wire::DecodeStat(r.payload.at(0))->pinned);
}

TEST_F(WorkerIntegration, PointersRedirect) {
  auto r = c_.Call(Op::kPutPointer, "p", {"tcp://10.0.0.1:7070", "w9"});
  ASSERT_EQ(r.header.status, Code::kOk);
  r = c_.Call(Op::kStat, "p");
  EXPECT_EQ(r.header.status, Code::kRedirect);
  EXPECT_EQ(r.payload, (std::vector<std::string>{"tcp://10.0.0.1:7070", "w9"}));
  r = c_.Call(Op::kSet, "p", {"local"}, wire::kFlagNoRedirect);
  EXPECT_EQ(r.header.status, Code::kOk);
  r = c_.Call(Op::kDelete, "p");
  EXPECT_EQ(r.header.status, Code::kRedirect);
  r = c_.Call(Op::kStat, "p");
  EXPECT_EQ(r.header.status, Code::kOk) << "pointer was dropped by DELETE";
}

TEST_F(WorkerIntegration, ConditionalWrites) {
  wire::Header h;
  h.op = Op::kSet;
  h.flags = wire::kFlagIfVersion;
  h.version_no = 0;
  auto r = c_.Call(h, "c", {"one"});
  ASSERT_EQ(r.header.status, Code::kOk);
  uint64_t v = r.header.version_no;
  r = c_.Call(h, "c", {"two"});
  EXPECT_EQ(r.header.status, Code::kConflict);
  h.version_no = v;
  r = c_.Call(h, "c", {"two"});
  EXPECT_EQ(r.header.status, Code::kOk);
}

RawReply Upload(RawClient& c, Op op, uint64_t handle, uint64_t offset,
                std::vector<std::string> payload = {}) {
  wire::Header h;
  h.op = op;
  h.aux = handle;
  h.offset = offset;
  return c.Call(h, "", std::move(payload));
}

TEST_F(WorkerIntegration, UploadCommitsAtomicallyAndAbandonedKeepsOld) {
  c_.Call(Op::kSet, "u", {"old"});
  auto r = c_.Call(Op::kUploadBegin, "u");
  ASSERT_EQ(r.header.status, Code::kOk);
  uint64_t h = r.header.aux;
  std::string a = RandomBytes(5 << 20, 1), b = RandomBytes(3 << 20, 2);
  EXPECT_EQ(Upload(c_, Op::kUploadData, h, 0, {a}).header.status, Code::kOk);
  EXPECT_EQ(Upload(c_, Op::kUploadData, h, 7, {b}).header.status, Code::kInvalidArgument);
  EXPECT_EQ(Upload(c_, Op::kUploadData, h, a.size(), {b}).header.status, Code::kOk);
  wire::Header g;
  g.op = Op::kGet;
  g.length = wire::kToEnd;
  EXPECT_EQ(c_.Call(g, "u").payload.at(0), "old");  // not visible before commit
  r = Upload(c_, Op::kUploadCommit, h, 0);
  ASSERT_EQ(r.header.status, Code::kOk);
  EXPECT_EQ(r.header.length, a.size() + b.size());
  EXPECT_TRUE(c_.Call(g, "u").payload.at(0) == a + b);

  // A client that dies mid-stream: the old value stays whole.
  {
    RawClient dying(w_.endpoint());
    r = dying.Call(Op::kUploadBegin, "u");
    Upload(dying, Op::kUploadData, r.header.aux, 0, {"partial"});
  }
  EXPECT_TRUE(c_.Call(g, "u").payload.at(0) == a + b);
  r = c_.Call(Op::kUploadBegin, "u", {}, wire::kFlagAppendMode);
  Upload(c_, Op::kUploadData, r.header.aux, 0, {"!"});
  EXPECT_EQ(Upload(c_, Op::kUploadAbort, r.header.aux, 0).header.status, Code::kOk);
  EXPECT_EQ(Upload(c_, Op::kUploadCommit, r.header.aux, 0).header.status,
            Code::kNotFound);
  EXPECT_TRUE(c_.Call(g, "u").payload.at(0) == a + b);
}

TEST_F(WorkerIntegration, GarbageIsCountedAndWorkerKeepsServing) {
  std::vector<std::vector<std::string>> garbage = {
      {""},
      {"x"},
      {std::string(48, '\0'), "id"},                      // bad magic
      {std::string(47, 'a'), "id"},                       // short header
      {wire::EncodeHeader(wire::Header{}), "not-empty"},  // PING with an id
  };
  wire::Header bad;
  bad.op = Op::kSet;
  std::string hb = wire::EncodeHeader(bad);
  hb[2] = 9;  // protocol version 9
  garbage.push_back({hb, "a"});
  hb = wire::EncodeHeader(bad);
  hb[3] = 99;  // unknown op
  garbage.push_back({hb, "a"});
  garbage.push_back({wire::EncodeHeader(bad), "a//b", "v"});  // bad id
  std::vector<std::string> many(1100, "f");
  many[0] = wire::EncodeHeader(bad);
  garbage.push_back(many);
  {
    RawClient raw(w_.endpoint());
    for (auto& g : garbage) raw.SendFrames(g);
    // Replies come back in order on one connection: drain to the ping's.
    raw.Send(wire::Header{}, "");
    for (int i = 0; i < 20; ++i) {
      auto r = raw.Recv();
      if (!r.ok || (r.header.status == Code::kOk &&
                    r.header.request_id == raw.last_request_id())) {
        break;
      }
    }
  }
  // A bad version still gets a kProtocol reply naming the problem.
  std::string v9 = wire::EncodeHeader(bad);
  v9[2] = 9;
  c_.SendFrames({v9, "a"});
  auto r = c_.Recv();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kProtocol);
  EXPECT_NE(r.payload.at(0).find("version 9"), std::string::npos);
  r = c_.Call(Op::kPing, "");
  EXPECT_EQ(r.header.status, Code::kOk);
  uint64_t malformed = 0;
  for (int i = 0; i < 100 && malformed < garbage.size(); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = c_.Call(Op::kNodeStats, "");
    malformed = wire::DecodeNodeStats(r.payload.at(0))->malformed;
  }
  EXPECT_GE(malformed, garbage.size());
}

// Sends a BATCH of `items` ([header][id][payload...] each) and returns the
// reply items' (header, payload) in order; `whole` gets the BATCH reply.
std::vector<RawReply> CallBatch(RawClient& c,
                                const std::vector<std::vector<std::string>>& items,
                                RawReply* whole) {
  wire::BatchWriter w;
  for (const auto& f : items) {
    auto h = wire::DecodeHeader(f[0]);
    std::vector<std::string_view> payload(f.begin() + 2, f.end());
    if (h.ok()) {
      w.AddRequest(*h, f[1], payload);
    } else {
      // A raw item: its frames as given.
      wire::Header dummy;
      w.AddRequest(dummy, f[1], payload);
    }
  }
  wire::Header bh;
  bh.op = Op::kBatch;
  bh.aux = w.count();
  *whole = c.Call(bh, "", {w.Take()});
  std::vector<RawReply> out;
  if (!whole->ok || whole->header.status != Code::kOk || whole->payload.size() != 1) {
    return out;
  }
  auto split = wire::DecodeBatchBody(whole->payload[0], whole->header.aux);
  if (!split.ok()) return out;
  for (const auto& frames : *split) {
    RawReply r;
    auto d = wire::DecodeReply(frames);
    if (d.ok()) {
      r.ok = true;
      r.header = d->header;
      for (auto v : d->payload) r.payload.emplace_back(v);
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> Item(Op op, uint64_t request_id, const std::string& id,
                              std::vector<std::string> payload = {}) {
  wire::Header h;
  h.op = op;
  h.request_id = request_id;
  if (op == Op::kGet) h.length = wire::kToEnd;
  std::vector<std::string> f = {wire::EncodeHeader(h), id};
  for (auto& p : payload) f.push_back(std::move(p));
  return f;
}

TEST_F(WorkerIntegration, BatchServesItemsInOrderWithTheirOwnStatus) {
  ASSERT_EQ(c_.Call(Op::kSet, "big", {RandomBytes(200 << 10, 3)}).header.status,
            Code::kOk);
  RawReply whole;
  auto replies = CallBatch(
      c_,
      {Item(Op::kSet, 1, "b/x", {"one"}), Item(Op::kAppend, 2, "b/x", {"+two"}),
       Item(Op::kGet, 3, "b/x"), Item(Op::kGet, 4, "b/missing"),
       Item(Op::kSet, 5, "b//bad", {"v"}), Item(Op::kUploadBegin, 6, "b/y"),
       Item(Op::kSet, 7, "b/z", {std::string((64 << 10) + 1, 'z')}),
       Item(Op::kGet, 8, "big"), Item(Op::kDelete, 9, "b/x"), Item(Op::kGet, 10, "b/x")},
      &whole);
  ASSERT_EQ(whole.header.status, Code::kOk);
  ASSERT_EQ(replies.size(), 10u);
  for (size_t i = 0; i < replies.size(); ++i) {
    ASSERT_TRUE(replies[i].ok) << i;
    EXPECT_EQ(replies[i].header.request_id, i + 1) << i;
    EXPECT_TRUE(replies[i].header.flags & wire::kFlagReply);
  }
  EXPECT_EQ(replies[0].header.status, Code::kOk);
  EXPECT_EQ(replies[1].header.length, 7u);
  EXPECT_EQ(replies[2].header.status, Code::kOk);
  EXPECT_EQ(replies[2].payload.at(0), "one+two");
  EXPECT_EQ(replies[3].header.status, Code::kNotFound);
  EXPECT_EQ(replies[4].header.status, Code::kInvalidArgument);
  EXPECT_NE(replies[4].payload.at(0).find("empty path component"), std::string::npos);
  EXPECT_EQ(replies[5].header.status, Code::kProtocol);
  EXPECT_NE(replies[5].payload.at(0).find("inside a BATCH"), std::string::npos);
  EXPECT_EQ(replies[6].header.status, Code::kProtocol);
  EXPECT_NE(replies[6].payload.at(0).find("64 KiB"), std::string::npos);
  // A GET item of a 200 KiB blob: no bytes, the size, kFlagMore.
  EXPECT_EQ(replies[7].header.status, Code::kOk);
  EXPECT_TRUE(replies[7].header.flags & wire::kFlagMore);
  EXPECT_EQ(replies[7].header.length, 200u << 10);
  EXPECT_TRUE(replies[7].payload.at(0).empty());
  EXPECT_EQ(replies[8].header.status, Code::kOk);
  EXPECT_EQ(replies[9].header.status, Code::kNotFound);
  // Nothing of the refused items was applied.
  EXPECT_EQ(c_.Call(Op::kStat, "b/z").header.status, Code::kNotFound);
}

TEST_F(WorkerIntegration, MalformedBatchIsOneErrorAndWorkerKeepsServing) {
  wire::Header bh;
  bh.op = Op::kBatch;
  bh.aux = 2;
  wire::BatchWriter w;
  wire::Header set;
  set.op = Op::kSet;
  w.AddRequest(set, "m/a", {"v"});
  std::string body = w.Take();
  // Count 2 with one item, a truncated body, a forged frame count.
  std::string forged = body;
  forged[0] = '\xff';
  for (const std::string& b : {body, body.substr(0, body.size() - 1), forged}) {
    auto r = c_.Call(bh, "", {b});
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.header.status, Code::kProtocol);
    EXPECT_NE(r.payload.at(0).find("BATCH"), std::string::npos) << r.payload.at(0);
  }
  EXPECT_EQ(c_.Call(Op::kStat, "m/a").header.status, Code::kNotFound);
  EXPECT_EQ(c_.Call(Op::kPing, "").header.status, Code::kOk);
}

// A batched write and a single-request write to the same id from one
// connection apply in the order sent, even when the single one is slow (on a
// handler lane) and the batch is cheap.
TEST_F(WorkerIntegration, BatchKeepsPerIdOrderWithSingleRequests) {
  for (int round = 0; round < 20; ++round) {
    std::string big = RandomBytes(1 << 20, round);
    wire::Header set;
    set.op = Op::kSet;
    c_.Send(set, "o/k", {big});
    wire::BatchWriter w;
    wire::Header small = set;
    w.AddRequest(small, "o/k", {"small"});
    wire::Header bh;
    bh.op = Op::kBatch;
    bh.aux = 1;
    c_.Send(bh, "", {w.Take()});
    ASSERT_TRUE(c_.Recv().ok);
    ASSERT_TRUE(c_.Recv().ok);
    wire::Header g;
    g.op = Op::kGet;
    g.length = wire::kToEnd;
    auto r = c_.Call(g, "o/k");
    // Not ASSERT_EQ: a failure would print the 1 MiB value.
    ASSERT_TRUE(r.payload.at(0) == "small") << "round " << round << ": the batched SET "
                                            << "was overtaken by the earlier 1 MiB SET";
  }
}

// GETs of one id may run on any handler, but a write never overtakes a GET
// that came before it. The fourth GET of x goes to the other handler (x's
// own is busier), where it queues behind a slow GET of a 16 MiB compressed
// y; the SET of x sent after it must wait for it, though x's own handler is
// free long before.
TEST(WorkerProcessTest, WriteWaitsForEarlierGetsOnOtherHandlers) {
  WorkerProcess w;  // two handler threads
  ASSERT_FALSE(w.endpoint().empty());
  RawClient c(w.endpoint());
  auto lane = [](const std::string& id) { return std::hash<std::string_view>()(id) % 2; };
  const std::string x = "g/x";
  std::string y = "g/y";
  for (int i = 0; lane(y) == lane(x); ++i) y = "g/y" + std::to_string(i);
  std::string text;
  while (text.size() < (16u << 20))
    text += "line " + std::to_string(text.size()) + " of text\n";
  text.resize(16u << 20);
  ASSERT_TRUE(c.Call(Op::kSet, y, {text}).ok);
  // Wait for the background compression: its GET is then slow (zstd).
  for (int i = 0; i < 100; ++i) {
    auto st = wire::DecodeStat(c.Call(Op::kStat, y).payload.at(0));
    ASSERT_TRUE(st.ok());
    if (st->stored_bytes < st->size / 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int round = 0; round < 5; ++round) {
    const std::string old = RandomBytes(256 << 10, round);
    ASSERT_TRUE(c.Call(Op::kSet, x, {old}).ok);
    wire::Header whole;
    whole.op = Op::kGet;
    whole.length = wire::kToEnd;
    wire::Header one = whole;
    one.length = 1;
    wire::Header set;
    set.op = Op::kSet;
    c.Send(whole, y);
    c.Send(one, x);
    c.Send(one, x);
    c.Send(whole, x);  // the one that runs on y's handler
    const uint64_t fourth = c.last_request_id();
    c.Send(set, x, {"new"});
    c.Send(whole, x);
    const uint64_t last = c.last_request_id();
    for (int i = 0; i < 6; ++i) {
      RawReply r = c.Recv();
      ASSERT_TRUE(r.ok) << "round " << round;
      if (r.header.request_id == fourth) {
        ASSERT_TRUE(r.payload.at(0) == old)
            << "round " << round << ": the SET overtook a GET sent before it";
      }
      if (r.header.request_id == last) {
        ASSERT_EQ(r.payload.at(0), "new");
      }
    }
  }
}

TEST(WorkerProcessTest, NoSpaceNamesTheLimitAndKeepsData) {
  WorkerProcess w(
      {"--max-memory", "2MiB", "--node-id", "w1", "--compression-level", "0"});
  ASSERT_FALSE(w.endpoint().empty());
  RawClient c(w.endpoint());
  std::string keep = RandomBytes(1 << 20, 3);
  ASSERT_EQ(c.Call(Op::kSet, "keep", {keep}, wire::kFlagPinned).header.status, Code::kOk);
  auto r = c.Call(Op::kSet, "huge", {RandomBytes(3 << 20, 4)});
  EXPECT_EQ(r.header.status, Code::kNoSpace);
  EXPECT_NE(
      r.payload.at(0).find("worker w1 cannot hold a write of 3.0 MiB (2.0 MiB limit"),
      std::string::npos)
      << r.payload.at(0);
  wire::Header g;
  g.op = Op::kGet;
  g.length = wire::kToEnd;
  EXPECT_TRUE(c.Call(g, "keep").payload.at(0) == keep);
}

TEST(WorkerProcessTest, EvictsLeastRecentlyUsedAtTheLimit) {
  WorkerProcess w({"--max-memory", "4MiB", "--compression-level", "0"});
  ASSERT_FALSE(w.endpoint().empty());
  RawClient c(w.endpoint());
  for (int i = 0; i < 8; ++i) {
    auto r = c.Call(Op::kSet, "k" + std::to_string(i), {RandomBytes(1 << 20, i)});
    ASSERT_EQ(r.header.status, Code::kOk) << i;
  }
  auto r = c.Call(Op::kNodeStats, "");
  auto s = wire::DecodeNodeStats(r.payload.at(0));
  EXPECT_LE(s->mem_used, s->mem_limit);
  EXPECT_GE(s->evictions, 4u);
  EXPECT_EQ(c.Call(Op::kStat, "k0").header.status, Code::kNotFound);
  EXPECT_EQ(c.Call(Op::kStat, "k7").header.status, Code::kOk);
}

TEST(WorkerProcessTest, SigtermExitsZero) {
  WorkerProcess w;
  ASSERT_FALSE(w.endpoint().empty());
  {
    RawClient c(w.endpoint());
    ASSERT_EQ(c.Call(Op::kPing, "").header.status, Code::kOk);
  }
  EXPECT_EQ(w.SignalAndWait(SIGTERM, std::chrono::seconds(10)), 0);
}

// Requests the worker has read when SIGTERM comes are finished and answered
// before it exits 0. Large SETs go to handler threads and take a while; a
// PING sent behind them is answered by the I/O loop once it has read them.
TEST(WorkerProcessTest, SigtermFinishesTheRequestsInFlightThenExitsZero) {
  WorkerProcess w({"--max-memory", "2GiB"});
  ASSERT_FALSE(w.endpoint().empty());
  RawClient c(w.endpoint());
  ASSERT_EQ(c.Call(Op::kPing, "").header.status, Code::kOk);
  constexpr int kSets = 8;
  const std::string v = RandomBytes(48 << 20, 77);
  wire::Header set;
  set.op = Op::kSet;
  for (int i = 0; i < kSets; ++i) c.Send(set, "term/" + std::to_string(i), {v});
  wire::Header ping;
  ping.op = Op::kPing;
  c.Send(ping, "");
  int set_replies = 0, after_signal = 0;
  bool signalled = false;
  while (set_replies < kSets) {
    RawReply r = c.Recv();
    ASSERT_TRUE(r.ok) << "a reply was lost (" << set_replies << " of " << kSets << ")";
    if (r.header.op == Op::kPing) {
      ASSERT_FALSE(signalled);
      kill(w.pid(), SIGTERM);
      signalled = true;
      continue;
    }
    EXPECT_EQ(r.header.status, Code::kOk);
    ++set_replies;
    after_signal += signalled;
  }
  ASSERT_TRUE(signalled) << "the PING's reply never came";
  EXPECT_GT(after_signal, 0)
      << "every SET was done before the signal: nothing was in flight";
  EXPECT_EQ(w.SignalAndWait(SIGTERM, std::chrono::seconds(10)), 0);
}

// After SIGTERM, what a recently active client sends is refused with
// "shutting down" rather than left unanswered (a ZeroMQ client cannot see
// the connection close and would wait its whole deadline).
TEST(WorkerProcessTest, RequestsAfterSigtermAreRefusedNotLeftWaiting) {
  WorkerProcess w;
  ASSERT_FALSE(w.endpoint().empty());
  RawClient c(w.endpoint());
  ASSERT_EQ(c.Call(Op::kPing, "").header.status, Code::kOk);
  kill(w.pid(), SIGTERM);
  int refused = 0, answered = 0;
  std::string text;
  for (int i = 0; i < 50 && refused == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    RawReply r = c.Call(Op::kPing, "");
    if (!r.ok) break;  // gone: no reply within RawClient's timeout
    ++answered;
    if (r.header.status == Code::kUnavailable) {
      ++refused;
      text = r.payload.at(0);
    }
  }
  EXPECT_EQ(refused, 1) << answered << " answered";
  EXPECT_EQ(text, "worker " + w.endpoint() + " is shutting down");
  EXPECT_EQ(w.SignalAndWait(SIGTERM, std::chrono::seconds(10)), 0);
}

// Several ZeroMQ I/O threads: each connection's copies run on one of them;
// values over several connections come back whole.
TEST(WorkerProcessTest, SeveralIoThreadsServeEveryConnection) {
  WorkerProcess w({"--io-threads", "3"});
  ASSERT_FALSE(w.endpoint().empty());
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 4; ++i)
    clients.push_back(std::make_unique<RawClient>(w.endpoint()));
  wire::Header g;
  g.op = Op::kGet;
  g.length = wire::kToEnd;
  for (int i = 0; i < 4; ++i) {
    std::string id = "io/" + std::to_string(i);
    ASSERT_TRUE(clients[i]->Call(Op::kSet, id, {RandomBytes(1 << 20, 40 + i)}).ok) << i;
  }
  for (int i = 0; i < 4; ++i) {
    auto r = clients[(i + 1) % 4]->Call(g, "io/" + std::to_string(i));
    ASSERT_TRUE(r.ok) << i;
    EXPECT_TRUE(r.payload.at(0) == RandomBytes(1 << 20, 40 + i)) << i;
  }
}

// Runs shovel-worker with `args`; returns its exit code (-1 if it could not
// run) and what it printed on stdout and stderr.
std::pair<int, std::string> RunWorker(const std::string& args) {
  std::string cmd = std::string(SHOVEL_WORKER_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[512] = {0};
  size_t n = fread(buf, 1, sizeof buf - 1, p);
  int status = pclose(p);
  return {WEXITSTATUS(status), std::string(buf, n)};
}

TEST(WorkerProcessTest, BadIoThreadsExitsTwoNamingIt) {
  auto [code, out] = RunWorker("--io-threads -1");
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("--io-threads must be 0 (half the cores, at least 2) to 64"),
            std::string::npos)
      << out;
}

TEST(WorkerProcessTest, BadDecodeThreadsExitsTwoNamingIt) {
  auto [code, out] = RunWorker("--decode-threads -2");
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("--decode-threads must be -1 (one less than the cores), 0 (none) "
                     "or up to 256"),
            std::string::npos)
      << out;
}

TEST(WorkerProcessTest, BadFlagExitsTwoNamingIt) {
  auto [code, out] = RunWorker("--max-memory lots");
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("--max-memory"), std::string::npos) << out;
}

}  // namespace
}  // namespace shovel::test

namespace shovel::test {
namespace {

using wire::Op;

std::string Held(RawClient& c, const std::string& id) {
  wire::Header g;
  g.op = Op::kGet;
  g.length = wire::kToEnd;
  RawReply r = c.Call(g, id);
  if (!r.ok || r.header.status != Code::kOk || r.payload.empty()) return "<none>";
  return r.payload[0];
}

// The primary's forward reached the replica, which applied it, but the
// answer was lost; the client then sends the append again with the same
// token. Before tokens the primary took the replica's newer copy and
// applied the append on top of it: "xx" on both.
TEST(WorkerReplicas, AnAppendSentAgainWithItsTokenIsAppliedOnce) {
  WorkerProcess a, b;
  ASSERT_FALSE(a.endpoint().empty());
  ASSERT_FALSE(b.endpoint().empty());
  RawClient ca(a.endpoint()), cb(b.endpoint());
  const std::string token = wire::EncodeToken(0x5eed);
  wire::Header rh;
  rh.op = Op::kAppend;
  rh.flags = wire::kFlagReplica | wire::kFlagToken;
  rh.version_no = 1;
  rh.offset = 0;
  RawReply r = cb.Call(rh, "log", {"x", token});
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.header.status, Code::kOk);

  wire::Header ph;
  ph.op = Op::kAppend;
  ph.flags = wire::kFlagReplicas | wire::kFlagToken;
  for (int attempt = 0; attempt < 2; ++attempt) {
    r = ca.Call(ph, "log", {"x", wire::EncodeStrings({b.endpoint()}), token});
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.header.status, Code::kOk) << (r.payload.empty() ? "" : r.payload[0]);
    EXPECT_EQ(r.header.length, 1u) << "attempt " << attempt;
  }
  EXPECT_EQ(Held(ca, "log"), "x");
  EXPECT_EQ(Held(cb, "log"), "x");
  // The replica, asked again with that token, says it has it.
  r = cb.Call(rh, "log", {"x", token});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kAlreadyExists);
  // Another append (another token) lands once on both.
  r = ca.Call(ph, "log",
              {"y", wire::EncodeStrings({b.endpoint()}), wire::EncodeToken(9)});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kOk) << (r.payload.empty() ? "" : r.payload[0]);
  EXPECT_EQ(Held(ca, "log"), "xy");
  EXPECT_EQ(Held(cb, "log"), "xy");
}

std::string NodeOf(RawClient& c) {
  wire::Header h;
  h.op = Op::kPing;
  RawReply r = c.Call(h, "");
  return r.ok && !r.payload.empty() ? r.payload[0] : "";
}

// A primary's SET of `id` with `list` (replicas, and "!"-marked passed-over
// workers) as its replica list.
RawReply SetAsPrimary(RawClient& c, const std::string& id, const std::string& value,
                      const std::vector<std::string>& list) {
  wire::Header h;
  h.op = Op::kSet;
  h.flags = wire::kFlagReplicas;
  return c.Call(h, id, {value, wire::EncodeStrings(list)});
}

std::string Says(const RawReply& r) { return r.payload.empty() ? "" : r.payload[0]; }

// Two clients disagree about who is up, for an id ordered j, s, a: one
// passed s over and writes through j (replica a), the other passed j over
// and writes through s (replica a too). Before leases were asked in place
// of passed-over workers, each checked only its own leases, and both were
// primaries of the id.
TEST(WorkerReplicas, AReplicaLetsNoWorkerServeInPlaceOfOneThatHoldsItsLease) {
  WorkerProcess a, j, s;
  ASSERT_FALSE(a.endpoint().empty());
  ASSERT_FALSE(j.endpoint().empty());
  ASSERT_FALSE(s.endpoint().empty());
  RawClient ca(a.endpoint()), cj(j.endpoint()), cs(s.endpoint());
  const std::vector<std::string> nodes = {NodeOf(cj), NodeOf(cs), NodeOf(ca)};
  std::string id;
  for (int i = 0; id.empty(); ++i) {
    std::string k = "k" + std::to_string(i);
    if (RankNodes(k, nodes) == std::vector<size_t>{0, 1, 2}) id = k;
  }
  // A worker serves in place of another by its own leases only 1.5 s
  // after it started.
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  RawReply r = SetAsPrimary(cj, id, "new", {a.endpoint(), "!" + s.endpoint()});
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.header.status, Code::kOk) << Says(r);
  // j keeps its lease from a fresh, in s's place (it was named lately).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  r = SetAsPrimary(cs, id, "other", {a.endpoint(), "!" + j.endpoint()});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kUnavailable) << Says(r);
  EXPECT_NE(Says(r).find("may still let worker " + j.endpoint()), std::string::npos)
      << Says(r);
  ASSERT_GE(r.payload.size(), 3u);
  EXPECT_EQ(r.payload[2], j.endpoint());  // the client asks j
  EXPECT_EQ(Held(ca, id), "new");
  EXPECT_EQ(Held(cs, id), "<none>");
  // j is gone: once its leases surely ran out, s serves in its place.
  (void)j.SignalAndWait(SIGKILL, std::chrono::seconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  r = SetAsPrimary(cs, id, "other", {a.endpoint(), "!" + j.endpoint()});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kOk) << Says(r);
  EXPECT_EQ(Held(ca, id), "other");
  EXPECT_EQ(Held(cs, id), "other");
}

// A worker that just joined serves an id that comes to it first, under a
// lease from the id's former primary; a client that does not know the
// joiner yet must not write through that former primary meanwhile.
TEST(WorkerReplicas, AWorkerDoesNotServeAnIdThatALeasedWorkerBeforeItServes) {
  WorkerProcess a, b, j;
  ASSERT_FALSE(a.endpoint().empty());
  ASSERT_FALSE(b.endpoint().empty());
  ASSERT_FALSE(j.endpoint().empty());
  RawClient ca(a.endpoint()), cj(j.endpoint());
  const std::string node_a = NodeOf(ca), node_j = NodeOf(cj);
  ASSERT_FALSE(node_a.empty());
  ASSERT_FALSE(node_j.empty());
  std::string before_a, after_a;  // ids where j comes before a, and after
  for (int i = 0; before_a.empty() || after_a.empty(); ++i) {
    std::string id = "id" + std::to_string(i);
    (RankNodes(id, {node_a, node_j})[0] == 1 ? before_a : after_a) = id;
  }
  RawReply r = SetAsPrimary(cj, before_a, "new", {a.endpoint()});
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.header.status, Code::kOk) << Says(r);
  // An old view: a, then b. j holds a's lease and comes first.
  r = SetAsPrimary(ca, before_a, "old view", {b.endpoint()});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kUnavailable) << Says(r);
  ASSERT_GE(r.payload.size(), 3u);
  EXPECT_EQ(r.payload[2], j.endpoint());
  EXPECT_EQ(Held(ca, before_a), "new");
  wire::Header g;
  g.op = Op::kGet;
  g.flags = wire::kFlagReplicas;
  g.length = wire::kToEnd;
  r = ca.Call(g, before_a, {wire::EncodeStrings({b.endpoint()})});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kUnavailable) << Says(r);
  // Where a comes first it is the primary, whoever holds its lease.
  r = SetAsPrimary(ca, after_a, "mine", {b.endpoint()});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kOk) << Says(r);
  // A BATCH of reads as the primary: refused whole when j comes first for
  // any one of its ids (the client then reads them one by one).
  auto batch_of = [&](const std::vector<std::string>& ids) {
    wire::BatchWriter w;
    wire::Header item;
    item.op = Op::kGet;
    item.length = wire::kToEnd;
    for (const auto& id : ids) w.AddRequest(item, id, {});
    wire::Header bh;
    bh.op = Op::kBatch;
    bh.flags = wire::kFlagReplicas;
    bh.aux = w.count();
    return ca.Call(bh, "", {w.Take(), wire::EncodeStrings({b.endpoint()})});
  };
  r = batch_of({after_a, before_a});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kUnavailable) << Says(r);
  ASSERT_GE(r.payload.size(), 3u);
  EXPECT_EQ(r.payload[2], j.endpoint());
  r = batch_of({after_a});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header.status, Code::kOk) << Says(r);
}

// Worker j joins a cluster where p is the primary of ids that now come to j
// first, with r their replica; clients that do not know j yet still send
// them to p. Before forwarded writes named their primary, r applied p's
// write after handing j its copy, and j then served the id without it (a
// lost append in the fault run); before grants named the other holders,
// p went on serving reads of ids j had written since.
TEST(WorkerReplicas, AJoinerAndAnOldPrimaryNeverBothServeAnId) {
  WorkerProcess p, r, j;
  ASSERT_FALSE(p.endpoint().empty());
  ASSERT_FALSE(r.endpoint().empty());
  ASSERT_FALSE(j.endpoint().empty());
  RawClient cp(p.endpoint()), cr(r.endpoint()), cj(j.endpoint());
  const std::string node_p = NodeOf(cp), node_j = NodeOf(cj);
  ASSERT_FALSE(node_p.empty());
  ASSERT_FALSE(node_j.empty());
  std::string before_p, after_p;  // ids where j comes before p, and after
  for (int i = 0; before_p.empty() || after_p.empty(); ++i) {
    std::string id = "id" + std::to_string(i);
    (RankNodes(id, {node_p, node_j})[0] == 1 ? before_p : after_p) = id;
  }
  RawReply rep = SetAsPrimary(cp, before_p, "old", {r.endpoint()});
  ASSERT_TRUE(rep.ok);
  ASSERT_EQ(rep.header.status, Code::kOk) << Says(rep);
  // j's first LEASE: r starts handing j its ids, and grants it nothing
  // until p's grant has named j.
  rep = SetAsPrimary(cj, before_p, "new", {r.endpoint()});
  ASSERT_TRUE(rep.ok);
  EXPECT_EQ(rep.header.status, Code::kUnavailable) << Says(rep);
  EXPECT_NE(Says(rep).find("have not yet heard that " + j.endpoint() + " joined"),
            std::string::npos)
      << Says(rep);
  // Meanwhile an append through p, which has not heard of j yet, is
  // refused by r (or, when p renewed its lease just now, by p), naming j.
  wire::Header ah;
  ah.op = Op::kAppend;
  ah.flags = wire::kFlagReplicas | wire::kFlagToken;
  rep = cp.Call(ah, before_p,
                {"+x", wire::EncodeStrings({r.endpoint()}), wire::EncodeToken(77)});
  ASSERT_TRUE(rep.ok);
  EXPECT_EQ(rep.header.status, Code::kUnavailable) << Says(rep);
  ASSERT_GE(rep.payload.size(), 3u) << Says(rep);
  EXPECT_EQ(rep.payload[1], "");  // r is not at fault
  EXPECT_EQ(rep.payload[2], j.endpoint()) << Says(rep);
  EXPECT_EQ(Held(cr, before_p), "old");
  // Once p renewed, j is granted and serves the id.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    rep = SetAsPrimary(cj, before_p, "new", {r.endpoint()});
    ASSERT_TRUE(rep.ok);
  } while (rep.header.status != Code::kOk && std::chrono::steady_clock::now() < until);
  ASSERT_EQ(rep.header.status, Code::kOk) << Says(rep);
  EXPECT_EQ(Held(cr, before_p), "new");
  // p serves neither a read nor a write of it now, naming j.
  wire::Header g;
  g.op = Op::kGet;
  g.flags = wire::kFlagReplicas;
  g.length = wire::kToEnd;
  rep = cp.Call(g, before_p, {wire::EncodeStrings({r.endpoint()})});
  ASSERT_TRUE(rep.ok);
  EXPECT_EQ(rep.header.status, Code::kUnavailable) << Says(rep);
  ASSERT_GE(rep.payload.size(), 3u) << Says(rep);
  EXPECT_EQ(rep.payload[2], j.endpoint());
  rep = SetAsPrimary(cp, before_p, "old view", {r.endpoint()});
  ASSERT_TRUE(rep.ok);
  EXPECT_EQ(rep.header.status, Code::kUnavailable) << Says(rep);
  EXPECT_EQ(Held(cr, before_p), "new");
  EXPECT_EQ(Held(cj, before_p), "new");
  // Where p comes first, p serves as before.
  rep = SetAsPrimary(cp, after_p, "mine", {r.endpoint()});
  ASSERT_TRUE(rep.ok);
  EXPECT_EQ(rep.header.status, Code::kOk) << Says(rep);
  EXPECT_EQ(Held(cr, after_p), "mine");
  rep = cp.Call(g, after_p, {wire::EncodeStrings({r.endpoint()})});
  ASSERT_TRUE(rep.ok);
  EXPECT_EQ(rep.header.status, Code::kOk) << Says(rep);
}

// A primary that rejoined (it dropped what it held) takes an id back from
// its replica before an append builds on it. A value over one message used
// to fail that append with "too large to fetch".
TEST(WorkerReplicas, ARejoinedPrimaryTakesBackAValueOverOneMessageBeforeAnAppend) {
  WorkerProcess p, r;
  ASSERT_FALSE(p.endpoint().empty());
  ASSERT_FALSE(r.endpoint().empty());
  RawClient cp(p.endpoint()), cr(r.endpoint());
  const std::string node_p = NodeOf(cp), node_r = NodeOf(cr);
  std::string id;  // p comes first
  for (int i = 0; id.empty(); ++i) {
    std::string k = "big" + std::to_string(i);
    if (RankNodes(k, {node_p, node_r})[0] == 0) id = k;
  }
  // r holds 70 MiB of it, as a replica's streamed copy at version 5.
  std::string big(70u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 5);
  wire::Header b;
  b.op = Op::kUploadBegin;
  b.flags = wire::kFlagReplica;
  b.version_no = 5;
  b.length = big.size();
  RawReply rep = cr.Call(b, id);
  ASSERT_TRUE(rep.ok);
  ASSERT_EQ(rep.header.status, Code::kOk) << Says(rep);
  const uint64_t handle = rep.header.offset;
  ASSERT_NE(handle, 0u);
  constexpr size_t kPart = 8u << 20;
  for (size_t off = 0; off < big.size(); off += kPart) {
    wire::Header d;
    d.op = Op::kUploadData;
    d.flags = wire::kFlagReplica;
    d.aux = handle;
    d.offset = off;
    rep = cr.Call(d, "", {big.substr(off, kPart)});
    ASSERT_TRUE(rep.ok);
    ASSERT_EQ(rep.header.status, Code::kOk) << Says(rep);
  }
  wire::Header c;
  c.op = Op::kUploadCommit;
  c.flags = wire::kFlagReplica;
  c.aux = handle;
  rep = cr.Call(c, "");
  ASSERT_TRUE(rep.ok);
  ASSERT_EQ(rep.header.status, Code::kOk) << Says(rep);
  // p lacks it (as after a rejoin): the append takes r's copy first.
  wire::Header ah;
  ah.op = Op::kAppend;
  ah.flags = wire::kFlagReplicas | wire::kFlagToken;
  rep = cp.Call(ah, id,
                {"tail", wire::EncodeStrings({r.endpoint()}), wire::EncodeToken(5)});
  ASSERT_TRUE(rep.ok);
  ASSERT_EQ(rep.header.status, Code::kOk) << Says(rep);
  EXPECT_EQ(rep.header.length, big.size() + 4);
  for (RawClient* w : {&cp, &cr}) {
    std::string got;
    for (;;) {
      wire::Header g;
      g.op = Op::kGet;
      g.offset = got.size();
      g.length = wire::kToEnd;
      rep = w->Call(g, id);
      ASSERT_TRUE(rep.ok);
      ASSERT_EQ(rep.header.status, Code::kOk) << Says(rep);
      got += rep.payload.empty() ? "" : rep.payload[0];
      if (!(rep.header.flags & wire::kFlagMore)) break;
    }
    EXPECT_EQ(got.size(), big.size() + 4);
    EXPECT_TRUE(got == big + "tail");
  }
}

}  // namespace
}  // namespace shovel::test
