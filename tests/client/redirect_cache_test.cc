#include "redirect_cache.h"

#include <gtest/gtest.h>

namespace shovel::client {
namespace {

TEST(RedirectCache, RemembersWithinAGeneration) {
  RedirectCache c;
  EXPECT_FALSE(c.Lookup("a", 1));
  c.Put("a", {"tcp://h:1", "w1"}, 1);
  auto r = c.Lookup("a", 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->endpoint, "tcp://h:1");
  EXPECT_EQ(r->node_id, "w1");
  c.Erase("a");
  EXPECT_FALSE(c.Lookup("a", 1));
}

TEST(RedirectCache, MembershipChangeDropsEverything) {
  RedirectCache c;
  c.Put("a", {"tcp://h:1", "w1"}, 1);
  c.Put("b", {"tcp://h:2", "w2"}, 1);
  EXPECT_FALSE(c.Lookup("a", 2));
  EXPECT_EQ(c.size(), 0u);
  c.Put("b", {"tcp://h:2", "w2"}, 1);  // learned under the old membership
  EXPECT_FALSE(c.Lookup("b", 2));
}

TEST(RedirectCache, Bounded) {
  RedirectCache c(4);
  for (int i = 0; i < 10; ++i) c.Put("id" + std::to_string(i), {"e", "n"}, 1);
  EXPECT_LE(c.size(), 4u);
  EXPECT_TRUE(c.Lookup("id9", 1));
}

}  // namespace
}  // namespace shovel::client
