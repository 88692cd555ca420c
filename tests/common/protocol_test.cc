// Wire codec: round trips for every header field and body, corrupt inputs.
#include "shovel/protocol.h"

#include <gtest/gtest.h>

namespace shovel::wire {
namespace {

std::vector<std::string_view> Views(const std::vector<std::string>& f) {
  return {f.begin(), f.end()};
}

Header Full() {
  Header h;
  h.op = Op::kGet;
  h.flags = kFlagMore | kFlagNoRedirect;
  h.status = Code::kConflict;
  h.request_id = 0x0102030405060708ull;
  h.offset = 11;
  h.length = kToEnd;
  h.version_no = 1ull << 63;
  h.aux = 42;
  return h;
}

TEST(HeaderTest, RoundTripsEveryFieldLittleEndian) {
  std::string f = EncodeHeader(Full());
  ASSERT_EQ(f.size(), kHeaderSize);
  EXPECT_EQ(f[0], 'S');
  EXPECT_EQ(f[1], 'V');
  EXPECT_EQ(f[2], 1);
  EXPECT_EQ(f[3], static_cast<char>(Op::kGet));
  EXPECT_EQ(static_cast<uint8_t>(f[8]), 0x08);  // request id, LE
  auto h = DecodeHeader(f);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->op, Op::kGet);
  EXPECT_EQ(h->flags, kFlagMore | kFlagNoRedirect);
  EXPECT_EQ(h->status, Code::kConflict);
  EXPECT_EQ(h->request_id, 0x0102030405060708ull);
  EXPECT_EQ(h->offset, 11u);
  EXPECT_EQ(h->length, kToEnd);
  EXPECT_EQ(h->version_no, 1ull << 63);
  EXPECT_EQ(h->aux, 42u);
  for (uint8_t op = 0; op <= kMaxOp; ++op) {
    Header x;
    x.op = static_cast<Op>(op);
    EXPECT_EQ(DecodeHeader(EncodeHeader(x))->op, x.op);
    EXPECT_NE(OpName(x.op), "UNKNOWN");
  }
}

TEST(HeaderTest, RejectsEachBadField) {
  std::string good = EncodeHeader(Full());
  EXPECT_NE(DecodeHeader(good.substr(0, 47)).status().message().find("47 bytes"),
            std::string::npos);
  EXPECT_FALSE(DecodeHeader(good + "x").ok());
  std::string bad = good;
  bad[0] = 'X';
  EXPECT_NE(DecodeHeader(bad).status().message().find("magic"), std::string::npos);
  bad = good;
  bad[2] = 2;
  EXPECT_NE(DecodeHeader(bad).status().message().find("protocol version 2"),
            std::string::npos);
  bad = good;
  bad[3] = kMaxOp + 1;
  EXPECT_NE(DecodeHeader(bad).status().message().find("unknown opcode"),
            std::string::npos);
  bad = good;
  bad[5] = 0x20;  // flag 0x2000
  EXPECT_NE(DecodeHeader(bad).status().message().find("flags 0x2050"), std::string::npos);
  bad = good;
  bad[6] = 13;  // past kPermissionDenied
  EXPECT_NE(DecodeHeader(bad).status().message().find("unknown status"),
            std::string::npos);
  for (const auto& s : {good.substr(0, 47), bad}) {
    EXPECT_EQ(DecodeHeader(s).status().code(), Code::kProtocol);
  }
}

std::vector<std::string> Req(Op op, std::string id, std::vector<std::string> payload = {},
                             uint16_t flags = 0) {
  Header h;
  h.op = op;
  h.flags = flags;
  h.request_id = 9;
  std::vector<std::string> f = {EncodeHeader(h), std::move(id)};
  for (auto& p : payload) f.push_back(std::move(p));
  return f;
}

TEST(RequestTest, DecodesValidRequests) {
  auto f = Req(Op::kSet, "a/b", {"12", "345"});
  auto r = DecodeRequest(Views(f));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, "a/b");
  EXPECT_EQ(r->payload.size(), 2u);
  EXPECT_EQ(r->payload_bytes, 5u);
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kPing, ""))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kList, "", {"cursor"}))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kList, "a/"))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kRename, "a", {"b"}))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kPutPointer, "a", {"tcp://x:1", "n"}))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kSetAttrs, "a", {EncodeAttrs({})}))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kUploadData, "", {"bytes"}))).ok());
}

