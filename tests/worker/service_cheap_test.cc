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

}  // namespace
}  // namespace shovel::worker
