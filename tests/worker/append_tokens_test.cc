// AppendTokens: which replicated appends a worker remembers having applied.
#include "append_tokens.h"

#include <gtest/gtest.h>

namespace shovel::worker {
namespace {

TEST(AppendTokens, ATokenIsRememberedForItsIdOnly) {
  AppendTokens t;
  EXPECT_FALSE(t.Has("a", 7));
  t.Put("a", 7);
  EXPECT_TRUE(t.Has("a", 7));
  EXPECT_FALSE(t.Has("b", 7));
  EXPECT_FALSE(t.Has("a", 8));
}

TEST(AppendTokens, TokenZeroMeansNone) {
  AppendTokens t;
  t.Put("a", 0);
  EXPECT_FALSE(t.Has("a", 0));
}

TEST(AppendTokens, TheOldestIsForgottenPastTheCapacity) {
  AppendTokens t(3);
  for (uint64_t k = 1; k <= 4; ++k) t.Put("a", k);
  EXPECT_FALSE(t.Has("a", 1));
  EXPECT_TRUE(t.Has("a", 2));
  EXPECT_TRUE(t.Has("a", 4));
  t.Put("b", 2);  // seen again: not added twice
  EXPECT_TRUE(t.Has("b", 2));
  EXPECT_FALSE(t.Has("a", 2));
  t.Put("a", 5);
  EXPECT_FALSE(t.Has("b", 2));
}

}  // namespace
}  // namespace shovel::worker