TEST(RequestTest, AReplicaListIsTakenOffThePayload) {
  auto f = Req(Op::kSet, "a", {"12", "345", EncodeStrings({"tcp://h:1", "ipc:///r"})},
               kFlagReplicas);
  auto r = DecodeRequest(Views(f));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->payload.size(), 2u);
  EXPECT_EQ(r->payload_bytes, 5u);
  EXPECT_EQ(r->replicas, (std::vector<std::string>{"tcp://h:1", "ipc:///r"}));
  // A DELETE's list is its only payload frame.
  auto d = DecodeRequest(
      Views(Req(Op::kDelete, "a", {EncodeStrings({"tcp://h:1"})}, kFlagReplicas)));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->payload.empty());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kAppend, "a", {"x"}, kFlagReplica))).ok());

  auto message = [](const std::vector<std::string>& frames) {
    return DecodeRequest(Views(frames)).status().message();
  };
  // A read as the primary carries the list too; passed-over workers are
  // marked with '!'.
  auto g = DecodeRequest(Views(
      Req(Op::kGet, "a", {EncodeStrings({"tcp://h:1", "!tcp://h:2"})}, kFlagReplicas)));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->replicas, (std::vector<std::string>{"tcp://h:1"}));
  EXPECT_EQ(g->passed_over, (std::vector<std::string>{"tcp://h:2"}));
  auto passed_only = DecodeRequest(
      Views(Req(Op::kStat, "a", {EncodeStrings({"!tcp://h:2"})}, kFlagReplicas)));
  ASSERT_TRUE(passed_only.ok()) << passed_only.status().ToString();
  EXPECT_TRUE(passed_only->replicas.empty());
  EXPECT_EQ(message(Req(Op::kGet, "a", {EncodeStrings({"tcp://h:1"})}, kFlagReplica)),
            "GET is not replicated (no replica flags)");
  EXPECT_EQ(message(Req(Op::kList, "", {EncodeStrings({"tcp://h:1"})}, kFlagReplicas)),
            "LIST is not replicated (no replica flags)");
  // A worker copies a value over one message to a peer as a replica's
  // streamed write; a client's streamed write names its replicas in
  // UPLOAD_BEGIN's payload instead.
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kUploadBegin, "a", {}, kFlagReplica))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kUploadData, "", {"x"}, kFlagReplica))).ok());
  EXPECT_EQ(message(Req(Op::kUploadData, "", {"x", EncodeStrings({"tcp://h:1"})},
                        kFlagReplicas)),
            "UPLOAD_DATA is not replicated (no replica flags)");
  EXPECT_EQ(message(Req(Op::kSet, "a", {}, kFlagReplicas)),
            "kFlagReplicas needs the replica list");
  EXPECT_EQ(message(Req(Op::kSet, "a", {"x", EncodeStrings({})}, kFlagReplicas)),
            "replica list has 0 endpoints and 0 passed over; 1..7 of each are allowed");
  EXPECT_EQ(message(Req(Op::kSet, "a", {"x", EncodeStrings({"h:1"})}, kFlagReplicas)),
            "replica endpoint 'h:1' is not a ZeroMQ endpoint");
  EXPECT_EQ(message(Req(Op::kSet, "a", {"x", EncodeStrings({"tcp://h:1"})},
                        kFlagReplicas | kFlagReplica)),
            "a request is either to a primary or to a replica");
  EXPECT_EQ(DecodeRequest(Views(Req(Op::kSet, "a", {"x", "not strings"}, kFlagReplicas)))
                .status()
                .code(),
            Code::kProtocol);
  // Never inside a BATCH: a primary waits for its replicas.
  auto item = Req(Op::kSet, "a", {"x", EncodeStrings({"tcp://h:1"})}, kFlagReplicas);
  EXPECT_EQ(
      DecodeBatchItem(Views(item)).status().message(),
      "a write to a primary (kFlagReplicas) is sent on its own, not inside a BATCH");
}

