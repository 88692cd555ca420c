// Read-ahead: the pure window policy, the task pool, and what a FileHandle
// fetches for random and sequential reads (FakeClient, no mount).
#include "shovel/fs/read_ahead.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>

#include "fake_client.h"
#include "shovel/fs/file_handle.h"
#include "shovel/fs/task_pool.h"

namespace shovel::fs {
namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * 1024;

ReadAhead::Limits SmallLimits() { return {128 * KiB, 8 * MiB, 2 * MiB}; }

TEST(ReadAheadPolicy, ASequentialRunStartsSmallAndDoublesToTheMax) {
  ReadAhead ra(SmallLimits());
  EXPECT_EQ(ra.OnRead(0, 4 * KiB), 128 * KiB);
  EXPECT_EQ(ra.OnRead(4 * KiB, 4 * KiB), 256 * KiB);
  EXPECT_EQ(ra.OnRead(8 * KiB, 4 * KiB), 512 * KiB);
  uint64_t off = 12 * KiB, w = 0;
  for (int i = 0; i < 20; ++i, off += 4 * KiB) w = ra.OnRead(off, 4 * KiB);
  EXPECT_EQ(w, 8 * MiB);
}

TEST(ReadAheadPolicy, ARandomReadClosesTheWindow) {
  ReadAhead ra(SmallLimits());
  EXPECT_EQ(ra.OnRead(100 * MiB, 4 * KiB), 0u);  // not at the start
  EXPECT_EQ(ra.OnRead(7 * MiB, 4 * KiB), 0u);
  EXPECT_EQ(ra.OnRead(300 * MiB, 64 * KiB), 0u);
  // A run that goes on from the last read opens it again, small.
  EXPECT_EQ(ra.OnRead(300 * MiB + 64 * KiB, 64 * KiB), 128 * KiB);
  EXPECT_EQ(ra.OnRead(500 * MiB, 4 * KiB), 0u);
  EXPECT_EQ(ra.window(), 0u);
}

TEST(ReadAheadPolicy, KernelReadsArrivingOutOfOrderStaySequential) {
  ReadAhead ra(SmallLimits());
  ra.OnRead(0, 128 * KiB);
  EXPECT_GT(ra.OnRead(256 * KiB, 128 * KiB), 0u);  // overtook the next one
  EXPECT_GT(ra.OnRead(128 * KiB, 128 * KiB), 0u);
  EXPECT_EQ(ra.OnRead(384 * KiB + 3 * MiB, 4 * KiB), 0u);  // beyond `reorder`
}

TEST(ReadAheadPolicy, ALargeReadGetsAWindowAtLeastItsSize) {
  ReadAhead ra(SmallLimits());
  EXPECT_EQ(ra.OnRead(0, 1 * MiB), 1 * MiB);
}

TEST(TaskPoolTest, RunsEveryQueuedTaskBeforeItGoes) {
  std::atomic<int> ran{0};
  {
    TaskPool pool(2);
    for (int i = 0; i < 100; ++i) pool.Post([&] { ran++; });
  }
  EXPECT_EQ(ran.load(), 100);
}

class HandleReads : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(11);
    data_.resize(64 * MiB);
    for (auto& c : data_) c = static_cast<char>(rng());
    ASSERT_TRUE(client_.Set("f", data_).ok());
    base_ = BaseState{true, data_.size(), 1, {}};
  }
  testing::FakeClient client_;
  TaskPool tasks_{4};
  std::string data_;
  BaseState base_;
};

TEST_F(HandleReads, RandomReadsFetchOnlyWhatTheyRead) {
  FileHandle h(&client_, "f", FileHandle::Mode::kRead, base_, HandleLimits{}, nullptr,
               &tasks_);
  std::mt19937_64 rng(3);
  const uint64_t before = client_.counters().got_bytes.load();
  for (int i = 0; i < 200; ++i) {
    uint64_t off = (rng() % (data_.size() / (4 * KiB))) * 4 * KiB;
    uint64_t len = i % 2 == 0 ? 4 * KiB : 64 * KiB;
    len = std::min(len, data_.size() - off);
    Result<ReadData> r = h.Read(off, len);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->bytes, std::string_view(data_).substr(off, len)) << off;
  }
  // A few pairs land within the reorder distance and fetch a small window;
  // a block-sized read per random read would fetch hundreds of MiB.
  EXPECT_LT(client_.counters().got_bytes.load() - before, 32 * MiB);
}

TEST_F(HandleReads, ASequentialReadFetchesEachByteOnceInFewGets) {
  FileHandle h(&client_, "f", FileHandle::Mode::kRead, base_, HandleLimits{}, nullptr,
               &tasks_);
  const uint64_t gets = client_.counters().gets.load();
  const uint64_t bytes = client_.counters().got_bytes.load();
  std::string out;
  for (uint64_t off = 0; off < data_.size(); off += 128 * KiB) {
    Result<ReadData> r = h.Read(off, 128 * KiB);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    out.append(r->bytes);
  }
  ASSERT_TRUE(out == data_);
  EXPECT_EQ(client_.counters().got_bytes.load() - bytes, data_.size());
  // 512 reads; the window grows to 8 MiB fetched in blocks of 4 MiB.
  EXPECT_LT(client_.counters().gets.load() - gets, 64u);
}

TEST_F(HandleReads, ReadsPastTheEndAndAcrossBlocksAreWhole) {
  HandleLimits small;
  small.readahead = 64 * KiB;  // many small blocks to cross
  small.readahead_initial = 16 * KiB;
  FileHandle h(&client_, "f", FileHandle::Mode::kRead, base_, small, nullptr, &tasks_);
  for (uint64_t off = 0; off < 4 * MiB; off += 100 * KiB) {
    Result<ReadData> r = h.Read(off, 100 * KiB);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->bytes, std::string_view(data_).substr(off, 100 * KiB)) << off;
  }
  Result<ReadData> tail = h.Read(data_.size() - 10, 4 * KiB);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->bytes, std::string_view(data_).substr(data_.size() - 10));
}

}  // namespace
}  // namespace shovel::fs
