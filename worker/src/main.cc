// shovel-worker: parses flags, starts a Worker, serves until SIGTERM/SIGINT.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "shovel/size.h"
#include "shovel/worker/worker.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "shovel-worker: " << message << "\n";
  return 2;
}

bool WriteReadyFile(const std::string& path, const std::string& endpoint) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << endpoint << "\n";
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  shovel::worker::WorkerOptions opt;
  std::string max_memory = "1GiB", chunk_size = "4MiB", ready_file;
  CLI::App app{"shovel-worker: a shoveling in-memory blob cache worker"};
  app.add_option("--listen", opt.listen, "ZeroMQ endpoint to bind (port 0 = any)")
      ->capture_default_str();
  app.add_option("--max-memory", max_memory, "memory limit (e.g. 2GiB)")
      ->capture_default_str();
  app.add_option("--node-id", opt.node_id, "node id (default <hostname>-<port>)");
  app.add_option("--compression-level", opt.compression_level, "zstd level, 0 = raw")
      ->capture_default_str();
  app.add_option("--chunk-size", chunk_size, "raw bytes per chunk")
      ->capture_default_str();
  app.add_option("--threads", opt.threads, "handler threads (0 = one per core)")
      ->capture_default_str();
  app.add_flag(
      "--no-eviction", [&](int64_t) { opt.eviction = false; },
      "refuse writes when full instead of evicting");
  app.add_option("--ready-file", ready_file, "write the endpoint here when ready");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(e.what());
  }
  auto mm = shovel::ParseSize(max_memory);
  if (!mm.ok()) return Fail("--max-memory: " + mm.status().message());
  opt.max_memory = *mm;
  auto cs = shovel::ParseSize(chunk_size);
  if (!cs.ok()) return Fail("--chunk-size: " + cs.status().message());
  opt.chunk_size = *cs;

  // Handle SIGTERM/SIGINT by sigwait here; the worker's threads inherit the
  // blocked mask and never see them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto worker = shovel::worker::Worker::Start(opt);
  if (!worker.ok()) {
    if (worker.status().code() == shovel::Code::kInvalidArgument) {
      return Fail("--" + worker.status().message());
    }
    std::cerr << "shovel-worker: " << worker.status().ToString() << "\n";
    return 1;
  }
  auto& w = **worker;
  if (!ready_file.empty() && !WriteReadyFile(ready_file, w.endpoint())) {
    std::cerr << "shovel-worker: cannot write --ready-file " << ready_file << "\n";
    return 1;
  }
  std::cerr << "shovel-worker " << w.node_id() << " listening on " << w.endpoint()
            << std::endl;
  int sig = 0;
  sigwait(&sigs, &sig);
  std::cerr << "shovel-worker " << w.node_id() << ": signal " << sig
            << ", finishing requests in flight" << std::endl;
  w.Stop();
  return 0;
}