TEST(RequestTest, AnAppendTokenIsTheLastFrameAfterTheReplicaList) {
  auto f = Req(Op::kAppend, "a",
               {"xy", EncodeStrings({"tcp://h:1"}), EncodeToken(0x0102030405060708)},
               kFlagReplicas | kFlagToken);
  auto r = DecodeRequest(Views(f));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->token, 0x0102030405060708u);
  EXPECT_EQ(r->replicas, (std::vector<std::string>{"tcp://h:1"}));
  ASSERT_EQ(r->payload.size(), 1u);
  EXPECT_EQ(r->payload[0], "xy");
  EXPECT_EQ(r->payload_bytes, 2u);
  // From a primary: no list, the token last.
  auto rep = DecodeRequest(
      Views(Req(Op::kAppend, "a", {"xy", EncodeToken(7)}, kFlagReplica | kFlagToken)));
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_EQ(rep->token, 7u);
  EXPECT_EQ(rep->payload_bytes, 2u);
  // Without the flag there is no token.
  EXPECT_EQ(DecodeRequest(Views(Req(Op::kAppend, "a", {"x"}, kFlagReplica)))->token, 0u);

  auto message = [](const std::vector<std::string>& frames) {
    return DecodeRequest(Views(frames)).status().message();
  };
  EXPECT_EQ(
      message(Req(Op::kSet, "a", {"x", EncodeStrings({"tcp://h:1"}), EncodeToken(7)},
                  kFlagReplicas | kFlagToken)),
      "kFlagToken is for APPEND to a primary or a replica");
  EXPECT_EQ(message(Req(Op::kAppend, "a", {"x", EncodeToken(7)}, kFlagToken)),
            "kFlagToken is for APPEND to a primary or a replica");
  EXPECT_EQ(message(Req(Op::kAppend, "a", {"x", "1234567"}, kFlagReplica | kFlagToken)),
            "kFlagToken needs an 8-byte token as the last frame");
  EXPECT_EQ(message(Req(Op::kAppend, "a", {}, kFlagReplica | kFlagToken)),
            "kFlagToken needs an 8-byte token as the last frame");
  EXPECT_EQ(
      message(Req(Op::kAppend, "a", {"x", EncodeToken(0)}, kFlagReplica | kFlagToken)),
      "an append token may not be 0");
}

TEST(RequestTest, AForwardedWriteNamesItsPrimaryBeforeTheToken) {
  auto f =
      Req(Op::kAppend, "a", {"xy", EncodeStrings({"n1", "tcp://h:2"}), EncodeToken(7)},
          kFlagReplica | kFlagSender | kFlagToken);
  auto r = DecodeRequest(Views(f));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sender, "n1");
  EXPECT_EQ(r->passed_over, (std::vector<std::string>{"tcp://h:2"}));
  EXPECT_EQ(r->token, 7u);
  ASSERT_EQ(r->payload.size(), 1u);
  EXPECT_EQ(r->payload_bytes, 2u);
  auto set = DecodeRequest(Views(
      Req(Op::kSet, "a", {"v", EncodeStrings({"n1"})}, kFlagReplica | kFlagSender)));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->sender, "n1");
  EXPECT_TRUE(set->passed_over.empty());
  EXPECT_EQ(set->payload_bytes, 1u);

  auto message = [](const std::vector<std::string>& frames) {
    return DecodeRequest(Views(frames)).status().message();
  };
  EXPECT_EQ(message(Req(Op::kSet, "a", {"v", EncodeStrings({"n1"})}, kFlagSender)),
            "kFlagSender is for a write forwarded to a replica");
  EXPECT_EQ(message(Req(Op::kUploadBegin, "a", {EncodeStrings({"n1"})},
                        kFlagReplica | kFlagSender)),
            "kFlagSender is for a write forwarded to a replica");
  EXPECT_EQ(message(Req(Op::kSet, "a", {}, kFlagReplica | kFlagSender)),
            "kFlagSender needs the sender frame");
  EXPECT_EQ(
      message(Req(Op::kSet, "a", {"v", EncodeStrings({})}, kFlagReplica | kFlagSender)),
      "the sender frame has 0 entries; it needs a node id and at most 7 "
      "passed-over workers");
  EXPECT_EQ(
      DecodeRequest(Views(Req(Op::kSet, "a", {"v", "junk"}, kFlagReplica | kFlagSender)))
          .status()
          .code(),
      Code::kProtocol);
}

