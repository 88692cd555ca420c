// Id rules (each rule's message), human sizes and UTF-8 checks.
#include <gtest/gtest.h>

#include "shovel/ids.h"
#include "shovel/size.h"
#include "shovel/text.h"

namespace shovel {
namespace {

std::string Msg(std::string_view id) { return ValidateId(id).message(); }

TEST(IdsTest, AcceptsGoodIds) {
  for (std::string_view id : {"a", "a/b", "x.y/..z/.c", "ümlaut/日本", "a b"}) {
    EXPECT_TRUE(ValidateId(id).ok()) << id;
  }
  EXPECT_TRUE(ValidateId(std::string(4096, 'a')).ok());
}

TEST(IdsTest, EachRuleHasItsMessage) {
  EXPECT_EQ(Msg(""), "the id is empty; ids are 1 to 4096 bytes");
  EXPECT_NE(Msg(std::string(4097, 'a')).find("4097 bytes; ids are at most 4096 bytes"),
            std::string::npos);
  EXPECT_NE(Msg(std::string("a\0b", 3)).find("contains a NUL byte"), std::string::npos);
  EXPECT_NE(Msg("a\xff").find("is not valid UTF-8 (at byte 1)"), std::string::npos);
  EXPECT_NE(Msg("\xc0\x80").find("not valid UTF-8"), std::string::npos);      // overlong
  EXPECT_NE(Msg("\xed\xa0\x80").find("not valid UTF-8"), std::string::npos);  // surrogate
  EXPECT_EQ(Msg("a//b"), "id 'a//b' has an empty path component");
  EXPECT_EQ(Msg("/a"), "id '/a' has an empty path component");
  EXPECT_EQ(Msg("a/"), "id 'a/' has an empty path component");
  EXPECT_EQ(Msg("a/./b"), "id 'a/./b' has a '.' path component");
  EXPECT_EQ(Msg(".."), "id '..' has a '..' path component");
  EXPECT_EQ(ValidateId("a//b").code(), Code::kInvalidArgument);
  EXPECT_NE(Msg("\x01/").find("\\x01"), std::string::npos);  // control chars quoted
}

TEST(IdsTest, Prefixes) {
  EXPECT_TRUE(ValidatePrefix("").ok());
  EXPECT_TRUE(ValidatePrefix("a/").ok());
  EXPECT_TRUE(ValidatePrefix("a/b").ok());
  EXPECT_FALSE(ValidatePrefix("/").ok());
  EXPECT_FALSE(ValidatePrefix("a//").ok());
  EXPECT_NE(ValidatePrefix("../").message().find("prefix"), std::string::npos);
}

TEST(SizeTest, ParsesUnits) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("64KiB"), 64u << 10);
  EXPECT_EQ(*ParseSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseSize("1.5GB"), 1500000000u);
  EXPECT_EQ(*ParseSize("4mib"), 4u << 20);
  EXPECT_EQ(*ParseSize("10 MB"), 10000000u);
  EXPECT_EQ(*ParseSize("7B"), 7u);
  EXPECT_EQ(*ParseSize("2PiB"), 2ull << 50);
  EXPECT_EQ(*ParseSize("3PB"), 3000000000000000u);
}

TEST(SizeTest, ReadsWhatFormatSizeWrites) {
  // FormatSize goes up to PiB (what shovelctl prints); found by the fuzzer.
  for (uint64_t n : {0ull, 1536ull, 5ull << 40, 3947ull << 50}) {
    auto r = ParseSize(FormatSize(n));
    ASSERT_TRUE(r.ok()) << FormatSize(n) << ": " << r.status().ToString();
  }
}

TEST(SizeTest, RejectsGarbageNamingTheText) {
  for (std::string_view bad : {"", "abc", "12XB", "-1", "1..2K", "G"}) {
    auto r = ParseSize(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("'" + std::string(bad) + "'"), std::string::npos);
  }
  EXPECT_NE(ParseSize("99999999TB").status().message().find("too large"),
            std::string::npos);
}

TEST(SizeTest, Formats) {
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(1536), "1.5 KiB");
  EXPECT_EQ(FormatSize(1ull << 30), "1.0 GiB");
}

TEST(TextTest, FirstInvalidUtf8FindsTheOffset) {
  EXPECT_EQ(FirstInvalidUtf8(""), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("gr\xc3\xbc\xc3\x9f"), std::string_view::npos);  // grüß
  EXPECT_EQ(FirstInvalidUtf8("\xf0\x9f\x98\x80"), std::string_view::npos);    // U+1F600
  EXPECT_EQ(FirstInvalidUtf8("ab\xff"), 2u);
  EXPECT_EQ(FirstInvalidUtf8("a\xc3"), 1u);             // truncated sequence
  EXPECT_EQ(FirstInvalidUtf8("\xc0\x80"), 0u);          // overlong NUL
  EXPECT_EQ(FirstInvalidUtf8("x\xed\xa0\x80"), 1u);     // surrogate
  EXPECT_EQ(FirstInvalidUtf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
}

TEST(TextTest, QuoteForMessageShortensAndEscapes) {
  EXPECT_EQ(QuoteForMessage("a/b"), "'a/b'");
  EXPECT_EQ(QuoteForMessage(std::string("a\0b\n", 4)), "'a\\x00b\\x0a'");
  EXPECT_EQ(QuoteForMessage("x\xff\xc3"), "'x\\xff\\xc3'");    // not UTF-8
  EXPECT_EQ(QuoteForMessage("caf\xc3\xa9"), "'caf\xc3\xa9'");  // UTF-8 stays
  EXPECT_EQ(QuoteForMessage(std::string(1025, 'a')), "'" + std::string(64, 'a') + "...'");
}

}  // namespace
}  // namespace shovel
