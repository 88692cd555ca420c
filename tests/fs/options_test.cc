// The shovelfs command line (options.h): the ways mount.fuse3 and users call
// it, the embedded worker's settings, and the errors a typo gets.
#include "shovel/fs/options.h"

#include <gtest/gtest.h>

namespace shovel::fs {
namespace {

Result<MountConfig> Parse(std::vector<std::string> args) {
  return ParseCommandLine(args);
}

TEST(Options, EmbeddedByDefault) {
  auto c = Parse({"/mnt/x"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->embedded());
  EXPECT_EQ(c->mountpoint, "/mnt/x");
  EXPECT_EQ(c->max_memory, 0u);  // a quarter of RAM, decided at mount
  EXPECT_EQ(c->compression_level, 1);
  EXPECT_EQ(c->threads, 16u);
}

TEST(Options, LogAndMetricsAsOptionsAndAsFlags) {
  auto c = Parse(
      {"/mnt/x", "-o", "log_file=/var/log/x.log,log_level=warn,metrics=0.0.0.0:9465"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->log_file, "/var/log/x.log");
  EXPECT_EQ(c->log_level, log::Level::kWarn);
  EXPECT_EQ(c->metrics, "0.0.0.0:9465");
  EXPECT_TRUE(c->fuse_options.empty());  // none of them goes to libfuse
  auto f = Parse({"--log-level", "debug", "/mnt/x", "--log-file=/tmp/fs.log"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->log_level, log::Level::kDebug);
  EXPECT_EQ(f->log_file, "/tmp/fs.log");
  EXPECT_EQ(f->mountpoint, "/mnt/x");
  EXPECT_EQ(Parse({"/mnt/x"})->log_level, log::Level::kInfo);
}

TEST(Options, BadLogLevelNamesTheWords) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"/mnt/x", "-o", "log_level=loud"}, {"--log-level", "loud", "/mnt/x"}}) {
    auto c = Parse(args);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(),
              "log level 'loud' is not one of debug, info, warn, error, off");
  }
  auto missing = Parse({"/mnt/x", "--log-file"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "--log-file needs a value");
  auto empty = Parse({"/mnt/x", "-o", "metrics="});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("option 'metrics' needs a value"),
            std::string::npos);
}

