// Store LIST: sorted, paged, with and without a delimiter.
#include <gtest/gtest.h>

#include <chrono>

#include "shovel/worker/store.h"

namespace shovel::worker {
namespace {

using Names = std::vector<std::string>;

TEST(StoreListTest, PagesAndDelimiter) {
  Store s("w1", WorkerConfig{});
  for (auto id : {"a/1", "a/2", "a/b/x", "a/b/y", "a/c/z", "a0", "b"}) {
    ASSERT_TRUE(s.Set(id, "v").ok());
  }
  EXPECT_EQ(s.List("a/", "", 100, false).names,
            (Names{"a/1", "a/2", "a/b/x", "a/b/y", "a/c/z"}));
  EXPECT_EQ(s.List("a/", "", 100, true).names, (Names{"1", "2", "b/", "c/"}));
  auto p1 = s.List("a/", "", 2, true);
  EXPECT_EQ(p1.names, (Names{"1", "2"}));
  EXPECT_TRUE(p1.more);
  auto p2 = s.List("a/", "2", 1, true);
  EXPECT_EQ(p2.names, (Names{"b/"}));
  auto p3 = s.List("a/", "b/", 5, true);
  EXPECT_EQ(p3.names, (Names{"c/"}));
  EXPECT_FALSE(p3.more);
  EXPECT_EQ(s.List("", "", 100, true).names, (Names{"a/", "a0", "b"}));
  EXPECT_EQ(s.List("", "a/c/z", 100, false).names, (Names{"a0", "b"}));
  EXPECT_TRUE(s.List("zz", "", 100, false).names.empty());
}

TEST(StoreListTest, HundredThousandIdsUnderOnePrefixPageQuickly) {
  Store s("w1", WorkerConfig{});
  char buf[32];
  for (int i = 0; i < 100000; ++i) {
    std::snprintf(buf, sizeof buf, "big/%06d", i);
    ASSERT_TRUE(s.Create(buf, false, false).ok());
  }
  auto start = std::chrono::steady_clock::now();
  std::string cursor;
  size_t total = 0;
  for (;;) {
    auto page = s.List("big/", cursor, 1000, true);
    total += page.names.size();
    if (!page.more) break;
    cursor = page.names.back();
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  EXPECT_EQ(total, 100000u);
  EXPECT_LT(ms, 2000) << "listing 100k ids took " << ms << " ms";
  EXPECT_EQ(s.List("", "", 10, true).names, (Names{"big/"}));
}

}  // namespace
}  // namespace shovel::worker
