// Service::Cheap: which requests the worker serves on its I/O thread. A LIST
// of a few names (a shovelfs lookup's one-name LIST) is; a LIST of the
// default page or more is not, so a large listing never holds up the socket.
#include <gtest/gtest.h>

#include "service.h"

namespace shovel::worker {
namespace {

wire::Request ListRequest(std::string_view prefix, uint32_t limit) {
  wire::Request r;
  r.header.op = wire::Op::kList;
  r.header.aux = limit;
  r.id = prefix;
  return r;
}

TEST(ServiceCheapTest, ListOfAFewNamesOnly) {
  Store store("w1", WorkerConfig{});
  ServiceCounters counters;
  Service svc(&store, &counters, "tcp://127.0.0.1:1");
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(store.Set("d/f" + std::to_string(i), "v").ok());
  EXPECT_TRUE(svc.Cheap(ListRequest("d/", 1)));
  EXPECT_TRUE(svc.Cheap(ListRequest("d/", Service::kCheapListNames)));
  EXPECT_FALSE(svc.Cheap(ListRequest("d/", Service::kCheapListNames + 1)));
  EXPECT_FALSE(svc.Cheap(ListRequest("d/", 0)));  // 0 = the default page (1000)

  // Served on any thread, the answer is the same: one name and "more".
  ServiceReply rep = svc.Handle(ListRequest("d/", 1));
  EXPECT_EQ(rep.header.status, Code::kOk);
  EXPECT_EQ(rep.header.aux, 1u);
  EXPECT_NE(rep.header.flags & wire::kFlagMore, 0);
}

wire::Request GetRequest(std::string_view id, uint64_t offset, uint64_t length) {
  wire::Request r;
  r.header.op = wire::Op::kGet;
  r.header.offset = offset;
  r.header.length = length;
  r.id = id;
  return r;
}

// A store with 1 MiB chunks at compression `level`, and its service.
struct Served {
  explicit Served(int level)
      : store("w1", Config(level)), svc(&store, &counters, "tcp://127.0.0.1:1") {}
  static WorkerConfig Config(int level) {
    WorkerConfig cfg;
    cfg.compression_level = level;
    cfg.chunk_size = 1 << 20;
    return cfg;
  }
  Store store;
  ServiceCounters counters;
  Service svc;
};

// A GET is served on the I/O thread when it needs no decompression and no
// copy: a range in one raw chunk, of any size, is a zero-copy slice; a
// compressed value or a range across two raw chunks is not.
TEST(ServiceCheapTest, GetOfOneRawChunkAtAnySizeOnly) {
  Served w(1);
  Store& store = w.store;
  Service& svc = w.svc;
  std::string noise(3 << 20, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : noise) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  std::string text;
  while (text.size() < (1u << 20)) text += "line " + std::to_string(text.size()) + "\n";
  ASSERT_TRUE(store.Set("raw", noise).ok());
  ASSERT_TRUE(store.Set("text", text).ok());
  ASSERT_LT(store.Stat("text")->stored_bytes, text.size() / 2);  // compressed
  ASSERT_EQ(store.Stat("raw")->stored_bytes, noise.size());      // raw chunks

  EXPECT_TRUE(svc.Cheap(GetRequest("raw", 0, 1 << 20)));           // chunk 0 whole
  EXPECT_TRUE(svc.Cheap(GetRequest("raw", (1 << 20) + 5, 1000)));  // inside chunk 1
  EXPECT_FALSE(svc.Cheap(GetRequest("raw", 0, wire::kToEnd)));     // three chunks
  EXPECT_FALSE(svc.Cheap(GetRequest("raw", (1 << 20) - 1, 2)));    // across two
  EXPECT_FALSE(svc.Cheap(GetRequest("text", 0, wire::kToEnd)));    // decompression
  EXPECT_TRUE(svc.Cheap(GetRequest("missing", 0, wire::kToEnd)));  // NotFound
  EXPECT_TRUE(svc.Cheap(GetRequest("raw", 5u << 20, 10)));         // past the end

  // Served here, the bytes are the stored ones.
  ServiceReply rep = svc.Handle(GetRequest("raw", (1 << 20) + 5, 1000));
  ASSERT_EQ(rep.header.status, Code::kOk);
  ASSERT_EQ(rep.payload.size(), 1u);
  const Slice& s = rep.payload[0].slice;
  ASSERT_TRUE(s.owner);
  EXPECT_EQ(std::string(s.data, s.size), noise.substr((1 << 20) + 5, 1000));
}

wire::Request SetRequest(std::string_view id,
                         const std::vector<std::string_view>& frames) {
  wire::Request r;
  r.header.op = wire::Op::kSet;
  r.id = id;
  r.payload = frames;
  for (auto f : frames) r.payload_bytes += f.size();
  return r;
}

// A SET of a value that fits one chunk and arrives in one frame is served on
// the I/O thread when the store keeps that frame as it is (no copy) and
// compresses later or never; split over frames, longer than a chunk, or
// compressed on the way in, it goes to a handler.
TEST(ServiceCheapTest, LargeSetOnlyWhenStoredAsItArrived) {
  Served w(1);
  Store& store = w.store;
  Service& svc = w.svc;
  const std::string mib(1 << 20, 'x'), more((1 << 20) + 1, 'x');
  const std::string_view half(mib.data(), mib.size() / 2);
  EXPECT_TRUE(svc.Cheap(SetRequest("a", {std::string_view(mib).substr(0, 1000)})));
  // Level 1, compressed during the SET: not here.
  EXPECT_FALSE(svc.Cheap(SetRequest("a", {mib})));
  store.CompressInBackground(true);
  EXPECT_TRUE(svc.Cheap(SetRequest("a", {mib})));
  EXPECT_FALSE(svc.Cheap(SetRequest("a", {more})));        // two chunks: a copy
  EXPECT_FALSE(svc.Cheap(SetRequest("a", {half, half})));  // two frames: a copy
  wire::Request append = SetRequest("a", {mib});
  append.header.op = wire::Op::kAppend;
  EXPECT_FALSE(svc.Cheap(append));  // appended bytes are copied into chunks
  store.CompressInBackground(false);

  Served raw_worker(0);
  Store& raw = raw_worker.store;
  Service& raw_svc = raw_worker.svc;
  EXPECT_TRUE(raw_svc.Cheap(SetRequest("a", {mib})));
  EXPECT_FALSE(raw_svc.Cheap(SetRequest("a", {more})));

  // Served with the frame kept, the stored bytes are the frame's.
  auto frame = std::make_shared<std::string>(mib);
  ServiceReply rep = raw_svc.Handle(SetRequest("a", {*frame}), frame);
  ASSERT_EQ(rep.header.status, Code::kOk);
  auto got = raw.Read("a", 0, wire::kToEnd, 2 << 20);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size, mib.size());
  EXPECT_EQ(std::string(got->bytes.data, got->bytes.size), mib);
  EXPECT_EQ(got->bytes.data, frame->data());  // no copy
}

// BATCH GET items are written straight into the batch reply: the bytes of a
// compressed value, a miss, a range cut to the blob and a redirect each come
// back as the single request would have them.
// A BATCH request of `count` items; views into `body`.
wire::Request BatchRequest(const std::string& body, uint64_t count) {
  wire::Request req;
  req.header.op = wire::Op::kBatch;
  req.header.aux = count;
  req.payload = {body};
  req.payload_bytes = body.size();
  return req;
}

TEST(ServiceCheapTest, BatchGetItemsAnswerLikeSingleGets) {
  WorkerConfig cfg;
  cfg.compression_level = 1;
  Store store("w1", cfg);
  ServiceCounters counters;
  Service svc(&store, &counters, "tcp://127.0.0.1:1");
  std::string text;
  while (text.size() < 3000) text += "compressible text " + std::to_string(text.size());
  auto w = store.Set("a", text);
  ASSERT_TRUE(w.ok());
  ASSERT_LT(store.Stat("a")->stored_bytes, text.size());  // compressed
  ASSERT_TRUE(store.PutPointer("p", {"tcp://10.0.0.2:7000", "w2"}).ok());
  wire::BatchWriter bw;
  auto get = [&](uint64_t rid, std::string_view id, uint64_t off, uint64_t len) {
    wire::Header h;
    h.op = wire::Op::kGet;
    h.request_id = rid;
    h.offset = off;
    h.length = len;
    bw.AddRequest(h, id, {});
  };
  get(1, "a", 0, wire::kToEnd);
  get(2, "missing", 0, wire::kToEnd);
  get(3, "a", 2990, 100);
  get(4, "p", 0, wire::kToEnd);
  std::string body = bw.Take();
  ServiceReply rep = svc.Handle(BatchRequest(body, 4));
  ASSERT_EQ(rep.header.status, Code::kOk);
  ASSERT_EQ(rep.header.aux, 4u);
  auto items = wire::DecodeBatchBody(rep.payload.at(0).bytes, 4);
  ASSERT_TRUE(items.ok());
  std::vector<wire::Reply> r;
  for (const auto& frames : *items) {
    auto d = wire::DecodeReply(frames);
    ASSERT_TRUE(d.ok());
    r.push_back(*d);
  }
  EXPECT_EQ(r[0].header.request_id, 1u);
  EXPECT_EQ(r[0].header.status, Code::kOk);
  EXPECT_EQ(r[0].header.version_no, w->version);
  EXPECT_EQ(r[0].header.length, text.size());
  EXPECT_EQ(r[0].payload.at(0), text);
  EXPECT_EQ(r[1].header.status, Code::kNotFound);
  EXPECT_NE(r[1].payload.at(0).find("'missing' does not exist"), std::string::npos);
  EXPECT_EQ(r[2].header.status, Code::kOk);
  EXPECT_EQ(r[2].header.offset, 2990u);
  EXPECT_EQ(r[2].payload.at(0), text.substr(2990, 100));
  EXPECT_EQ(r[3].header.status, Code::kRedirect);
  EXPECT_EQ(r[3].payload.at(0), "tcp://10.0.0.2:7000");
}

// A BATCH whose body does not split into its count is refused whole: the
// valid SET before the damage is not applied.
TEST(ServiceCheapTest, ABatchThatDoesNotDecodeTouchesNoId) {
  WorkerConfig cfg;
  Store store("w1", cfg);
  ServiceCounters counters;
  Service svc(&store, &counters, "tcp://127.0.0.1:1");
  wire::BatchWriter bw;
  wire::Header h;
  h.op = wire::Op::kSet;
  h.request_id = 1;
  const std::vector<std::string_view> value = {"first"};
  bw.AddRequest(h, "b/first", value);
  h.request_id = 2;
  bw.AddRequest(h, "b/second", value);
  const std::string whole = bw.Take();
  for (std::string body : {whole.substr(0, whole.size() - 3), whole + "xx"}) {
    ServiceReply rep = svc.Handle(BatchRequest(body, 2));
    EXPECT_EQ(rep.header.status, Code::kProtocol);
    ASSERT_EQ(rep.payload.size(), 1u);
    EXPECT_NE(rep.payload[0].bytes.find("BATCH body is malformed"), std::string::npos)
        << rep.payload[0].bytes;
    EXPECT_TRUE(store.Stat("b/first").status().IsNotFound());
  }
}

}  // namespace
}  // namespace shovel::worker
