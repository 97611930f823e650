// ringlog-smoke: checks that this host can run Ringlog's runtime, with the
// broker's own configuration. It loads the config exactly as the broker will,
// starts one shard per core, and on every shard writes and fdatasyncs a probe
// file in each log dir through io_uring, then times cross-shard calls. It
// prints what it found and exits: 0 when all is well, 1 when the host cannot
// run Ringlog (io_uring disabled, log dir not writable...), 2 on a bad config.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "base/broker_config.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/when_all.h"

#ifdef RINGLOG_MIMALLOC
#include <mimalloc.h>
#endif

namespace ringlog {
namespace {

constexpr const char* k_usage = R"(usage: ringlog-smoke [CONFIG_FILE] [--override KEY=VALUE]... [--print-config]

Checks that this host can run Ringlog, using the broker's configuration
(a Kafka-style .properties file; every key is optional, see docs/config.md).
With no arguments it uses the defaults: data under ./ringlog-data.

On each shard (one per core, or ringlog.shards) it writes and fdatasyncs a
probe file in every log dir through io_uring, then times cross-shard calls,
prints the figures and exits.

  --override KEY=VALUE  set a key on top of the file (repeatable)
  --print-config        print the effective configuration and exit
  --help                this text
  --version             print the version and exit

Exit status: 0 healthy, 1 the host cannot run Ringlog, 2 bad arguments or config.
)";

struct probe_result {
  std::string error;
  std::vector<int64_t> sync_ns;
};

// Writes 64 blocks of 4 KiB to a fresh file in `dir`, fdatasync after each.
task<probe_result> probe_dir(std::string dir, unsigned shard_id) {
  probe_result out;
  const std::string path = dir + "/.ringlog-smoke-" + std::to_string(shard_id);
  auto fd = co_await io::openat(AT_FDCWD, path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (!fd) {
    out.error = fd.error().message() + ": " + path;
    co_return out;
  }
  std::vector<std::byte> block(4096, std::byte{0x2a});
  for (uint64_t i = 0; i < 64; ++i) {
    const int64_t t0 = monotonic_ns();
    auto w = co_await io::write(*fd, block, i * block.size());
    if (!w) {
      out.error = w.error().message() + ": " + path;
      break;
    }
    if (auto s = co_await io::fdatasync(*fd); !s) {
      out.error = s.error().message() + ": " + path;
      break;
    }
    out.sync_ns.push_back(monotonic_ns() - t0);
  }
  (void)co_await io::close(*fd);
  (void)co_await io::unlinkat(AT_FDCWD, path.c_str());
  co_return out;
}

task<std::vector<probe_result>> probe_all(std::vector<std::string> dirs) {
  const unsigned id = shard::current()->id();
  std::vector<task<probe_result>> probes;
  for (auto& d : dirs) probes.push_back(probe_dir(d, id));
  co_return co_await when_all(std::move(probes));
}

task<int64_t> cross_shard_ns(unsigned shards, int rounds) {
  const int64_t t0 = monotonic_ns();
  for (int i = 0; i < rounds; ++i) {
    co_await invoke_on((shard::current()->id() + 1) % shards, [] { return 0; });
  }
  co_return (monotonic_ns() - t0) / rounds;
}

int64_t percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int run(int argc, char** argv) {
  auto loaded = load_broker_command_line(argc, argv, "ringlog-smoke", k_usage, RINGLOG_VERSION);
  if (!loaded.config) return loaded.exit_code;
  const broker_config* config = &*loaded.config;
  set_log_level(config->ringlog_log_level);

  for (const auto& dir : config->log_dirs) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      RINGLOG_ERROR("cannot create log dir {}: {}", dir, ec.message());
      return 1;
    }
  }

  runtime rt(runtime_options{.shards = static_cast<unsigned>(config->ringlog_shards),
                             .ring_entries = static_cast<unsigned>(config->ringlog_io_uring_entries),
                             .pin_threads = config->ringlog_shards_pin});
  if (status st = rt.start(); !st) {
    RINGLOG_ERROR("cannot start the runtime: {}", st.error().message());
    return 1;
  }
#ifdef RINGLOG_MIMALLOC
  const char* allocator = "mimalloc";
#else
  const char* allocator = "system malloc";
#endif
  RINGLOG_INFO("ringlog-smoke {}: {} shards, {}, allocator {}, log.dirs {}", RINGLOG_VERSION,
               rt.size(), rt.features(), allocator, fmt::join(config->log_dirs, ","));

  bool healthy = true;
  for (unsigned s = 0; s < rt.size(); ++s) {
    auto results = rt.block_on(s, probe_all(config->log_dirs));
    for (size_t d = 0; d < results.size(); ++d) {
      const auto& r = results[d];
      if (!r.error.empty()) {
        RINGLOG_ERROR("shard {}: {}", s, r.error);
        healthy = false;
        continue;
      }
      RINGLOG_INFO("shard {}: 4 KiB write+fdatasync in {}: p50 {} us, p99 {} us", s,
                   config->log_dirs[d], percentile(r.sync_ns, 0.5) / 1000,
                   percentile(r.sync_ns, 0.99) / 1000);
    }
  }
  if (rt.size() > 1) {
    const int64_t ns = rt.block_on(0, cross_shard_ns(rt.size(), 1000));
    RINGLOG_INFO("cross-shard call round trip: {} us", ns / 1000.0);
  }
  rt.stop();
  if (healthy) {
    RINGLOG_INFO("this host can run ringlog");
  }
  return healthy ? 0 : 1;
}

}  // namespace
}  // namespace ringlog

int main(int argc, char** argv) { return ringlog::run(argc, argv); }
