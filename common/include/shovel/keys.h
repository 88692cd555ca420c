// Key files of shoveling's CURVE security (docs/security.md): a key pair
// file (shovelctl keygen) and a worker's authorized-keys file. Pure text
// parsing and formatting, plus reading/writing the files; no cryptography
// (ZeroMQ's CURVE, with libsodium, does all of it).
//
// Key pair file (mode 0600):
//
//   # shoveling CURVE key pair ...
//   public-key = <40 Z85 characters>
//   secret-key = <40 Z85 characters>
//
// Authorized keys: one public key per line, an optional role after it
// (`rw` when absent, `ro`, `admin`); blank lines are skipped. `#` starts a
// comment at the start of a word; Z85 has '#' in its alphabet, so a key
// (the first word of a line, or a key pair file's value) is read whole
// even when it starts with '#'.
//
// Every error names the file and the line ("keys.txt:3: ...").
// Thread-safety: free functions on values, safe from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/status.h"

namespace shovel {

// A CURVE key in Z85 text is 40 characters of the Z85 alphabet (32 bytes).
inline constexpr size_t kZ85KeySize = 40;
bool IsZ85Key(std::string_view text);

struct KeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

// What a key may do. kReadOnly: PING, GET, STAT, LIST, node stats (and
// BATCHes of those); kReadWrite: every client request; kAdmin: also what
// only workers send each other (replica writes, hand-over, leases, epochs).
enum class Role { kReadOnly, kReadWrite, kAdmin };
std::string_view RoleName(Role role);  // "ro", "rw", "admin"

// Parses a key pair file's text; `name` (the path) prefixes every error.
Result<KeyPair> ParseKeyPair(std::string_view text, const std::string& name);
// The file text for `keys`, with a comment saying what it is.
std::string FormatKeyPair(const KeyPair& keys);

// Parses a worker key file's text (what a client trusts as the workers'
// public keys, docs/security.md): one key per line, or `public-key = KEY`
// as in a key pair file; `#` comments as in authorized keys. In file
// order, without repeats; kInvalidArgument naming `name`:LINE.
Result<std::vector<std::string>> ParseWorkerKeys(std::string_view text,
                                                 const std::string& name);

// Reads a worker key file (ParseWorkerKeys) when it changed since
// `*identity` (its inode, size and mtime; "" at first), for a reader that
// follows an operator's edits. nullopt when unchanged; an error when it
// cannot be read or does not parse (being replaced, half written: the
// caller keeps the keys it has). `*identity` is updated only on success.
Result<std::optional<std::vector<std::string>>> ReadWorkerKeysIfChanged(
    const std::string& path, std::string* identity);

// Parses an authorized-keys file's text: public key -> role.
Result<std::map<std::string, Role>> ParseAuthorizedKeys(std::string_view text,
                                                        const std::string& name);

// Reads and parses a key pair file. kInvalidArgument naming the file when
// it cannot be read, is readable by group or others (it holds a secret), or
// does not parse.
Result<KeyPair> ReadKeyPairFile(const std::string& path);
// Writes a new key pair file, mode 0600; refuses (kAlreadyExists) to
// overwrite an existing file.
Status WriteKeyPairFile(const std::string& path, const KeyPair& keys);
// Reads and parses an authorized-keys file.
Result<std::map<std::string, Role>> ReadAuthorizedKeysFile(const std::string& path);

}  // namespace shovel