TEST(Options, SourceAndOptionsAsMountFuse3PassesThem) {
  auto c = Parse({"tcp://127.0.0.1:7070,tcp://127.0.0.1:7071", "/mnt/x", "-o",
                  "rw,allow_other,max_memory=2GiB,compression_level=0,noauto"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->embedded());
  EXPECT_EQ(c->workers.size(), 2u);
  EXPECT_EQ(c->max_memory, 2ull << 30);
  EXPECT_EQ(c->compression_level, 0);
  auto local = Parse({"local", "/mnt/x", "-ocompression_level=19"});
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_TRUE(local->embedded());
  EXPECT_EQ(local->compression_level, 19);
}

TEST(Options, KeysForACluster) {
  auto c = Parse({"tcp://127.0.0.1:7070", "/mnt/x", "-o",
                  "key_file=/etc/shoveling/me.key,worker_key=rq:rM>}U?@Lns47E1%kR.o@n%"
                  "FcmmsL/@{H8]yf7"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->key_file, "/etc/shoveling/me.key");
  EXPECT_EQ(c->worker_key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
  auto empty = Parse({"/mnt/x", "-o", "key_file"});
  EXPECT_FALSE(empty.ok());
}

// An fstab mount passes no environment: the Consul TLS files come as
// options named after the variables they set.
TEST(Options, ConsulFilesAsOptions) {
  auto c = Parse({"https://127.0.0.1:8501", "/mnt/x", "-o",
                  "consul_cacert=/etc/consul/ca.pem,consul_capath=/etc/consul/cas,"
                  "consul_client_cert=/etc/consul/me.pem,consul_client_key=/etc/consul/"
                  "me.key,consul_token_file=/etc/consul/token"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->consul, "https://127.0.0.1:8501");
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(c->consul_env, (Env{{"CONSUL_CACERT", "/etc/consul/ca.pem"},
                                {"CONSUL_CAPATH", "/etc/consul/cas"},
                                {"CONSUL_CLIENT_CERT", "/etc/consul/me.pem"},
                                {"CONSUL_CLIENT_KEY", "/etc/consul/me.key"},
                                {"CONSUL_HTTP_TOKEN_FILE", "/etc/consul/token"}}));
  auto empty = Parse({"https://127.0.0.1:8501", "/mnt/x", "-o", "consul_cacert"});
  EXPECT_FALSE(empty.ok());
  auto other = Parse({"https://127.0.0.1:8501", "/mnt/x", "-o", "consul_cafile=/x"});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("consul_cacert="), std::string::npos)
      << other.status().ToString();
}

TEST(Options, BadValuesNameTheProblem) {
  for (const char* bad :
       {"compression_level=20", "compression_level=-1", "compression_level=fast"}) {
    auto c = Parse({"/mnt/x", "-o", bad});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("compression_level must be 0..19"),
              std::string::npos)
        << c.status().ToString();
  }
  auto empty = Parse({"/mnt/x", "-o", "compression_level="});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("'compression_level' needs a value"),
            std::string::npos);
  auto typo = Parse({"/mnt/x", "-o", "max_memroy=1GiB"});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown option 'max_memroy=1GiB'"),
            std::string::npos);
  auto size = Parse({"/mnt/x", "-o", "max_memory=lots"});
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.status().message().find("max_memory"), std::string::npos);
  EXPECT_FALSE(Parse({}).ok());  // no mountpoint
  // Numbers that strtod takes but a mount cannot use.
  for (const char* bad : {"attr_timeout=nan", "attr_timeout=inf", "attr_timeout=-1",
                          "threads=inf", "threads=nan"}) {
    auto c = Parse({"/mnt/x", "-o", bad});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("is not a number of 0 or more"),
              std::string::npos)
        << c.status().ToString();
  }
  for (const char* bad : {"threads=1e30", "threads=2.5", "threads=0", "threads=5000"}) {
    auto c = Parse({"/mnt/x", "-o", bad});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("must be a whole number, 1..1024"),
              std::string::npos)
        << c.status().ToString();
  }
  auto ok = Parse({"/mnt/x", "-o", "threads=4,attr_timeout=0.5"});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->threads, 4u);
  EXPECT_EQ(ok->attr_timeout, 0.5);
}

TEST(Options, ReplicasIsANumberOfCopies) {
  auto c = Parse({"tcp://127.0.0.1:7070", "/mnt/x", "-o", "replicas=2"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->replicas, 2u);
  EXPECT_EQ(Parse({"/mnt/x"})->replicas, 0u);  // SHOVEL_REPLICAS, Consul, 1
  for (const char* bad : {"replicas=0", "replicas=9", "replicas=two", "replicas=2x"}) {
    auto r = Parse({"/mnt/x", "-o", bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(
        r.status().message().find("replicas must be a number of copies from 1 to 8"),
        std::string::npos)
        << r.status().ToString();
  }
}

// Stores take at most a quarter of the FUSE threads (a store may wait for a
// READ another thread must answer), at most 4, none below 4 threads.
TEST(Options, StoresLeaveThreadsForReads) {
  EXPECT_EQ(StoresForThreads(1), 0u);
  EXPECT_EQ(StoresForThreads(3), 0u);
  EXPECT_EQ(StoresForThreads(4), 1u);
  EXPECT_EQ(StoresForThreads(8), 2u);
  EXPECT_EQ(StoresForThreads(16), 4u);
  EXPECT_EQ(StoresForThreads(1024), 4u);
}

}  // namespace
}  // namespace shovel::fs
