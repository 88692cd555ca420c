// Real shovel-worker processes registered in the Consul test agent, driven
// through the C++ client (Consul membership) and shovelctl --consul.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "consul/consul_agent_fixture.h"
#include "consul/integration_util.h"
#include "processes.h"
#include "shovel/client.h"
#include "shovel/consul/coordinate.h"

namespace shovel::consul_it {
namespace {

using consul::testing::Clock;
using consul::testing::Eventually;
using consul::testing::SecondsSince;
using std::chrono::milliseconds;

class ConsulClusterTest : public consul::testing::ConsulAgentTest {
 protected:
  consul::testing::TestAgentOptions AgentOptions() const override {
    return {.nodes = {"n1", "n2", "n3"}, .allow_real_consul = false};
  }
  // A worker registered at agent node `node` with a short TTL.
  std::unique_ptr<Proc> Worker(const std::string& id, size_t node,
                               std::vector<std::string> extra = {}) {
    WorkerArgs a{.node_id = id, .consul = agent_->node(node).url()};
    a.extra = {"--consul-ttl",       "1s",   "--consul-deregister-after", "2s",
               "--consul-retry-max", "300ms"};
    a.extra.insert(a.extra.end(), extra.begin(), extra.end());
    auto w = Proc::StartWorker(a);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::unique_ptr<Client> Connect(size_t node,
                                  milliseconds deadline = milliseconds(2000)) {
    ClientOptions o;
    o.consul_addr = agent_->node(node).url();
    o.deadline = deadline;
    auto c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::vector<consul::HealthEntry> Health(bool passing) {
    auto h = ClientFor(0)->HealthService("shoveling", passing);
    return h.ok() ? h->value : std::vector<consul::HealthEntry>{};
  }
  std::string Url(size_t node = 0) { return agent_->node(node).url(); }
};

TEST_F(ConsulClusterTest, RegistrationVisibleAndPassing) {
  auto w1 = Worker("w1", 0, {"--max-memory", "256MiB"});
  auto w2 = Worker("w2", 1);
  ASSERT_TRUE(w1 && w2);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2; }, milliseconds(5000)));
  auto h = Health(true);
  EXPECT_EQ(h[0].service.id, "shoveling-w1");
  EXPECT_EQ(h[0].node, "n1");
  EXPECT_EQ("tcp://" + h[0].service.address + ":" + std::to_string(h[0].service.port),
            w1->endpoint());
  EXPECT_EQ(h[0].service.meta["max_memory"], std::to_string(256ull << 20));
  EXPECT_EQ(h[0].service.meta["endpoint"], w1->endpoint());
  EXPECT_EQ(h[1].node, "n2");
  CtlResult m = Ctl({"--consul", Url(2), "members"});
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.out.find("CONSUL"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("passing (n1)"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("passing (n2)"), std::string::npos) << m.out;
  // Deregistered on SIGTERM.
  EXPECT_EQ(w2->Signal(SIGTERM), 0);
  EXPECT_EQ(Health(false).size(), 1u);
}

TEST_F(ConsulClusterTest, KilledWorkerGoesCriticalIsRoutedAroundThenDeregistered) {
  auto w1 = Worker("w1", 0);
  auto w2 = Worker("w2", 1);
  ASSERT_TRUE(w1 && w2);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2; }, milliseconds(5000)));
  auto client = Connect(2, milliseconds(200));
  ASSERT_TRUE(client);
  // An id whose home is w1.
  std::string id;
  for (int i = 0; id.empty(); ++i) {
    std::string c = "route/" + std::to_string(i);
    ASSERT_TRUE(client->Set(c, "x").ok());
    if (client->NodeIds(c).value()[0] == "w1") id = c;
  }
  w1->Signal(SIGKILL);
  auto killed = Clock::now();
  // The client reaches a live worker for that id within TTL + 1 s.
  bool served = false;
  while (SecondsSince(killed) < 5 && !served) served = client->Set(id, "again").ok();
  double routed_after = SecondsSince(killed);
  ASSERT_TRUE(served);
  EXPECT_LE(routed_after, 1.0 + 1.0) << "TTL 1 s";
  EXPECT_EQ(client->NodeIds(id).value()[0], "w2");
  EXPECT_EQ(client->Get(id).value(), "again");
  // The client found it down by itself (its connection closed); Consul
  // marks it critical when its TTL runs out.
  ASSERT_TRUE(Eventually(
      [&] {
        auto h = Health(false);
        return h.size() == 2u && h[0].aggregated == consul::CheckStatus::kCritical;
      },
      milliseconds(5000)));
  CtlResult m = Ctl({"--consul", Url(), "members"});
  EXPECT_NE(m.out.find("critical (n1)"), std::string::npos) << m.out;
  // DeregisterCriticalServiceAfter (2 s) removes it.
  ASSERT_TRUE(Eventually([&] { return Health(false).size() == 1; }, milliseconds(5000)));
  EXPECT_EQ(Health(false)[0].service.id, "shoveling-w2");
}