TEST(RequestTest, WatchesAreAskedByStatOrSetToOneWorker) {
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kStat, "a", {}, kFlagWatch))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kSet, "a", {"v"}, kFlagWatch))).ok());
  EXPECT_TRUE(DecodeRequest(Views(Req(Op::kRenewWatches, ""))).ok());
  auto message = [](const std::vector<std::string>& frames) {
    return DecodeRequest(Views(frames)).status().message();
  };
  EXPECT_EQ(message(Req(Op::kGet, "a", {}, kFlagWatch)),
            "kFlagWatch is for a STAT or SET to one worker");
  EXPECT_EQ(message(Req(Op::kStat, "a", {EncodeStrings({"tcp://h:1"})},
                        kFlagWatch | kFlagReplicas)),
            "kFlagWatch is for a STAT or SET to one worker");
  EXPECT_EQ(message(Req(Op::kChanged, "a")),
            "CHANGED is sent by workers to their clients");
  EXPECT_EQ(message(Req(Op::kRenewWatches, "a")),
            "RENEW_WATCHES takes an empty id frame");
  EXPECT_EQ(message(Req(Op::kRenewWatches, "", {"x"})), "RENEW_WATCHES takes no payload");
}

TEST(RequestTest, LeaseCarriesTheSendersEndpointAndNodeId) {
  std::string body = EncodeLease({"tcp://h:1", "w1"});
  auto f = Req(Op::kLease, "", {body});
  auto r = DecodeRequest(Views(f));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto b = DecodeLease(r->payload[0]);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->endpoint, "tcp://h:1");
  EXPECT_EQ(b->node_id, "w1");
  EXPECT_EQ(DecodeRequest(Views(Req(Op::kLease, "", {}))).status().message(),
            "LEASE needs a body frame and at most one list frame");
  // In place of passed-over workers: a second frame, a list.
  auto f2 = Req(Op::kLease, "", {body, EncodeStrings({"tcp://h:2", "tcp://h:3"})});
  auto in_place = DecodeRequest(Views(f2));
  ASSERT_TRUE(in_place.ok()) << in_place.status().ToString();
  EXPECT_EQ(*DecodeStrings(in_place->payload[1]),
            (std::vector<std::string>{"tcp://h:2", "tcp://h:3"}));
  EXPECT_EQ(
      DecodeRequest(Views(Req(Op::kLease, "", {body, "a", "b"}))).status().message(),
      "LEASE needs a body frame and at most one list frame");
  EXPECT_EQ(DecodeLease(EncodeStrings({"h:1", "w1"})).status().message(),
            "LEASE body needs the sender's endpoint and node id");
  EXPECT_EQ(OpName(Op::kLease), "LEASE");
}

TEST(RequestTest, RejectsMalformedRequests) {
  auto code = [](const std::vector<std::string>& f) {
    return DecodeRequest(Views(f)).status().code();
  };
  EXPECT_EQ(code({}), Code::kProtocol);
  EXPECT_EQ(code({EncodeHeader(Header{})}), Code::kProtocol);  // no id frame
  EXPECT_EQ(code(Req(Op::kPing, "id")), Code::kProtocol);
  EXPECT_EQ(code(Req(Op::kGet, "a", {"x"})), Code::kProtocol);
  EXPECT_EQ(code(Req(Op::kSet, "a//b")), Code::kInvalidArgument);
  EXPECT_EQ(code(Req(Op::kSet, "")), Code::kInvalidArgument);
  EXPECT_EQ(code(Req(Op::kRename, "a")), Code::kProtocol);
  EXPECT_EQ(code(Req(Op::kRename, "a", {"../b"})), Code::kInvalidArgument);
  EXPECT_EQ(code(Req(Op::kPutPointer, "a", {"", "n"})), Code::kProtocol);
  EXPECT_EQ(code(Req(Op::kSetAttrs, "a")), Code::kProtocol);
  EXPECT_EQ(code(Req(Op::kList, "a", {"c", "d"})), Code::kProtocol);
  EXPECT_EQ(code(Req(Op::kSet, "a", {}, kFlagReply)), Code::kProtocol);
  std::vector<std::string> many = Req(Op::kSet, "a");
  many.resize(kMaxFrames + 1, "x");
  EXPECT_EQ(code(many), Code::kProtocol);
  auto big = Req(Op::kSet, "a", {std::string(kMaxMessageBytes, 'x')});
  EXPECT_NE(DecodeRequest(Views(big)).status().message().find("64 MiB"),
            std::string::npos);
  Header h;
  h.op = Op::kList;
  h.aux = kMaxListEntries + 1;
  EXPECT_EQ(code({EncodeHeader(h), ""}), Code::kProtocol);
  h.op = Op::kGet;
  h.offset = 10;
  h.length = UINT64_MAX - 5;
  EXPECT_NE(
      DecodeRequest(Views({EncodeHeader(h), "a"})).status().message().find("overflow"),
      std::string::npos);
}

