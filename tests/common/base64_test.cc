#include "shovel/base64.h"

#include <gtest/gtest.h>

namespace shovel {
namespace {

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> kVectors[] = {{"", ""},
                                                          {"f", "Zg=="},
                                                          {"fo", "Zm8="},
                                                          {"foo", "Zm9v"},
                                                          {"foob", "Zm9vYg=="},
                                                          {"fooba", "Zm9vYmE="},
                                                          {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64Test, BinaryRoundTrip) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  auto decoded = Base64Decode(Base64Encode(bytes));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, bytes);
}

TEST(Base64Test, RejectsBadInput) {
  auto bad_length = Base64Decode("Zm9");
  EXPECT_EQ(bad_length.status().code(), Code::kCorruption);
  EXPECT_NE(bad_length.status().message().find("multiple of 4"), std::string::npos);
  EXPECT_EQ(Base64Decode("Zm9*").status().code(), Code::kCorruption);
  EXPECT_EQ(Base64Decode("Zg=a").status().code(), Code::kCorruption);  // data after '='
  EXPECT_EQ(Base64Decode("Z===").status().code(), Code::kCorruption);
  EXPECT_EQ(Base64Decode("Zg==Zm9v").status().code(), Code::kCorruption);  // pad mid-text
}

}  // namespace
}  // namespace shovel
