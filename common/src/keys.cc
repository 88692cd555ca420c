#include "shovel/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace shovel {
namespace {

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/"
    "*?&<>()[]{}@%$#";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Calls `line(number, text)` for each line with blanks trimmed away,
// skipping empty ones; stops at the first error. Comments are the parser's
// business: Z85 has '#' in its alphabet, so a '#' inside a key is no
// comment.
template <typename F>
Status ForEachLine(std::string_view text, F line) {
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    l = Trim(l);
    if (l.empty()) continue;
    SHOVEL_RETURN_IF_ERROR(line(number, l));
  }
  return Status::Ok();
}

Status LineError(const std::string& name, size_t number, const std::string& what) {
  return Status::InvalidArgument(name + ":" + std::to_string(number) + ": " + what);
}

// The blank-separated words of `l` up to a comment: a word starting with
// '#', except the first `keep` words, which are taken as they are (a key
// may start with '#').
std::vector<std::string_view> Words(std::string_view l, size_t keep) {
  std::vector<std::string_view> out;
  while (!(l = Trim(l)).empty()) {
    size_t end = l.find_first_of(" \t");
    std::string_view w = l.substr(0, end);
    if (w.front() == '#' && out.size() >= keep) break;
    out.push_back(w);
    l.remove_prefix(end == std::string_view::npos ? l.size() : end);
  }
  return out;
}

Result<std::string> ReadWhole(const std::string& path, bool secret) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Status::InvalidArgument("cannot read " + path + ": " + std::strerror(errno));
  }
  if (secret && (st.st_mode & 077) != 0) {
    return Status::InvalidArgument(
        path + " holds a secret key but group or others may read it (chmod 600 " + path +
        ")");
  }
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (!f) return Status::InvalidArgument("cannot read " + path);
  return ss.str();
}

}  // namespace

bool IsZ85Key(std::string_view text) {
  if (text.size() != kZ85KeySize) return false;
  for (char c : text) {
    if (kZ85Alphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReadOnly:
      return "ro";
    case Role::kReadWrite:
      return "rw";
    case Role::kAdmin:
      return "admin";
  }
  return "rw";
}

Result<KeyPair> ParseKeyPair(std::string_view text, const std::string& name) {
  KeyPair keys;
  Status st = ForEachLine(text, [&](size_t n, std::string_view l) -> Status {
    if (l.front() == '#') return Status::Ok();
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) {
      return LineError(name, n, "expected 'public-key = KEY' or 'secret-key = KEY'");
    }
    std::string_view field = Trim(l.substr(0, eq));
    auto rest = Words(l.substr(eq + 1), 1);
    std::string_view value = rest.empty() ? std::string_view() : rest[0];
    if (rest.size() > 1) {
      return LineError(name, n,
                       "unexpected '" + std::string(rest[1].substr(0, 48)) + "' after " +
                           std::string(field));
    }
    std::string* slot = field == "public-key"   ? &keys.public_key
                        : field == "secret-key" ? &keys.secret_key
                                                : nullptr;
    if (slot == nullptr) {
      return LineError(name, n,
                       "unknown field '" + std::string(field) +
                           "' (a key pair file has public-key and secret-key)");
    }
    if (!slot->empty()) return LineError(name, n, std::string(field) + " given twice");
    if (!IsZ85Key(value)) {
      return LineError(name, n,
                       std::string(field) + " must be 40 Z85 characters, not '" +
                           std::string(value.substr(0, 48)) + "'");
    }
    *slot = std::string(value);
    return Status::Ok();
  });
  SHOVEL_RETURN_IF_ERROR(st);
  if (keys.public_key.empty() || keys.secret_key.empty()) {
    return Status::InvalidArgument(
        name + ": no " + (keys.public_key.empty() ? "public-key" : "secret-key") +
        " line (make a key pair with: shovelctl keygen FILE)");
  }
  return keys;
}

std::string FormatKeyPair(const KeyPair& keys) {
  return "# shoveling CURVE key pair (shovelctl keygen); docs/security.md.\n"
         "# Keep this file secret: mode 0600. Give the public key to the workers'\n"
         "# authorized-keys file (clients) or to clients as the worker key.\n"
         "public-key = " +
         keys.public_key + "\nsecret-key = " + keys.secret_key + "\n";
}