TEST(ReplyTest, RoundTripsAndCarriesErrors) {
  Header req = Full();
  req.flags = 0;
  Header rh = ReplyHeader(req, Code::kNotFound);
  EXPECT_TRUE(rh.flags & kFlagReply);
  EXPECT_EQ(rh.request_id, req.request_id);
  std::vector<std::string> f = {EncodeHeader(rh), "id 'x' does not exist"};
  auto r = DecodeReply(Views(f));
  ASSERT_TRUE(r.ok());
  Status st = ReplyStatus(*r);
  EXPECT_TRUE(st.IsNotFound());
  EXPECT_EQ(st.message(), "id 'x' does not exist");
  EXPECT_TRUE(
      ReplyStatus(*DecodeReply(Views({EncodeHeader(ReplyHeader(req, Code::kOk))}))).ok());
  EXPECT_FALSE(DecodeReply({}).ok());
  EXPECT_FALSE(DecodeReply(Views({EncodeHeader(req)})).ok());  // not a reply
}

TEST(BodyTest, StatRoundTripAndCorruption) {
  StatBody s{5, 3, 7, -1, 2, 3, true, {{"mode", "0644"}, {"user.x", ""}}};
  std::string e = EncodeStat(s);
  auto d = DecodeStat(e);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size, 5u);
  EXPECT_EQ(d->stored_bytes, 3u);
  EXPECT_EQ(d->version, 7u);
  EXPECT_EQ(d->ctime_ns, -1);
  EXPECT_EQ(d->mtime_ns, 2);
  EXPECT_EQ(d->atime_ns, 3);
  EXPECT_TRUE(d->pinned);
  EXPECT_EQ(d->attrs, s.attrs);
  for (size_t n = 0; n < e.size(); ++n) {
    EXPECT_EQ(DecodeStat(e.substr(0, n)).status().code(), Code::kProtocol) << n;
  }
  EXPECT_NE(DecodeStat(e + "z").status().message().find("trailing"), std::string::npos);
  std::string forged = EncodeStat(StatBody{});
  forged[forged.size() - 1] = '\x7f';  // attr count 0x7f000000
  EXPECT_NE(DecodeStat(forged).status().message().find("exceeds"), std::string::npos);
}

TEST(RequestTest, DrainCarriesTheMembersToLeaveBy) {
  HandoverBody h;
  h.replicas = 2;
  h.target = "tcp://h:2";
  h.members = {{"w1", "tcp://h:1"}, {"w2", "tcp://h:2"}};
  std::string body = EncodeHandover(h);
  auto f = Req(Op::kDrain, "", {body});
  auto r = DecodeRequest(Views(f));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto b = DecodeHandover(r->payload[0]);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->replicas, 2u);
  EXPECT_EQ(b->target, "tcp://h:2");
  ASSERT_EQ(b->members.size(), 2u);
  EXPECT_EQ(b->members[1].node_id, "w2");
  EXPECT_EQ(DecodeRequest(Views(Req(Op::kDrain, "", {}))).status().message(),
            "DRAIN needs one body frame");
  EXPECT_EQ(OpName(Op::kDrain), "DRAIN");
}

