// CodecPool's framed chunks (unit, no store): a compressed chunk is a run of
// independent zstd frames, and a range read decompresses only its frames.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "chunk.h"
#include "store_test_util.h"

namespace shovel::worker {
namespace {

using testing::RandomBytes;
using testing::Text;

std::string ReadRange(CodecPool& codecs, const Chunk& c, uint32_t off, uint32_t n) {
  std::string out(n, '\0');
  Status s = codecs.Read(c, off, n, out.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(ChunkFramesTest, ACompressedChunkHasOneFramePerFrameSize) {
  CodecPool codecs;
  const std::string raw = Text((4u << 20) - 1000);
  auto c = codecs.Compress(raw, 1);
  ASSERT_TRUE(c->compressed);
  EXPECT_EQ(c->frame_ends.size(), (raw.size() + kFrameBytes - 1) / kFrameBytes);
  EXPECT_EQ(c->frame_ends.back(), c->stored_size);
  EXPECT_EQ(ReadRange(codecs, *c, 0, static_cast<uint32_t>(raw.size())), raw);
}

TEST(ChunkFramesTest, EveryRangeReadsTheRawBytes) {
  CodecPool codecs;
  const std::string raw = Text((1u << 20) + 12345);
  auto c = codecs.Compress(raw, 3);
  ASSERT_TRUE(c->compressed);
  std::mt19937 rng(5);
  std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {0, 1},
      {kFrameBytes - 1, 2},                        // across a boundary
      {kFrameBytes, kFrameBytes},                  // one whole frame
      {kFrameBytes - 7, 3 * kFrameBytes + 14},     // partial, whole, partial
      {static_cast<uint32_t>(raw.size()) - 5, 5},  // the short last frame
      {0, static_cast<uint32_t>(raw.size()) - 1}};
  for (int i = 0; i < 200; ++i) {
    uint32_t off = rng() % raw.size();
    ranges.emplace_back(off, 1 + rng() % std::min<uint32_t>(300000, raw.size() - off));
  }
  for (auto [off, n] : ranges) {
    ASSERT_EQ(ReadRange(codecs, *c, off, n), raw.substr(off, n)) << off << "+" << n;
  }
}

TEST(ChunkFramesTest, ARangeReadDecompressesOnlyItsFrames) {
  CodecPool codecs;
  const std::string raw = Text(8 * kFrameBytes);
  auto c = codecs.Compress(raw, 1);
  ASSERT_TRUE(c->compressed);
  ASSERT_EQ(c->frame_ends.size(), 8u);
  // Damage frames 0 and 1: a read inside frames 3..4 never touches them.
  std::fill(c->data.get(), c->data.get() + c->frame_ends[1], '\xff');
  EXPECT_EQ(ReadRange(codecs, *c, 3 * kFrameBytes + 100, kFrameBytes),
            raw.substr(3 * kFrameBytes + 100, kFrameBytes));
  std::string out(10, '\0');
  Status s = codecs.Read(*c, kFrameBytes + 5, 10, out.data());
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.ToString().find("failed to decompress"), std::string::npos);
}

TEST(ChunkFramesTest, SmallAndIncompressibleChunksAreUnframed) {
  CodecPool codecs;
  auto small = codecs.Compress(Text(kFrameBytes), 1);
  ASSERT_TRUE(small->compressed);
  EXPECT_TRUE(small->frame_ends.empty());
  EXPECT_EQ(ReadRange(codecs, *small, 100, 50), Text(kFrameBytes).substr(100, 50));
  auto noise = codecs.Compress(RandomBytes(1u << 20, 3), 1);
  EXPECT_FALSE(noise->compressed);
  EXPECT_TRUE(noise->frame_ends.empty());
}

}  // namespace
}  // namespace shovel::worker