TEST_F(ConsulClusterTest, KvConfigShowsInMembersAndBadValuesAreLogged) {
  auto w1 = Worker("w1", 0);
  ASSERT_TRUE(w1);
  auto mem_limit = [&] {
    CtlResult r = Ctl({"--consul", Url(), "--json", "members"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || j["members"].empty()) return uint64_t{0};
    return j["members"][0]["mem_limit"].get<uint64_t>();
  };
  CtlResult set = Ctl({"--consul", Url(), "config", "set", "max-memory", "64MiB"});
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(set.out, "shoveling/config/max-memory = 64MiB\n");
  auto t0 = Clock::now();
  ASSERT_TRUE(
      Eventually([&] { return mem_limit() == (64ull << 20); }, milliseconds(5000)));
  EXPECT_LT(SecondsSince(t0), 5);
  // The per-node override wins.
  ASSERT_EQ(
      Ctl({"--consul", Url(), "config", "set", "--node", "w1", "max-memory", "32MiB"})
          .code,
      0);
  ASSERT_TRUE(
      Eventually([&] { return mem_limit() == (32ull << 20); }, milliseconds(5000)));
  EXPECT_EQ(Ctl({"--consul", Url(), "config", "get", "--node", "w1", "max-memory"}).out,
            "32MiB\n");
  // shovelctl refuses a bad value; written behind its back, the worker logs it.
  CtlResult bad =
      Ctl({"--consul", Url(), "config", "set", "--node", "w1", "max-memory", "lots"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(
      bad.err.rfind("shovelctl: config set max-memory: invalid argument: max-memory = "
                    "'lots': size 'lots' is not a byte count",
                    0),
      0u)
      << bad.err;
  ASSERT_TRUE(ClientFor(0)->KvPut("shoveling/nodes/w1/config/max-memory", "lots").ok());
  ASSERT_TRUE(Eventually(
      [&] {
        return w1->Stderr().find(
                   "ignoring shoveling/nodes/w1/config/max-memory = 'lots'") !=
               std::string::npos;
      },
      milliseconds(5000)))
      << w1->Stderr();
  EXPECT_NE(w1->Stderr().find("(keeping '32MiB')"), std::string::npos);
  EXPECT_EQ(mem_limit(), 32ull << 20);
  CtlResult ls = Ctl({"--consul", Url(), "config", "ls", "--node", "w1"});
  EXPECT_NE(ls.out.find("max-memory         64MiB  shoveling/config/max-memory"),
            std::string::npos)
      << ls.out;  // the bad node value is skipped; the cluster one is next
  EXPECT_EQ(
      Ctl({"--consul", Url(), "config", "get", "colour"}).err,
      "shovelctl: config get colour: invalid argument: unknown config key 'colour'; "
      "valid keys: max-memory, compression-level, chunk-size, eviction, handover-rate, "
      "decoded-cache, replicas\n");
}

TEST_F(ConsulClusterTest, ReplicasFollowTheClusterSettingLive) {
  auto w1 = Worker("w1", 0);
  auto w2 = Worker("w2", 1);
  auto w3 = Worker("w3", 2);
  ASSERT_TRUE(w1 && w2 && w3);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 3; }, milliseconds(5000)));
  auto client = Connect(0);
  ASSERT_TRUE(client);
  auto copies = [&] {
    auto n = client->NodeIds("live/r");
    return n.ok() ? n->size() : size_t{0};
  };
  ASSERT_TRUE(client->Set("live/r", "v1").ok());
  EXPECT_EQ(copies(), 1u);  // no setting: one copy
  CtlResult set = Ctl({"--consul", Url(), "config", "set", "replicas", "2"});
  ASSERT_EQ(set.code, 0) << set.err;
  ASSERT_TRUE(Eventually([&] { return copies() == 2; }, milliseconds(5000)));
  // Written from now on to both copies.
  ASSERT_TRUE(client->Set("live/r", "v2").ok());
  auto nodes = client->NodeIds("live/r").value();
  for (const auto& n : nodes) {
    auto m = client->Members().value();
    for (const auto& info : m) {
      if (info.node_id != n) continue;
      ClientOptions direct;
      direct.workers = {info.endpoint};
      auto one = Client::Connect(direct);
      ASSERT_TRUE(one.ok());
      // Read the copy on that worker itself (a one-worker client's home).
      EXPECT_EQ((*one)->Get("live/r").value_or("missing"), "v2") << n;
    }
  }
  // A bad value is refused by shovelctl; written around it, it is ignored
  // and the last good one stays.
  CtlResult bad = Ctl({"--consul", Url(), "config", "set", "replicas", "9"});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("replicas must be 1 to 8 copies"), std::string::npos) << bad.err;
  ASSERT_TRUE(ClientFor(0)->KvPut("shoveling/config/replicas", "many").ok());
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(copies(), 2u);
  // The client's own option wins over the cluster's.
  ClientOptions own;
  own.consul_addr = Url(1);
  own.replicas = 1;
  auto one_copy = Client::Connect(own);
  ASSERT_TRUE(one_copy.ok());
  EXPECT_EQ((*one_copy)->NodeIds("live/r").value().size(), 1u);
  // Without the key: back to the default.
  ASSERT_TRUE(ClientFor(0)->KvDelete("shoveling/config/replicas").ok());
  ASSERT_TRUE(Eventually([&] { return copies() == 1; }, milliseconds(5000)));
}

