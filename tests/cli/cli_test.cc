// Every shovelctl command against three real workers: exact stdout bytes,
// stderr text and exit codes; the shell through a pseudo-terminal.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ctl_run.h"
#include "worker_fixture.h"

extern char** environ;

namespace shovel {
namespace {

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = testing::Cluster::Start(3);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = new testing::Cluster(std::move(*c));
    setenv("SHOVEL_WORKERS", cluster_->joined().c_str(), 1);
    setenv("HOME", "/tmp", 0);
  }
  static void TearDownTestSuite() {
    delete cluster_;  // kills the workers by pid
    cluster_ = nullptr;
  }
  static testing::Cluster* cluster_;
};
testing::Cluster* CliTest::cluster_ = nullptr;

TEST_F(CliTest, SetGetAppendRm) {
  CtlRun r = Ctl({"set", "t/a"}, "hello");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Ctl({"get", "t/a"}).out, "hello");
  EXPECT_EQ(Ctl({"append", "t/a"}, " world").code, 0);
  EXPECT_EQ(Ctl({"get", "t/a"}).out, "hello world");
  EXPECT_EQ(Ctl({"get", "t/a", "--offset", "6", "--length", "3"}).out, "wor");
  EXPECT_EQ(Ctl({"set", "t/b", "--value", "v"}).code, 0);
  std::ofstream("/tmp/shovelctl-test-file") << "from a file";
  EXPECT_EQ(Ctl({"set", "t/c", "/tmp/shovelctl-test-file"}).code, 0);
  EXPECT_EQ(Ctl({"get", "t/c"}).out, "from a file");
  std::remove("/tmp/shovelctl-test-file");
  r = Ctl({"--json", "get", "t/b"});
  EXPECT_EQ(r.out, "{\"bytes\":1,\"data\":\"v\",\"id\":\"t/b\",\"offset\":0}\n");
  // Bytes that are not UTF-8 come back exactly, as base64.
  EXPECT_EQ(Ctl({"set", "t/bin"}, std::string("\x00\xff\xfe", 3)).code, 0);
  r = Ctl({"--json", "get", "t/bin"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "{\"bytes\":3,\"data_base64\":\"AP/+\",\"id\":\"t/bin\",\"offset\":0}\n");
  r = Ctl({"rm", "t/a"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
  r = Ctl({"get", "t/a"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "shovelctl: get 't/a': not found: id 't/a' does not exist\n");
  r = Ctl({"rm", "t/a"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "shovelctl: rm 't/a': not found: id 't/a' does not exist\n");
}

TEST_F(CliTest, BigValueStreamsThroughStdinAndStdout) {
  std::string big(20 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) >> 7);
  EXPECT_EQ(Ctl({"set", "t/big"}, big).code, 0);
  CtlRun r = Ctl({"get", "t/big"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(r.out == big) << r.out.size();
}

TEST_F(CliTest, LsStatNodeIdsScore) {
  for (const char* id : {"ls/a", "ls/b", "ls/sub/c", "lsx"}) {
    ASSERT_EQ(Ctl({"set", id, "--value", "1"}).code, 0);
  }
  EXPECT_EQ(Ctl({"ls", "ls/"}).out, "ls/a\nls/b\nls/sub/c\n");
  EXPECT_EQ(Ctl({"ls", "ls/", "--limit", "2"}).out, "ls/a\nls/b\n");
  EXPECT_EQ(Ctl({"ls", "ls/", "-d"}).out, "a\nb\nsub/\n");
  // Paging: --json names where the next page starts; --after starts there.
  EXPECT_EQ(Ctl({"--json", "ls", "ls/", "--limit", "2"}).out,
            "{\"ids\":[\"ls/a\",\"ls/b\"],\"next_after\":\"ls/b\",\"prefix\":\"ls/\"}\n");
  EXPECT_EQ(Ctl({"ls", "ls/", "--after", "ls/b"}).out, "ls/sub/c\n");
  EXPECT_EQ(Ctl({"--json", "ls", "ls/", "--limit", "3"}).out,
            "{\"ids\":[\"ls/a\",\"ls/b\",\"ls/sub/c\"],\"prefix\":\"ls/\"}\n");
  EXPECT_EQ(Ctl({"ls", "ls/", "-d", "--after", "a"}).out, "b\nsub/\n");
  EXPECT_EQ(Ctl({"--json", "ls", "ls/"}).out,
            "{\"ids\":[\"ls/a\",\"ls/b\",\"ls/sub/c\"],\"prefix\":\"ls/\"}\n");
  CtlRun node = Ctl({"node-ids", "ls/a"});
  EXPECT_EQ(node.code, 0);
  ASSERT_TRUE(node.out == "w1\n" || node.out == "w2\n" || node.out == "w3\n") << node.out;
  std::string holder = node.out.substr(0, 2);
  EXPECT_EQ(Ctl({"node-id", "ls/a"}).out, node.out);
  EXPECT_EQ(Ctl({"score", holder, "ls/a"}).out, "0\n");
  EXPECT_EQ(Ctl({"score", holder == "w1" ? "w2" : "w1", "ls/a"}).out, "unknown\n");
  EXPECT_EQ(Ctl({"--json", "score", holder, "ls/a"}).out,
            "{\"id\":\"ls/a\",\"node\":\"" + holder + "\",\"score_ms\":0.0}\n");
  CtlRun st = Ctl({"stat", "ls/a"});
  EXPECT_EQ(st.code, 0);
  EXPECT_NE(st.out.find("id: ls/a\nsize: 1\n"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("holders: " + holder + "\n"), std::string::npos) << st.out;
  // Times for people: UTC ISO 8601, this year's.
  for (const char* field : {"created: ", "modified: ", "accessed: "}) {
    size_t at = st.out.find(field);
    ASSERT_NE(at, std::string::npos) << field << st.out;
    std::string when = st.out.substr(at + strlen(field), 24);
    EXPECT_EQ(when.size(), 24u) << st.out;
    EXPECT_EQ(when[10], 'T') << when;
    EXPECT_EQ(when.back(), 'Z') << when;
    EXPECT_GE(when.substr(0, 4), "2025") << when;
  }
  CtlRun nearest = Ctl({"node-id", "ls/a", "--strategy", "nearest"});
  EXPECT_EQ(nearest.code, 1);
  EXPECT_EQ(nearest.err,
            "shovelctl: node-id 'ls/a': unavailable: node_id strategy 'nearest' needs "
            "Consul coordinates (connect through Consul)\n");
}

TEST_F(CliTest, InitThousandIdsSpreadsExactly) {
  // Ids per node from `--json members` (other tests' ids are counted too,
  // so the spread is the difference across the init).
  auto ids_per_node = [&] {
    CtlRun m = Ctl({"--json", "members"});
    EXPECT_EQ(m.code, 0) << m.err;
    std::map<std::string, long> per;
    auto j = nlohmann::json::parse(m.out);
    for (const auto& node : j["members"]) {
      per[node["node_id"].get<std::string>()] = node["ids"].get<long>();
    }
    return per;
  };
  auto before = ids_per_node();
  CtlRun r = Ctl({"init", "--prefix", "i/", "--count", "1000"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "initialized 1000 ids (uniform_nodes)\n");
  EXPECT_EQ(r.err, "");  // no progress bar when stderr is not a terminal
  auto after = ids_per_node();
  std::vector<long> added;
  for (const auto& [node, n] : after) added.push_back(n - before[node]);
  std::sort(added.begin(), added.end());
  EXPECT_EQ(added, (std::vector<long>{333, 333, 334}));
  CtlRun m = Ctl({"members"});
  EXPECT_EQ(m.code, 0);
  EXPECT_EQ(m.out.substr(0, m.out.find('\n')),
            "NODE  ENDPOINT" + std::string(m.out.find("CORES") - 14, ' ') +
                "CORES  MEMORY" +
                m.out.substr(m.out.find("MEMORY") + 6,
                             m.out.find('\n') - m.out.find("MEMORY") - 6));
  int lines = 0;
  for (char c : m.out) lines += c == '\n';
  EXPECT_EQ(lines, 4);
  EXPECT_NE(m.out.find("w1    tcp://127.0.0.1:"), std::string::npos) << m.out;
  CtlRun j = Ctl({"--json", "members"});
  EXPECT_EQ(j.out.rfind("{\"members\":[{\"cores\":", 0), 0u) << j.out;
  EXPECT_NE(j.out.find("\"malformed\":0,"), std::string::npos) << j.out;
}

TEST_F(CliTest, InitFromFileAndIds) {
  std::ofstream("/tmp/shovelctl-ids") << "f/1\nf/2\n\nf/3\n";
  CtlRun r =
      Ctl({"init", "--from-file", "/tmp/shovelctl-ids", "--strategy", "uniform_cpu"});
  std::remove("/tmp/shovelctl-ids");
  EXPECT_EQ(r.out, "initialized 3 ids (uniform_cpu)\n");
  EXPECT_EQ(Ctl({"--json", "init", "g/1", "g/2"}).out,
            "{\"initialized\":2,\"strategy\":\"uniform_nodes\"}\n");
  // Each id counts once, however often it is given.
  EXPECT_EQ(Ctl({"init", "d/1", "d/1", "d/2", "d/1"}).out,
            "initialized 2 ids (uniform_nodes)\n");
  EXPECT_EQ(Ctl({"get", "g/1"}).code, 0);
}

TEST_F(CliTest, ErrorsAreOneLineWithExitCodes) {
  CtlRun r = Ctl({"get", "a//b"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "shovelctl: get 'a//b': invalid argument: id 'a//b' has an empty path "
            "component\n");
  r = Ctl({"init", "--strategy", "best", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "shovelctl: init: invalid argument: unknown init strategy 'best'; valid "
            "strategies: uniform_nodes, uniform_cpu, uniform_memory\n");
  r = Ctl({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  r = Ctl({"get"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("shovelctl: ", 0), 0u);
  r = Ctl({});  // no command, stdin not a terminal
  EXPECT_EQ(r.code, 2);
  r = Ctl({"--workers", "tcp://127.0.0.1:1", "--deadline", "300", "get", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "shovelctl: get 'x': unavailable: cannot reach worker tcp://127.0.0.1:1 (no "
            "connection within 300 ms)\n");
  // Not one deadline for the client's first PING and another for the GET
  // (that took 11 s at the default 5000 ms): the first PING waits 1 s, and
  // the GET to a worker found down a short recheck.
  auto start = std::chrono::steady_clock::now();
  r = Ctl({"--workers", "tcp://127.0.0.1:1", "--deadline", "2000", "get", "x"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach worker tcp://127.0.0.1:1"), std::string::npos)
      << r.err;
  EXPECT_GE(took, std::chrono::milliseconds(1000));
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  // A negative range is a usage error, not a huge unsigned number.
  r = Ctl({"get", "x", "--length", "-1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "shovelctl: --length: '-1' is not a byte count (a whole number, 0 or more) "
            "(see --help)\n");
  EXPECT_EQ(Ctl({"get", "x", "--offset", "-1"}).code, 2);
  // A negative count wrapped to 2^64-3 and ran the client out of memory.
  r = Ctl({"init", "--prefix", "p", "--count", "-3"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "shovelctl: --count: '-3' is not a count of ids (a whole number, 0 or more) "
            "(see --help)\n");
  EXPECT_EQ(Ctl({"init", "--prefix", "p", "--count", "20000000"}).code, 2);
  // --limit 0 looked like an empty listing.
  r = Ctl({"ls", "--limit", "0"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "shovelctl: --limit: '0' is not a whole number of 1 or more (see --help)\n");
  EXPECT_EQ(Ctl({"--deadline", "0", "get", "x"}).code, 2);
  // A FILE and --value both: which one was meant?
  r = Ctl({"set", "x", "/etc/hostname", "--value", "v"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "shovelctl: FILE excludes --value (see --help)\n");
  r = Ctl({"set", "x", "/tmp"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(
      r.err,
      "shovelctl: set 'x': invalid argument: reading '/tmp' failed: Is a directory\n");
  // A range past 2^64 is a short read, as pread's.
  ASSERT_EQ(Ctl({"set", "short", "--value", "hello"}).code, 0);
  r = Ctl({"get", "short", "--offset", "18446744073709551615", "--length", "5"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  // members with no worker answering exits 1.
  r = Ctl({"--workers", "tcp://127.0.0.1:1", "--deadline", "300", "members"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("unreachable"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "shovelctl: members: unavailable: no worker answered\n");
  r = Ctl({"set", "x", "/nonexistent/file"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "shovelctl: set 'x': invalid argument: cannot open '/nonexistent/file': No "
            "such file or directory\n");
  EXPECT_EQ(Ctl({"--help"}).code, 0);
}

// Drives the shell through a pty: commands, then Up-arrow recalls history
// and Ctrl-A / Ctrl-E edit the line.
TEST_F(CliTest, InteractiveShellHasEditingAndHistory) {
  // A HOME of its own: a history file left by an earlier run proves nothing.
  char home[] = "/tmp/shovelctl-home-XXXXXX";
  ASSERT_NE(mkdtemp(home), nullptr);
  const std::string history = std::string(home) + "/.shovelctl_history";
  int master;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("HOME", home, 1);
    execl(SHOVELCTL_BIN, SHOVELCTL_BIN, static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string seen;
  auto read_until = [&](const std::string& needle) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    char buf[4096];
    while (seen.find(needle) == std::string::npos &&
           std::chrono::steady_clock::now() < until) {
      pollfd p{master, POLLIN, 0};
      if (poll(&p, 1, 200) > 0) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;
        seen.append(buf, n);
      }
    }
    return seen.find(needle) != std::string::npos;
  };
  auto type = [&](const std::string& s) {
    ASSERT_EQ(write(master, s.data(), s.size()), (ssize_t)s.size());
  };
  // Each expected output joins two typed values, so the terminal's echo of
  // what was typed cannot satisfy it.
  ASSERT_TRUE(read_until("shovel> "));
  type("set sh/x --value first\r");
  type("append sh/x --value -value\r");
  type("get sh/x\r");
  ASSERT_TRUE(read_until("first-value")) << seen;
  ASSERT_TRUE(read_until("shovel> "));
  seen.clear();
  type("\x1b[A\r");  // Up: "get sh/x" again
  EXPECT_TRUE(read_until("first-value")) << seen;
  ASSERT_TRUE(read_until("shovel> "));
  seen.clear();
  type("et sh/y --value edited\x01s\r");  // Ctrl-A then insert 's' at the start
  type("append sh/y --value -twice\r");
  type("get sh/y\r");
  EXPECT_TRUE(read_until("edited-twice")) << seen;
  seen.clear();
  type("get a//b\r");
  EXPECT_TRUE(read_until("empty path component"));
  type("quit\r");
  int status = 0;
  for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i) usleep(50000);
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  close(master);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);  // as sh: the last command's (get a//b failed)
  std::ifstream hist(history);
  std::string all((std::istreambuf_iterator<char>(hist)), {});
  EXPECT_NE(all.find("set sh/y --value edited"), std::string::npos) << all;
  EXPECT_NE(all.find("get sh/x"), std::string::npos) << all;
  std::remove(history.c_str());
  rmdir(home);
}

}  // namespace
}  // namespace shovel
