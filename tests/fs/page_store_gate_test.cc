// PageStoreGate: when read-around bytes may go into an inode's page cache.
#include "shovel/fs/page_store_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace shovel::fs {
namespace {

using std::chrono_literals::operator""ms;

TEST(PageStoreGate, StoresOnlyTheVersionThePageCacheHolds) {
  PageStoreGate gate;
  EXPECT_FALSE(gate.Begin(5, 7));  // no handle open
  gate.SetVersion(5, 7);
  gate.Opened(5, false);
  EXPECT_FALSE(gate.Begin(5, 0));
  EXPECT_FALSE(gate.Begin(5, 6));
  ASSERT_TRUE(gate.Begin(5, 7));
  gate.End(5);
  gate.SetVersion(5, 8);  // another open saw a new version
  EXPECT_FALSE(gate.Begin(5, 7));
  gate.SetVersion(5, 0);  // unknown (a truncate)
  EXPECT_FALSE(gate.Begin(5, 0));
  EXPECT_FALSE(gate.Begin(5, 8));
}

TEST(PageStoreGate, NoStoreWhileAWritableHandleIsOpen) {
  PageStoreGate gate;
  gate.SetVersion(3, 1);
  gate.Opened(3, false);
  gate.Opened(3, true);
  EXPECT_FALSE(gate.Begin(3, 1));
  gate.Closed(3, true);
  EXPECT_TRUE(gate.Begin(3, 1));
  gate.End(3);
  gate.Closed(3, false);
  EXPECT_EQ(gate.size(), 0u);  // closed inodes leave nothing
  EXPECT_FALSE(gate.Begin(3, 1));
}

// A version change or a writable open returns only after the stores in
// flight have ended (so none lands after the kernel drops the pages).
TEST(PageStoreGate, ChangesWaitForStoresInFlight) {
  for (bool writer : {false, true}) {
    PageStoreGate gate;
    gate.SetVersion(9, 4);
    gate.Opened(9, false);
    ASSERT_TRUE(gate.Begin(9, 4));
    std::atomic<bool> done{false};
    std::thread t([&] {
      if (writer) {
        gate.Opened(9, true);
      } else {
        gate.SetVersion(9, 5);
      }
      done = true;
    });
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(done.load()) << (writer ? "writable open" : "new version");
    EXPECT_FALSE(gate.Begin(9, 4));  // no new store starts meanwhile
    gate.End(9);
    t.join();
    EXPECT_TRUE(done.load());
  }
}

TEST(PageStoreGate, BoundsStoresInFlight) {
  PageStoreGate gate(2);
  for (uint64_t ino : {1, 2, 3}) {
    gate.SetVersion(ino, 1);
    gate.Opened(ino, false);
  }
  ASSERT_TRUE(gate.Begin(1, 1));
  ASSERT_TRUE(gate.Begin(2, 1));
  EXPECT_FALSE(gate.Begin(3, 1));
  gate.End(1);
  EXPECT_TRUE(gate.Begin(3, 1));
  gate.End(2);
  gate.End(3);
}

TEST(PageStoreGate, AStoreEndingAfterTheLastCloseLeavesNothing) {
  PageStoreGate gate;
  gate.SetVersion(4, 2);
  gate.Opened(4, false);
  ASSERT_TRUE(gate.Begin(4, 2));
  gate.Closed(4, false);
  EXPECT_EQ(gate.size(), 1u);
  gate.End(4);
  EXPECT_EQ(gate.size(), 0u);
}

}  // namespace
}  // namespace shovel::fs