// One copy per id (the default): a worker that joins takes over its share
// without a single miss, and one that leaves on SIGTERM hands its share to
// the others first. Appends during the join land on the whole value.
TEST_F(ConsulClusterTest, AJoinAndALeaveWithOneCopyLoseNoIdAndMissNone) {
  auto w1 = Worker("w1", 0);
  auto w2 = Worker("w2", 1);
  ASSERT_TRUE(w1 && w2);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2; }, milliseconds(5000)));
  auto client = Connect(0, milliseconds(5000));
  ASSERT_TRUE(client);
  constexpr int kIds = 600;
  std::vector<std::string> want(kIds);
  auto id = [](int i) { return "join/" + std::to_string(i); };
  for (int i = 0; i < kIds; ++i) {
    want[i] = "v" + std::to_string(i) + std::string(i % 50 == 0 ? 100000 : 10, 'x');
    ASSERT_TRUE(client->Set(id(i), want[i]).ok());
  }
  auto w3 = Worker("w3", 2);
  ASSERT_TRUE(w3);
  // While the client learns of w3 and w3 is handed its share: every id
  // reads, and appends build on the whole value.
  int misses = 0, wrong = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kIds; ++i) {
      if (i % 7 == round) {
        ASSERT_TRUE(client->Append(id(i), "+" + std::to_string(round)).ok()) << id(i);
        want[i] += "+" + std::to_string(round);
      }
      auto v = client->Get(id(i));
      if (!v.ok()) {
        ++misses;
        ADD_FAILURE() << id(i) << ": " << v.status().ToString();
      } else if (*v != want[i]) {
        ++wrong;
      }
    }
  }
  EXPECT_EQ(misses, 0);
  EXPECT_EQ(wrong, 0);
  ASSERT_TRUE(Eventually([&] { return Count(w3->Stderr(), "joined: ") == 1; },
                         milliseconds(20000)))
      << w3->Stderr();
  // w3 holds its share itself now, and the old holders gave theirs up
  // (they redirect to w3 for a minute meanwhile): every id is held once.
  auto held_ids = [&] {
    uint64_t n = 0;
    auto all = client->Members();
    if (!all.ok()) return n;
    for (const auto& m : *all) n += m.ids;
    return n;
  };
  EXPECT_TRUE(Eventually([&] { return held_ids() == kIds; }, milliseconds(10000)))
      << held_ids() << " ids held for " << kIds;
  auto members = client->Members().value();
  std::map<std::string, std::string> endpoint;
  for (const auto& m : members) endpoint[m.node_id] = m.endpoint;
  int on_w3 = 0;
  for (int i = 0; i < kIds; ++i) {
    auto home = client->NodeId(id(i));
    ASSERT_TRUE(home.ok());
    ClientOptions direct;
    direct.workers = {endpoint[*home]};
    auto one = Client::Connect(direct);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ((*one)->Get(id(i)).value_or("missing"), want[i])
        << id(i) << " at its home " << *home;
    on_w3 += *home == "w3";
  }
  EXPECT_GT(on_w3, kIds / 6);  // about a third
  // w1 leaves on SIGTERM: its share goes to the others first, exit 0.
  EXPECT_EQ(w1->Signal(SIGTERM), 0);
  EXPECT_NE(w1->Stderr().find("left: "), std::string::npos) << w1->Stderr();
  for (int i = 0; i < kIds; ++i) {
    auto v = client->Get(id(i));
    ASSERT_TRUE(v.ok()) << id(i) << ": " << v.status().ToString();
    EXPECT_EQ(*v, want[i]) << id(i);
  }
}