TEST(BodyTest, NodeStatsRoundTrip) {
  NodeStats n{"w1", "tcp://h:1", 2, 10, 20, 3, 4, 5, 6, 1.5, "0.1"};
  auto d = DecodeNodeStats(EncodeNodeStats(n));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->node_id, "w1");
  EXPECT_EQ(d->endpoint, "tcp://h:1");
  EXPECT_EQ(d->cores, 2u);
  EXPECT_EQ(d->mem_used, 10u);
  EXPECT_EQ(d->mem_limit, 20u);
  EXPECT_EQ(d->ids, 3u);
  EXPECT_EQ(d->pinned_bytes, 4u);
  EXPECT_EQ(d->evictions, 5u);
  EXPECT_EQ(d->malformed, 6u);
  EXPECT_DOUBLE_EQ(d->load, 1.5);
  EXPECT_EQ(d->version, "0.1");
  EXPECT_EQ(d->leave_state, "");
  n.handover_ids = 7;
  n.handover_bytes = 8;
  n.handover_jobs = 1;
  n.leave_state = "final";
  n.leave_ids = 9;
  n.leave_failed = 2;
  d = DecodeNodeStats(EncodeNodeStats(n));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->handover_ids, 7u);
  EXPECT_EQ(d->handover_bytes, 8u);
  EXPECT_EQ(d->handover_jobs, 1u);
  EXPECT_EQ(d->leave_state, "final");
  EXPECT_EQ(d->leave_ids, 9u);
  EXPECT_EQ(d->leave_failed, 2u);
  std::string e = EncodeNodeStats(n);
  EXPECT_FALSE(DecodeNodeStats(e.substr(0, e.size() - 1)).ok());
  e[0] = '\xff';  // node id length far past the end
  EXPECT_FALSE(DecodeNodeStats(e).ok());
}

TEST(BodyTest, NodeStatsCarriesNamedCounters) {
  NodeStats n{"w1", "tcp://h:1", 2, 10, 20, 3, 4, 5, 6, 1.5, "0.1", {}};
  const std::string old = EncodeNodeStats(n);  // ends with a count of 0
  n.counters = {{"hits", 7}, {"requests.get", 9}, {"bytes_out", 1ull << 40}};
  std::string e = EncodeNodeStats(n);
  auto d = DecodeNodeStats(e);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->counters, n.counters);
  // A worker from before the counters ends its body after `version`.
  auto before = DecodeNodeStats(old.substr(0, old.size() - 4));
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_TRUE(before->counters.empty());
  EXPECT_EQ(before->version, "0.1");
  // A forged count cannot make the decoder allocate, nor trailing bytes pass.
  std::string forged = old.substr(0, old.size() - 4) + std::string("\xff\xff\xff\x7f");
  EXPECT_FALSE(DecodeNodeStats(forged).ok());
  EXPECT_FALSE(DecodeNodeStats(e + "x").ok());
}

TEST(BodyTest, StringsAndAttrs) {
  std::vector<std::string> v = {"", "a", std::string(1000, 'b')};
  EXPECT_EQ(*DecodeStrings(EncodeStrings(v)), v);
  EXPECT_TRUE(DecodeStrings(EncodeStrings({}))->empty());
  std::string forged("\xff\xff\xff\xff", 4);
  EXPECT_NE(DecodeStrings(forged).status().message().find("exceeds"), std::string::npos);
  Attrs a = {{"k", "v"}, {"", "empty key"}};
  EXPECT_EQ(*DecodeAttrs(EncodeAttrs(a)), a);
  EXPECT_FALSE(DecodeAttrs("\x01\x00\x00").ok());
}

