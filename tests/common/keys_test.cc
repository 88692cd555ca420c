// Key pair and authorized-keys files: round trips, and every bad input
// gives an error naming the file, the line and the rule.
#include "shovel/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace shovel {
namespace {

const std::string kPub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string kSec = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

TEST(Keys, Z85KeyShape) {
  EXPECT_TRUE(IsZ85Key(kPub));
  EXPECT_FALSE(IsZ85Key(kPub.substr(1)));
  EXPECT_FALSE(IsZ85Key(kPub.substr(1) + "\""));  // not in the alphabet
}

TEST(Keys, KeyPairRoundTrip) {
  KeyPair k{kPub, kSec};
  auto parsed = ParseKeyPair(FormatKeyPair(k), "k.txt");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->public_key, kPub);
  EXPECT_EQ(parsed->secret_key, kSec);
}

TEST(Keys, KeyPairCommentsAndBlanks) {
  auto parsed = ParseKeyPair(
      "# c\n\n  public-key =  " + kPub + "  # trailing\r\nsecret-key=" + kSec + "\n",
      "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->public_key, kPub);
}

TEST(Keys, HashInsideAndAtTheStartOfAKeyIsNoComment) {
  const std::string hashed = "#" + kPub.substr(1, 18) + "#" + kPub.substr(20);
  ASSERT_TRUE(IsZ85Key(hashed));
  auto pair =
      ParseKeyPair("public-key = " + hashed + " # c\nsecret-key = " + hashed + "\n", "f");
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(pair->public_key, hashed);
  auto keys = ParseAuthorizedKeys(hashed + " ro #reader\n# " + kPub + "\n#" + kPub + "\n",
                                  "auth");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->at(hashed), Role::kReadOnly);
}

TEST(Keys, KeyPairErrorsNameFileAndLine) {
  auto e = ParseKeyPair("public-key = " + kPub + "\nsecret = " + kSec + "\n", "k.txt");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "k.txt:2: unknown field 'secret' (a key pair file has public-key and "
            "secret-key)");
  e = ParseKeyPair("public-key = short\n", "k.txt");
  EXPECT_EQ(e.status().message(),
            "k.txt:1: public-key must be 40 Z85 characters, not 'short'");
  e = ParseKeyPair("public-key = " + kPub + "\n", "k.txt");
  EXPECT_EQ(e.status().message(),
            "k.txt: no secret-key line (make a key pair with: shovelctl keygen FILE)");
  e = ParseKeyPair("public-key = " + kPub + "\npublic-key = " + kPub + "\n", "k.txt");
  EXPECT_EQ(e.status().message(), "k.txt:2: public-key given twice");
  e = ParseKeyPair("hello\n", "k.txt");
  EXPECT_EQ(e.status().message(),
            "k.txt:1: expected 'public-key = KEY' or 'secret-key = KEY'");
}

TEST(Keys, AuthorizedKeysRoles) {
  auto keys = ParseAuthorizedKeys(
      "# clients\n" + kPub + "\n" + kSec + " ro # a reader\n\n", "auth");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ(keys->at(kPub), Role::kReadWrite);
  EXPECT_EQ(keys->at(kSec), Role::kReadOnly);
  keys = ParseAuthorizedKeys(kPub + " admin\n", "auth");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->at(kPub), Role::kAdmin);
  EXPECT_EQ(RoleName(Role::kAdmin), "admin");
}

TEST(Keys, AuthorizedKeysErrors) {
  auto e = ParseAuthorizedKeys("\n" + kPub + " root\n", "auth");
  EXPECT_EQ(e.status().message(), "auth:2: unknown role 'root' (roles: rw, ro, admin)");
  e = ParseAuthorizedKeys("nokey\n", "auth");
  EXPECT_EQ(e.status().message(),
            "auth:1: 'nokey' is not a public key (40 Z85 characters)");
  e = ParseAuthorizedKeys(kPub + " ro extra\n", "auth");
  EXPECT_EQ(e.status().message(),
            "auth:1: expected 'KEY [rw|ro|admin]', found more words");
  e = ParseAuthorizedKeys(kPub + "\n" + kPub + " ro\n", "auth");
  EXPECT_EQ(e.status().message(), "auth:2: key listed twice");
  auto empty = ParseAuthorizedKeys("# nobody yet\n", "auth");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(Keys, FilesModeAndNoOverwrite) {
  char dir[] = "/tmp/shovel-keys-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/k";
  ASSERT_TRUE(WriteKeyPairFile(path, {kPub, kSec}).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = ReadKeyPairFile(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->secret_key, kSec);
  Status again = WriteKeyPairFile(path, {kPub, kSec});
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_EQ(again.message(), path + " exists; not overwriting a key file");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto open = ReadKeyPairFile(path);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().message(), path +
                                         " holds a secret key but group or others may "
                                         "read it (chmod 600 " +
                                         path + ")");
  auto missing = ReadAuthorizedKeysFile(std::string(dir) + "/none");
  EXPECT_EQ(missing.status().message(),
            "cannot read " + std::string(dir) + "/none: No such file or directory");
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace shovel