// Workers with key pairs of their own (docs/security.md): each registers
// its public key as Meta curve_key; the client takes every worker's key
// from there (no --worker-key), and a primary reaches its replica with the
// replica's key from Consul, so two copies are written.
TEST_F(ConsulClusterTest, CurveKeysComeFromConsulMeta) {
  char tmpl[] = "/tmp/shovel-ckeys-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  auto keygen = [&](const std::string& name) {
    CtlResult r = Ctl({"keygen", dir + "/" + name + ".key"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out.substr(0, 40);
  };
  std::string k1 = keygen("w1"), k2 = keygen("w2"), kc = keygen("client");
  {
    std::FILE* f = std::fopen((dir + "/authorized").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "%s\n%s admin\n%s admin\n", kc.c_str(), k1.c_str(), k2.c_str());
    std::fclose(f);
  }
  auto keyed = [&](const std::string& id, size_t node) {
    return Worker(id, node,
                  {"--key-file", dir + "/" + id + ".key", "--authorized-keys",
                   dir + "/authorized"});
  };
  auto w1 = keyed("w1", 0);
  auto w2 = keyed("w2", 1);
  ASSERT_TRUE(w1 && w2);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2; }, milliseconds(5000)));
  for (const auto& e : Health(true)) {
    EXPECT_EQ(e.service.meta.at("curve_key"),
              e.service.meta.at("node_id") == "w1" ? k1 : k2);
  }
  ClientOptions o;
  o.consul_addr = Url(0);
  o.key_file = dir + "/client.key";
  o.replicas = 2;
  auto c = Client::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto st = (*c)->Set("keyed/a", "both");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ((*c)->Get("keyed/a").value_or("missing"), "both");
  EXPECT_EQ((*c)->NodeIds("keyed/a").value().size(), 2u);
  ClientOptions plain;
  plain.consul_addr = Url(0);
  auto p = Client::Connect(plain);
  ASSERT_TRUE(p.ok());
  auto refused = (*p)->Get("keyed/a");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("requires a key"), std::string::npos)
      << refused.status().ToString();
  std::string rm = "rm -rf " + dir;
  (void)std::system(rm.c_str());
}

// Key rotation of a worker's key pair without downtime (docs/security.md,
// Key rotation): the new public key is authorized next to the old one
// (SIGHUP), the worker is restarted at the same address with the new pair,
// and a client that stays connected throughout (like a mount) takes the new
// key from the worker's Consul Meta curve_key: its connections made with the
// old key are made again, and so are the other worker's connections to it,
// so every read answers and every write keeps two copies.
class KeyRotationTest : public ConsulClusterTest {
 protected:
  // `shared`: both workers start with one key pair that no file lists (as
  // docker/compose.yaml runs them); else each has its own, listed as admin.
  void RotateW1(bool shared);
};

