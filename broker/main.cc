// ringlog-broker: a Kafka-protocol broker on this host. Loads the config,
// starts the node, prints where clients reach it, and runs until SIGINT or
// SIGTERM, then stops cleanly (every log flushed, clean-shutdown markers
// written, so the next start re-reads nothing).
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "base/broker_config.h"
#include "base/log.h"
#include "broker/broker.h"
#include "engine/runtime/shard.h"

namespace ringlog {
namespace {

constexpr const char* k_usage = R"(usage: ringlog-broker [CONFIG_FILE] [--override KEY=VALUE]... [--print-config]

Runs a Ringlog broker: a single node that speaks the Kafka protocol, so any
Kafka client can produce to and consume from it. The configuration is a
Kafka-style .properties file; every key is optional (docs/config.md). With no
arguments it listens on PLAINTEXT://:9092 and keeps its data in ./ringlog-data.

  --override KEY=VALUE  set a key on top of the file (repeatable)
  --print-config        print the effective configuration and exit
  --help                this text
  --version             print the version and exit

It prints "ringlog-broker ready: NAME://HOST:PORT ..." once it accepts
connections, and stops cleanly on SIGINT or SIGTERM.

Exit status: 0 after a clean stop, 1 when the broker cannot start, 2 on bad
arguments or config.
)";

// Every partition holds its active .log open and every client a socket; the
// usual soft limit (1,024) caps a broker near a thousand partitions, so take
// the hard limit, as Kafka's packaging asks operators to.
void raise_open_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t before = lim.rlim_cur;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) lim.rlim_cur = before;
  }
  RINGLOG_INFO("open files limit {} (hard {}): about one per partition and per connection",
               lim.rlim_cur, lim.rlim_max);
}

int run(int argc, char** argv) {
  auto loaded = load_broker_command_line(argc, argv, "ringlog-broker", k_usage, RINGLOG_VERSION);
  if (!loaded.config) return loaded.exit_code;
  const broker_config* config = &*loaded.config;
  set_log_level(config->ringlog_log_level);
  RINGLOG_INFO("effective configuration:\n{}", render_broker_config(*config));
  raise_open_file_limit();

  // Block the stop signals in every thread (shards inherit the mask); the
  // main thread takes them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  broker::broker node(*config);
  if (status st = node.start(); !st) {
    RINGLOG_ERROR("cannot start: {}", st.error().message());
    return 1;
  }
  std::vector<std::string> where;
  for (const auto& l : node.listeners()) {
    where.push_back(fmt::format("{}://{}:{}", l.name, l.host.empty() ? "0.0.0.0" : l.host, l.port));
  }
  RINGLOG_INFO("ringlog-broker {} node {} cluster {}: listeners {}, log.dirs {}, {} shards, {}",
               RINGLOG_VERSION, config->node_id, node.cluster_id(), fmt::join(where, ","),
               fmt::join(config->log_dirs, ","), node.rt().size(), node.rt().features());
  std::printf("ringlog-broker ready: %s\n", fmt::format("{}", fmt::join(where, " ")).c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  RINGLOG_INFO("signal {}: stopping", sig);
  node.stop();
  RINGLOG_INFO("stopped cleanly");
  return 0;
}

}  // namespace
}  // namespace ringlog

int main(int argc, char** argv) { return ringlog::run(argc, argv); }