TEST(BatchTest, RequestAndReplyBodiesRoundTrip) {
  BatchWriter w;
  Header set;
  set.op = Op::kSet;
  set.request_id = 7;
  w.AddRequest(set, "a/b", {"12", "345"});
  Header get;
  get.op = Op::kGet;
  get.length = kToEnd;
  w.AddRequest(get, "c", {});
  EXPECT_EQ(w.count(), 2u);
  std::string body = w.Take();
  Header bh;
  bh.op = Op::kBatch;
  bh.aux = 2;
  std::vector<std::string> frames = {EncodeHeader(bh), "", body};
  auto req = DecodeRequest(Views(frames));
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  auto items = DecodeBatchBody(req->payload[0], req->header.aux);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 2u);
  auto a = DecodeBatchItem((*items)[0]);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->header.op, Op::kSet);
  EXPECT_EQ(a->header.request_id, 7u);
  EXPECT_EQ(a->id, "a/b");
  EXPECT_EQ(a->payload, (std::vector<std::string_view>{"12", "345"}));
  auto b = DecodeBatchItem((*items)[1]);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->header.length, kToEnd);
  EXPECT_TRUE(b->payload.empty());

  BatchWriter rw;
  rw.AddReply(ReplyHeader(set, Code::kOk), {});
  rw.AddReply(ReplyHeader(get, Code::kNotFound), {"id 'c' does not exist"});
  std::string reply_body = rw.Take();
  auto replies = DecodeBatchBody(reply_body, 2);
  ASSERT_TRUE(replies.ok());
  auto r0 = DecodeReply((*replies)[0]);
  ASSERT_TRUE(r0.ok());
  EXPECT_EQ(r0->header.request_id, 7u);
  EXPECT_TRUE(ReplyStatus(*r0).ok());
  auto r1 = DecodeReply((*replies)[1]);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(ReplyStatus(*r1).message(), "id 'c' does not exist");
}

TEST(BatchTest, RejectsBadBatchMessagesAndItems) {
  Header bh;
  bh.op = Op::kBatch;
  auto code = [](const std::vector<std::string>& f) {
    return DecodeRequest(Views(f)).status().code();
  };
  bh.aux = 0;
  EXPECT_EQ(code({EncodeHeader(bh), "", "x"}), Code::kProtocol);  // count 0
  bh.aux = kMaxBatchItems + 1;
  EXPECT_EQ(code({EncodeHeader(bh), "", "x"}), Code::kProtocol);
  bh.aux = 1;
  EXPECT_EQ(code({EncodeHeader(bh), "", "x", "y"}), Code::kProtocol);  // 2 bodies
  EXPECT_EQ(code({EncodeHeader(bh), "id", "x"}), Code::kProtocol);     // has an id
  bh.flags = kFlagPinned;
  EXPECT_EQ(code({EncodeHeader(bh), "", "x"}), Code::kProtocol);

  BatchWriter w;
  Header set;
  set.op = Op::kSet;
  w.AddRequest(set, "a", {"v"});
  std::string body = w.Take();
  // Every truncation, a count past the items, trailing bytes: kProtocol.
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(DecodeBatchBody(body.substr(0, n), 1).ok()) << n;
  }
  EXPECT_FALSE(DecodeBatchBody(body, 2).ok());
  EXPECT_FALSE(DecodeBatchBody(body + "x", 1).ok());
  EXPECT_FALSE(DecodeBatchBody(body, kMaxBatchItems + 1).ok());
  std::string forged = body;
  forged[0] = '\xff';  // frame count 255 in a short body
  EXPECT_FALSE(DecodeBatchBody(forged, 1).ok());
  forged = body;
  forged[4] = '\xff';  // first frame length past the end
  EXPECT_FALSE(DecodeBatchBody(forged, 1).ok());

  // Items: bad ones are per-item errors.
  auto item = [](const Header& h, std::string_view id,
                 std::vector<std::string_view> payload) {
    BatchWriter bw;
    bw.AddRequest(h, id, payload);
    std::string b = bw.Take();
    auto items = DecodeBatchBody(b, 1);
    EXPECT_TRUE(items.ok());
    return DecodeBatchItem((*items)[0]).status();
  };
  EXPECT_TRUE(item(set, "a", {"v"}).ok());
  EXPECT_EQ(item(set, "a//b", {"v"}).code(), Code::kInvalidArgument);
  std::string big(kMaxBatchItemBytes + 1, 'x');
  EXPECT_NE(item(set, "a", {big}).message().find("64 KiB"), std::string::npos);
  Header up;
  up.op = Op::kUploadBegin;
  EXPECT_NE(item(up, "a", {}).message().find("inside a BATCH"), std::string::npos);
  Header nested;
  nested.op = Op::kBatch;
  nested.aux = 1;
  EXPECT_EQ(item(nested, "", {"x"}).code(), Code::kProtocol);
  // An item whose header frame is garbage.
  std::string raw(
      "\x02\x00\x00\x00\x03\x00\x00\x00"
      "abc\x01\x00\x00\x00"
      "a",
      16);
  auto items = DecodeBatchBody(raw, 1);
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(DecodeBatchItem((*items)[0]).status().code(), Code::kProtocol);
}