TEST_F(KeyRotationTest, WorkerKeyPairRotatesWhileAClientStaysConnected) {
  RotateW1(/*shared=*/false);
}

// The old pair was authorized only as the workers' own key: the restarted
// worker no longer holds it, so it must be listed (admin) for the others
// to reach it.
TEST_F(KeyRotationTest, ASharedWorkerKeyPairRotatesWhileAClientStaysConnected) {
  RotateW1(/*shared=*/true);
}

void KeyRotationTest::RotateW1(bool shared) {
  char tmpl[] = "/tmp/shovel-crot-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  // Removed when the test ends, however it ends (after the workers below,
  // which are declared later and so stopped first).
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } remove_dir{dir};
  auto keygen = [&](const std::string& name) {
    CtlResult r = Ctl({"keygen", dir + "/" + name + ".key"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out.substr(0, 40);
  };
  std::string k1 = keygen("w1"), k2 = keygen("w2"), kc = keygen("client");
  std::string k1_new = keygen("w1-new");
  auto authorize = [&](const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    std::FILE* f = std::fopen((dir + "/authorized").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  };
  if (shared) {
    authorize({kc});
  } else {
    authorize({kc, k1 + " admin", k2 + " admin"});
  }
  auto start = [&](const std::string& id, const std::string& key, size_t node,
                   const std::string& listen) {
    WorkerArgs a{.node_id = id, .consul = agent_->node(node).url(), .listen = listen};
    a.extra = {"--consul-ttl",
               "1s",
               "--consul-deregister-after",
               "2s",
               "--consul-retry-max",
               "300ms",
               "--key-file",
               dir + "/" + key + ".key",
               "--authorized-keys",
               dir + "/authorized"};
    auto w = Proc::StartWorker(a);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(*w) : nullptr;
  };
  auto w1 = start("w1", "w1", 0, "tcp://127.0.0.1:0");
  auto w2 = start("w2", shared ? "w1" : "w2", 1, "tcp://127.0.0.1:0");
  ASSERT_TRUE(w1 && w2);
  auto key_of_w1 = [&]() -> std::string {
    for (const auto& e : Health(true)) {
      if (e.service.meta.at("node_id") == "w1") return e.service.meta.at("curve_key");
    }
    return "";
  };
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2 && key_of_w1() == k1; },
                         milliseconds(5000)));
  ClientOptions o;
  o.consul_addr = Url(0);
  o.key_file = dir + "/client.key";
  o.replicas = 2;
  auto c = Client::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  constexpr int kIds = 16;
  auto id = [](const char* set, int i) { return std::string(set) + std::to_string(i); };
  for (int i = 0; i < kIds; ++i) {
    auto st = (*c)->Set(id("rot/a", i), "before " + std::to_string(i));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  // Writes the file and waits until every worker logged its reload.
  auto reload = [&](const std::vector<std::string>& lines) {
    const std::string logged = "reloaded " + dir + "/authorized: ";
    std::vector<size_t> before;
    for (auto* w : {w1.get(), w2.get()}) before.push_back(Count(w->Stderr(), logged));
    authorize(lines);
    for (auto* w : {w1.get(), w2.get()}) kill(w->pid(), SIGHUP);
    size_t k = 0;
    for (auto* w : {w1.get(), w2.get()}) {
      size_t n = before[k++];
      ASSERT_TRUE(
          Eventually([&] { return Count(w->Stderr(), logged) > n; }, milliseconds(5000)))
          << w->Stderr();
    }
  };
  // Restarts `w` at the same address with key pair `key`, and waits,
  // as docs/security.md says, until `other` logs the new key and the client
  // sees both workers answer. With `shared` the documented way (SIGTERM:
  // it leaves, handing its ids over, then starts again); else as
  // fast as can be (killed, so it does not leave: the client and the other
  // worker never see it go, only its registration's Meta curve_key change).
  auto restart = [&](std::unique_ptr<Proc>& w, const std::string& node_id, size_t node,
                     const std::string& key, Proc* other) {
    const std::string endpoint = w->endpoint();
    if (shared) {
      EXPECT_EQ(w->Signal(SIGTERM), 0) << w->Stderr();  // leaves: hands its ids over
    } else {
      w->Signal(SIGKILL);
    }
    w = start(node_id, key, node, endpoint);
    ASSERT_TRUE(w);
    ASSERT_EQ(w->endpoint(), endpoint);
    ASSERT_TRUE(Eventually(
        [&] {
          return other->Stderr().find("consul: peer " + node_id + " (" + endpoint +
                                      ") has a new CURVE key " + k1_new) !=
                 std::string::npos;
        },
        milliseconds(5000)))
        << other->Stderr();
    ASSERT_TRUE(Eventually(
        [&] {
          auto m = (*c)->Members();
          return m.ok() && m->size() == 2 &&
                 std::all_of(m->begin(), m->end(),
                             [](const NodeInfo& n) { return n.cores > 0; });
        },
        milliseconds(5000)));
  };

  // 1. Authorize the new key next to the old one (listed too when it was
  // authorized only as the workers' own key); every worker reloads.
  reload({kc, k1 + " admin", shared ? k1_new + " admin" : k2 + " admin",
          shared ? "# shared pair" : k1_new + " admin"});
  // 2. Restart w1 with the new key pair.
  restart(w1, "w1", 0, "w1-new", w2.get());
  ASSERT_EQ(key_of_w1(), k1_new);
  // The client was never restarted: it reads everything and writes two
  // copies, through w1 with its new key.
  for (int i = 0; i < kIds; ++i) {
    auto v = (*c)->Get(id("rot/a", i));
    ASSERT_TRUE(v.ok()) << id("rot/a", i) << ": " << v.status().ToString();
    EXPECT_EQ(*v, "before " + std::to_string(i));
  }
  for (int i = 0; i < kIds; ++i) {
    auto st = (*c)->Set(id("rot/b", i), "after " + std::to_string(i));
    ASSERT_TRUE(st.ok()) << id("rot/b", i) << ": " << st.status().ToString();
    auto holders = (*c)->NodeIds(id("rot/b", i));
    ASSERT_TRUE(holders.ok()) << holders.status().ToString();
    EXPECT_EQ(holders->size(), 2u) << id("rot/b", i);
  }
  // A shared pair: w2 moves to it too (the same steps for the next worker).
  if (shared) restart(w2, "w2", 1, "w1-new", w1.get());
  // 3. The old key leaves the file: nothing uses it any more.
  if (shared) {
    reload({kc});  // the new pair is every worker's own key now
  } else {
    reload({kc, k2 + " admin", k1_new + " admin"});
  }
  for (int i = 0; i < kIds; ++i) {
    auto st = (*c)->Set(id("rot/c", i), "later");
    ASSERT_TRUE(st.ok()) << id("rot/c", i) << ": " << st.status().ToString();
    EXPECT_EQ((*c)->NodeIds(id("rot/c", i)).value().size(), 2u)
        << id("rot/c", i) << w1->Stderr() << w2->Stderr();
    EXPECT_EQ((*c)->Get(id("rot/a", i)).value_or("missing"),
              "before " + std::to_string(i));
  }
  CtlResult fresh =
      Ctl({"--consul", Url(0), "--key-file", dir + "/client.key", "get", id("rot/b", 3)});
  EXPECT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_EQ(fresh.out, "after 3");
  std::string rm = "rm -rf " + dir;
  (void)std::system(rm.c_str());
}