Result<std::vector<std::string>> ParseWorkerKeys(std::string_view text,
                                                 const std::string& name) {
  std::vector<std::string> keys;
  Status st = ForEachLine(text, [&](size_t n, std::string_view l) -> Status {
    // As in authorized keys: a line starting with '#' is a comment unless
    // its first word is a key.
    if (l.front() == '#' && !IsZ85Key(l.substr(0, l.find_first_of(" \t")))) {
      return Status::Ok();
    }
    if (size_t eq = l.find('=');
        eq != std::string_view::npos && Trim(l.substr(0, eq)) == "public-key") {
      l = Trim(l.substr(eq + 1));
    }
    auto words = Words(l, 1);
    if (words.size() > 1) {
      return LineError(name, n, "expected one worker public key, found more words");
    }
    if (!IsZ85Key(words[0])) {
      return LineError(name, n,
                       "'" + std::string(words[0].substr(0, 48)) +
                           "' is not a worker public key (40 Z85 characters)");
    }
    if (std::find(keys.begin(), keys.end(), words[0]) == keys.end()) {
      keys.emplace_back(words[0]);
    }
    return Status::Ok();
  });
  SHOVEL_RETURN_IF_ERROR(st);
  if (keys.empty()) return Status::InvalidArgument(name + " lists no worker public key");
  return keys;
}

Result<std::optional<std::vector<std::string>>> ReadWorkerKeysIfChanged(
    const std::string& path, std::string* identity) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Status::InvalidArgument(path + ": " + std::strerror(errno));
  }
  std::string now = std::to_string(st.st_ino) + "/" + std::to_string(st.st_size) + "/" +
                    std::to_string(st.st_mtim.tv_sec) + "." +
                    std::to_string(st.st_mtim.tv_nsec);
  if (now == *identity) return std::optional<std::vector<std::string>>();
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  if (!f) return Status::InvalidArgument(path + ": cannot be read");
  SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> keys,
                          ParseWorkerKeys(text.str(), path));
  *identity = std::move(now);
  return std::optional<std::vector<std::string>>(std::move(keys));
}

Result<std::map<std::string, Role>> ParseAuthorizedKeys(std::string_view text,
                                                        const std::string& name) {
  std::map<std::string, Role> keys;
  Status st = ForEachLine(text, [&](size_t n, std::string_view l) -> Status {
    // A line starting with '#' is a comment, unless its first word is a
    // key (Z85 keys may start with '#').
    bool key_first = IsZ85Key(l.substr(0, l.find_first_of(" \t")));
    if (l.front() == '#' && !key_first) return Status::Ok();
    auto words = Words(l, 1);
    if (words.size() > 2) {
      return LineError(name, n, "expected 'KEY [rw|ro|admin]', found more words");
    }
    if (!IsZ85Key(words[0])) {
      return LineError(name, n,
                       "'" + std::string(words[0].substr(0, 48)) +
                           "' is not a public key (40 Z85 characters)");
    }
    Role role = Role::kReadWrite;
    if (words.size() == 2) {
      if (words[1] == "ro") {
        role = Role::kReadOnly;
      } else if (words[1] == "admin") {
        role = Role::kAdmin;
      } else if (words[1] != "rw") {
        return LineError(
            name, n,
            "unknown role '" + std::string(words[1]) + "' (roles: rw, ro, admin)");
      }
    }
    if (!keys.emplace(std::string(words[0]), role).second) {
      return LineError(name, n, "key listed twice");
    }
    return Status::Ok();
  });
  SHOVEL_RETURN_IF_ERROR(st);
  return keys;
}

Result<KeyPair> ReadKeyPairFile(const std::string& path) {
  SHOVEL_ASSIGN_OR_RETURN(std::string text, ReadWhole(path, /*secret=*/true));
  return ParseKeyPair(text, path);
}

Status WriteKeyPairFile(const std::string& path, const KeyPair& keys) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists(path + " exists; not overwriting a key file");
    }
    return Status::InvalidArgument("cannot create " + path + ": " + std::strerror(errno));
  }
  std::string text = FormatKeyPair(keys);
  bool ok = fchmod(fd, 0600) == 0 &&
            write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = fsync(fd) == 0 && ok;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    unlink(path.c_str());
    return Status::InvalidArgument("cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::map<std::string, Role>> ReadAuthorizedKeysFile(const std::string& path) {
  SHOVEL_ASSIGN_OR_RETURN(std::string text, ReadWhole(path, /*secret=*/false));
  return ParseAuthorizedKeys(text, path);
}

}  // namespace shovel
