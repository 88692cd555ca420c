// ParseDuration (Go durations) and the shoveling service-entry conventions.
#include "shovel/consul/duration.h"

#include <gtest/gtest.h>

#include "shovel/consul/service_entry.h"

namespace shovel::consul {
namespace {

TEST(Duration, ParsesGoForms) {
  EXPECT_EQ(ParseDuration("10s")->count(), 10000);
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("1m30s")->count(), 90000);
  EXPECT_EQ(ParseDuration("2h")->count(), 7200000);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1500);
  EXPECT_EQ(ParseDuration("0")->count(), 0);
}

TEST(Duration, RejectsOtherText) {
  for (const char* bad : {"", "10", "s", "10x", "1m30", "-1s", "1.2.3s"}) {
    auto d = ParseDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().message(), "duration '" + std::string(bad) +
                                        "' is not valid; use e.g. 500ms, 10s, 1m, "
                                        "1m30s, 2h");
  }
}

TEST(ServiceEntry, EndpointAndNodeId) {
  HealthEntry e;
  e.node_address = "10.0.0.9";
  e.service.id = "shoveling-w1";
  e.service.port = 7070;
  EXPECT_EQ(ServiceEndpoint(e), "tcp://10.0.0.9:7070");  // the node's address
  EXPECT_EQ(ServiceNodeId(e), "shoveling-w1");
  e.service.address = "fd00::2";
  e.service.meta["node_id"] = "w1";
  EXPECT_EQ(ServiceEndpoint(e), "tcp://[fd00::2]:7070");
  EXPECT_EQ(ServiceNodeId(e), "w1");
}

}  // namespace
}  // namespace shovel::consul