TEST_F(ConsulClusterTest, ScoresFollowConsulCoordinates) {
  auto w1 = Worker("w1", 0);
  auto w2 = Worker("w2", 1);
  ASSERT_TRUE(w1 && w2);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2; }, milliseconds(5000)));
  // n1 at the origin, n2 3 ms + 4 ms away (5 ms), n3 (the caller) near n2.
  auto coord = [](std::vector<double> v, double height, double adjustment) {
    v.resize(8, 0.0);
    return consul::Coordinate{v, 0.2, adjustment, height};
  };
  std::map<std::string, consul::Coordinate> at = {
      {"n1", coord({0, 0}, 0.0001, 0.0)},
      {"n2", coord({0.003, 0.004}, 0.0002, 0.0005)},
      {"n3", coord({0.003, 0.0041}, 0.0001, -0.0001)}};
  for (auto& [node, c] : at) {
    ASSERT_TRUE(ClientFor(0)->CoordinateUpdate({node, "", c}).ok());
  }
  auto client = Connect(2);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Set("score/a", "data").ok());
  std::string holder = client->NodeIds("score/a").value()[0];
  std::string other = holder == "w1" ? "w2" : "w1";
  // Serf's formula by hand: |v1 - v2| + h1 + h2 (+ adjustments if positive).
  double expected_ms = (0.005 + 0.0001 + 0.0002 + 0.0005) * 1000;
  EXPECT_EQ(client->NodeCacheScore(holder, "score/a").value(), 0.0);
  auto score = client->NodeCacheScore(other, "score/a").value();
  ASSERT_TRUE(score.has_value());
  EXPECT_NEAR(*score, expected_ms, 1e-9);
  EXPECT_NEAR(*score, consul::RttSeconds(at["n1"], at["n2"]).value() * 1000, 1e-9);
  char text[64];
  std::snprintf(text, sizeof text, "%g\n", expected_ms);
  EXPECT_EQ(Ctl({"--consul", Url(2), "score", other, "score/a"}).out, text);
  EXPECT_EQ(Ctl({"--consul", Url(2), "score", holder, "score/a"}).out, "0\n");
  // nearest: the only holder, whatever the distance.
  EXPECT_EQ(client->NodeId("score/a", "nearest").value(), holder);
}

