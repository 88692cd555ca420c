#include "peer_key_choice.h"

#include <gtest/gtest.h>

namespace shovel::worker {
namespace {

TEST(PeerKeyChoiceTest, OwnKeyWithoutAList) {
  PeerKeyChoice c("own");
  EXPECT_EQ(c.Key("tcp://a:1"), "own");
  EXPECT_FALSE(c.Rejected("tcp://a:1", "own"));
  EXPECT_EQ(c.Key("tcp://a:1"), "own");
}

TEST(PeerKeyChoiceTest, RejectedMovesThatEndpointToTheNextListedKey) {
  PeerKeyChoice c("own");
  c.SetList({"old", "new"});
  EXPECT_EQ(c.Key("a"), "old");
  EXPECT_EQ(c.Key("b"), "old");
  EXPECT_TRUE(c.Rejected("a", "old"));
  EXPECT_EQ(c.Key("a"), "new");
  EXPECT_EQ(c.Key("b"), "old");  // the others keep theirs
  // A second connection made with the old key fails too: already moved.
  EXPECT_TRUE(c.Rejected("a", "old"));
  EXPECT_EQ(c.Key("a"), "new");
  // After the last key, the first again (the peer went back, or has none).
  EXPECT_TRUE(c.Rejected("a", "new"));
  EXPECT_EQ(c.Key("a"), "old");
}

TEST(PeerKeyChoiceTest, AnEditKeepsAListedKeyAndReplacesAnUnlistedOne) {
  PeerKeyChoice c("own");
  c.SetList({"old", "new"});
  EXPECT_TRUE(c.Rejected("a", "old"));
  c.SetList({"older", "old", "new"});
  EXPECT_EQ(c.Key("a"), "new");
  EXPECT_EQ(c.Key("b"), "older");
  c.SetList({"newest"});
  EXPECT_EQ(c.Key("a"), "newest");
  EXPECT_FALSE(c.Rejected("a", "newest"));  // nothing else to try
}

TEST(PeerKeyChoiceTest, AKeyFromConsulWins) {
  PeerKeyChoice c("own");
  c.SetList({"old", "new"});
  c.SetKnown("a", "consul");
  EXPECT_EQ(c.Key("a"), "consul");
  EXPECT_FALSE(c.Rejected("a", "consul"));
  c.SetKnown("a", "");
  EXPECT_EQ(c.Key("a"), "old");
}

}  // namespace
}  // namespace shovel::worker
