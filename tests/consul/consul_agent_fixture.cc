#include "consul/consul_agent_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace shovel::consul::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kStopGrace{5000};
constexpr milliseconds kPoll{20};

// A loopback port that was free a moment ago (for `consul agent`, which
// cannot report the port it bound).
Result<int> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::Unavailable("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port < 0) return Status::Unavailable("no free loopback port");
  return port;
}

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return {};
  std::string all(path);
  size_t start = 0;
  while (start <= all.size()) {
    size_t end = all.find(':', start);
    if (end == std::string::npos) end = all.size();
    std::string candidate = all.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

Result<pid_t> Spawn(const std::vector<std::string>& args, bool quiet_stdout) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet_stdout) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Status::Unavailable("cannot start " + args[0] + ": " + std::strerror(rc));
  }
  return pid;
}

}  // namespace

std::string ConsulTestAgent::TestAgentPath() { return SHOVEL_CONSUL_TEST_AGENT_PATH; }

Result<std::unique_ptr<ConsulTestAgent>> ConsulTestAgent::Start(
    TestAgentOptions options) {
  if (options.nodes.empty())
    return Status::InvalidArgument("the agent needs at least one node");
  std::unique_ptr<ConsulTestAgent> agent(new ConsulTestAgent(std::move(options)));
  SHOVEL_RETURN_IF_ERROR(agent->Launch(/*reuse_addresses=*/false));
  return agent;
}

ConsulTestAgent::~ConsulTestAgent() {
  (void)Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Status ConsulTestAgent::Launch(bool reuse_addresses) {
  const char* want_real = std::getenv("SHOVEL_TEST_REAL_CONSUL");
  bool real = options_.allow_real_consul && !options_.unix_sockets &&
              options_.tls_cert.empty() && options_.hosts.empty() &&
              options_.nodes.size() == 1 && want_real != nullptr &&
              std::string(want_real) == "1" && !FindOnPath("consul").empty();
  real_consul_ = real;
  SHOVEL_RETURN_IF_ERROR(real ? LaunchRealConsul(reuse_addresses)
                              : LaunchTestAgent(reuse_addresses));
  Status ready = WaitReady();
  if (!ready.ok()) Kill();
  return ready;
}

Status ConsulTestAgent::LaunchTestAgent(bool reuse_addresses) {
  if (dir_.empty()) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "consul-agent-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return Status::Unavailable("mkdtemp failed");
    dir_ = tmpl;
  }
  const std::string ready = dir_ + "/ready";
  std::filesystem::remove(ready);
  std::vector<std::string> args = {TestAgentPath(), "--ready-file", ready};
  for (size_t i = 0; i < options_.nodes.size(); ++i) {
    std::string addr = reuse_addresses ? nodes_[i].address
                       : options_.unix_sockets
                           ? "unix://" + dir_ + "/" + options_.nodes[i] + ".sock"
                       : i < options_.hosts.size() ? options_.hosts[i] + ":0"
                                                   : "127.0.0.1:0";
    args.insert(args.end(), {"--node", options_.nodes[i] + "=" + addr});
  }
  if (!options_.acl_token.empty())
    args.insert(args.end(), {"--acl-token", options_.acl_token});
  const bool https = !options_.tls_cert.empty();
  if (https) args.insert(args.end(), {"--tls-cert", options_.tls_cert});
  if (!options_.tls_key.empty()) args.insert(args.end(), {"--tls-key", options_.tls_key});
  if (!options_.tls_client_ca.empty())
    args.insert(args.end(), {"--tls-client-ca", options_.tls_client_ca});
  args.insert(args.end(), {"--session-ttl-min",
                           std::to_string(options_.session_ttl_min.count()) + "ms"});
  SHOVEL_ASSIGN_OR_RETURN(pid_, Spawn(args, /*quiet_stdout=*/false));

  auto deadline = Clock::now() + options_.start_timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("consul-test-agent exited during start (status " +
                                 std::to_string(status) + "); see its stderr above");
    }
    std::ifstream in(ready);
    if (in) {
      std::vector<AgentNode> nodes;
      std::string line;
      while (std::getline(in, line)) {
        size_t eq = line.find('=');
        if (eq != std::string::npos)
          nodes.push_back({line.substr(0, eq), line.substr(eq + 1), https});
      }
      if (nodes.size() == options_.nodes.size()) {
        nodes_ = std::move(nodes);
        return Status::Ok();
      }
    }
    std::this_thread::sleep_for(kPoll);
  }
  return Status::Timeout("consul-test-agent did not write " + ready + " within " +
                         std::to_string(options_.start_timeout.count()) + " ms");
}