TEST_F(ConsulClusterTest, WorkersRegisterAgainAfterAgentRestart) {
  auto w1 = Worker("w1", 0);
  auto w2 = Worker("w2", 1);
  ASSERT_TRUE(w1 && w2);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2; }, milliseconds(5000)));
  ASSERT_TRUE(agent_->Restart().ok());
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2; }, milliseconds(5000)))
      << w1->Stderr();
  // Registered twice: at start and again with the restarted (empty) agent.
  EXPECT_EQ(Count(w1->Stderr(), "consul: registered shoveling-w1"), 2u) << w1->Stderr();
}

TEST_F(ConsulClusterTest, ConsulDownClientKeepsServingFromCachedMembership) {
  auto w1 = Worker("w1", 0);
  auto w2 = Worker("w2", 1);
  ASSERT_TRUE(w1 && w2);
  ASSERT_TRUE(Eventually([&] { return Health(true).size() == 2; }, milliseconds(5000)));
  // Capture the client's stderr (it says once that Consul is away).
  std::fflush(stderr);
  std::string log_path = "/tmp/shovel-cit-stderr-" + std::to_string(getpid());
  int saved = dup(2);
  FILE* log = std::fopen(log_path.c_str(), "w+");
  ASSERT_TRUE(log);
  dup2(fileno(log), 2);
  {
    auto client = Connect(2);
    ASSERT_TRUE(client);
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
      ids.push_back("down/" + std::to_string(i));
      ASSERT_TRUE(client->Set(ids.back(), "v" + std::to_string(i)).ok());
    }
    agent_->Kill();
    std::this_thread::sleep_for(milliseconds(1500));  // the watch has noticed
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(client->Get(ids[i]).value(), "v" + std::to_string(i));
      EXPECT_TRUE(client->Set(ids[i], "w").ok());
    }
    EXPECT_EQ(client->Members().value().size(), 2u);
  }
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::fseek(log, 0, SEEK_SET);
  std::string text(1 << 16, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), log));
  std::fclose(log);
  std::remove(log_path.c_str());
  EXPECT_EQ(Count(text, "is unreachable"), 1u) << text;
  EXPECT_NE(text.find("keeping the last known 2 worker(s)"), std::string::npos) << text;
  // The workers keep serving too, and say so once each.
  EXPECT_EQ(Count(w1->Stderr(), "the worker keeps serving"), 1u) << w1->Stderr();
}

TEST_F(ConsulClusterTest, WorkerRefusesBadConsulFlags) {
  WorkerArgs a{.node_id = "w1", .consul = Url()};
  a.extra = {"--consul-ttl", "soon"};
  auto w = Proc::StartWorker(a);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("--consul-ttl: duration 'soon' is not valid"),
            std::string::npos)
      << w.status().ToString();
}

}  // namespace
}  // namespace shovel::consul_it