// EncodeBatchRequest writes exactly BatchWriter::AddRequest's bytes, and
// BatchRequestSize is their count, so a body built in place is the same body.
TEST(BatchTest, InPlaceEncodingMatchesBatchWriter) {
  Header set;
  set.op = Op::kSet;
  set.request_id = 9;
  Header get;
  get.op = Op::kGet;
  get.length = kToEnd;
  std::string_view value[1] = {"value bytes"};
  BatchWriter w;
  w.AddRequest(set, "a/b", {value[0]});
  w.AddRequest(get, "c", {});
  std::string want = w.Take();
  size_t n = BatchRequestSize("a/b", value) + BatchRequestSize("c", {});
  ASSERT_EQ(n, want.size());
  std::string got(n, '\0');
  char* end = EncodeBatchRequest(got.data(), set, "a/b", value);
  end = EncodeBatchRequest(end, get, "c", {});
  EXPECT_EQ(end, got.data() + n);
  EXPECT_EQ(got, want);
}

// BatchReader gives DecodeBatchBody's items, one at a time, and rejects what
// it rejects.
TEST(BatchTest, ReaderAgreesWithDecodeBatchBody) {
  BatchWriter w;
  Header ok = ReplyHeader(Header{}, Code::kOk);
  w.AddReply(ok, {"one"});
  w.AddReply(ReplyHeader(Header{}, Code::kNotFound), {"gone", ""});
  w.AddReply(ok, {});
  std::string body = w.Take();
  auto items = DecodeBatchBody(body, 3);
  ASSERT_TRUE(items.ok());
  BatchReader r(body, 3);
  ASSERT_TRUE(r.CheckCount().ok());
  Frames f;
  Reply reply;
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.Next(&f).ok()) << i;
    EXPECT_EQ(f, (*items)[i]) << i;
    ASSERT_TRUE(DecodeReply(f, &reply).ok());
    EXPECT_EQ(reply.payload, (*DecodeReply((*items)[i])).payload);
  }
  EXPECT_TRUE(r.Finish().ok());
  EXPECT_EQ(r.Next(&f).code(), Code::kProtocol);  // past the count

  // Every truncation, trailing bytes, forged counts and lengths: kProtocol
  // somewhere along the way, as DecodeBatchBody.
  auto reads = [](std::string_view b, uint64_t count) {
    BatchReader br(b, count);
    Status s = br.CheckCount();
    Frames fr;
    for (uint64_t i = 0; i < count && s.ok(); ++i) s = br.Next(&fr);
    if (s.ok()) s = br.Finish();
    return s;
  };
  EXPECT_TRUE(reads(body, 3).ok());
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_EQ(reads(body.substr(0, n), 3).code(), Code::kProtocol) << n;
    EXPECT_FALSE(DecodeBatchBody(body.substr(0, n), 3).ok()) << n;
  }
  EXPECT_EQ(reads(body + "x", 3).code(), Code::kProtocol);
  EXPECT_EQ(reads(body, 4).code(), Code::kProtocol);
  EXPECT_EQ(reads(body, kMaxBatchItems + 1).code(), Code::kProtocol);
  std::string forged = body;
  forged[0] = '\xff';  // frame count 255
  EXPECT_EQ(reads(forged, 3).code(), Code::kProtocol);
  forged = body;
  forged[4] = '\xff';  // first frame length past the end
  EXPECT_EQ(reads(forged, 3).code(), Code::kProtocol);
  // A reused Reply keeps no payload of an earlier item.
  Reply reused;
  reused.payload = {"stale", "stale"};
  std::string h = EncodeHeader(ok);
  ASSERT_TRUE(DecodeReply(std::vector<std::string_view>{h}, &reused).ok());
  EXPECT_TRUE(reused.payload.empty());
  EXPECT_EQ(DecodeReply(std::vector<std::string_view>{"short"}, &reused).code(),
            Code::kProtocol);
}

}  // namespace
}  // namespace shovel::wire