Status ConsulTestAgent::LaunchRealConsul(bool reuse_addresses) {
  int http = 0;
  if (reuse_addresses) {
    http = std::stoi(nodes_[0].address.substr(nodes_[0].address.rfind(':') + 1));
  } else {
    SHOVEL_ASSIGN_OR_RETURN(http, FreePort());
  }
  SHOVEL_ASSIGN_OR_RETURN(int serf_lan, FreePort());
  SHOVEL_ASSIGN_OR_RETURN(int serf_wan, FreePort());
  SHOVEL_ASSIGN_OR_RETURN(int server, FreePort());
  std::vector<std::string> args = {FindOnPath("consul"),
                                   "agent",
                                   "-dev",
                                   "-node",
                                   options_.nodes[0],
                                   "-bind",
                                   "127.0.0.1",
                                   "-client",
                                   "127.0.0.1",
                                   "-http-port",
                                   std::to_string(http),
                                   "-serf-lan-port",
                                   std::to_string(serf_lan),
                                   "-serf-wan-port",
                                   std::to_string(serf_wan),
                                   "-server-port",
                                   std::to_string(server),
                                   "-dns-port",
                                   "-1",
                                   "-grpc-port",
                                   "-1",
                                   "-log-level",
                                   "error"};
  SHOVEL_ASSIGN_OR_RETURN(pid_, Spawn(args, /*quiet_stdout=*/true));
  nodes_ = {{options_.nodes[0], "127.0.0.1:" + std::to_string(http)}};
  return Status::Ok();
}

Status ConsulTestAgent::WaitReady() {
  auto deadline = Clock::now() + options_.start_timeout;
  Status last;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Config config = ConfigFor(i);
    config.timeout = milliseconds(1000);
    auto client = Client::Create(config);
    if (!client.ok()) return client.status();
    for (;;) {
      auto leader = (*client)->Get("/v1/status/leader", "", {});
      if (leader.ok() && leader->body.size() > 2) break;  // "" until elected
      last = leader.ok() ? Status::Unavailable("no leader yet") : leader.status();
      if (Clock::now() >= deadline) {
        return Status::Timeout("Consul agent at " + nodes_[i].url() +
                               " not ready: " + last.ToString());
      }
      std::this_thread::sleep_for(kPoll * 5);
    }
  }
  return Status::Ok();
}

Status ConsulTestAgent::Stop() {
  if (pid_ <= 0) return Status::Ok();
  kill(pid_, SIGTERM);
  auto deadline = Clock::now() + kStopGrace;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return Status::Internal("the Consul agent ignored SIGTERM for 5 s; killed");
    }
    std::this_thread::sleep_for(kPoll);
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal("the Consul agent did not exit cleanly (wait status " +
                            std::to_string(status) + ")");
  }
  return Status::Ok();
}

void ConsulTestAgent::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

Status ConsulTestAgent::Restart() {
  SHOVEL_RETURN_IF_ERROR(Stop());
  return Launch(/*reuse_addresses=*/true);
}

Config ConsulTestAgent::ConfigFor(size_t i) const {
  Config config;
  config.address = nodes_.at(i).url();
  config.token = options_.acl_token;
  config.tls = options_.client_tls;
  return config;
}

Result<std::unique_ptr<TestPki>> TestPki::Create() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "consul-pki-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Status::Unavailable("mkdtemp failed");
  std::unique_ptr<TestPki> pki(new TestPki(tmpl));
  SHOVEL_ASSIGN_OR_RETURN(pid_t pid, Spawn({SHOVEL_MAKE_TEST_PKI_PATH, tmpl}, false));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable(std::string(SHOVEL_MAKE_TEST_PKI_PATH) +
                               " failed (wait status " + std::to_string(status) +
                               "); is Debian's openssl installed?");
  }
  return pki;
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ConsulAgentTest::SetUp() {
  auto agent = ConsulTestAgent::Start(AgentOptions());
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  agent_ = std::move(*agent);
}

void ConsulAgentTest::TearDown() {
  if (agent_) {
    Status stopped = agent_->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped.ToString();
    agent_.reset();
  }
}

std::unique_ptr<Client> ConsulAgentTest::ClientFor(
    size_t i, std::chrono::milliseconds timeout) const {
  Config config = agent_->ConfigFor(i);
  config.timeout = timeout;
  auto client = Client::Create(config);
  return client.ok() ? std::move(*client) : nullptr;
}

}  // namespace shovel::consul::testing
