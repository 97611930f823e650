// Crash test for the controller: a child process runs a controller with its
// partition logs and creates topics one request after another, printing each
// acknowledged topic (name and id) on a pipe; the parent SIGKILLs it at a
// random moment, reopens the same log dir as a restarted broker would, and
// checks that:
//   - every acknowledged topic is in the replayed image, with its id and its
//     partitions, and its partition logs exist;
//   - at most the one request in flight at the kill is there unacknowledged;
//   - the controller takes new topics afterwards.
// Repeated 8 times with seeds printed; RINGLOG_SEED=N replays one round.
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.h"
#include "engine/log/log_manager.h"
#include "engine/runtime/spawn.h"

namespace ringlog::controller {
namespace {

namespace fs = std::filesystem;

constexpr int32_t k_partitions = 2;

broker_config config_for(const std::string& dir) {
  const std::vector<std::string> overrides = {"log.dirs=" + dir, "node.id=1",
                                              "log.segment.bytes=65536"};
  auto c = load_broker_config(std::nullopt, overrides);
  if (!c) {
    std::fprintf(stderr, "config: %s\n", c.error().message().c_str());
    std::_Exit(2);
  }
  return *c;
}

storage::log_manager_config logs_config(const broker_config& c) {
  storage::log_manager_config lc;
  lc.log_dirs = c.log_dirs;
  lc.defaults = topic_log_config(c, {});
  return lc;
}

// Creates topics t-0, t-1, ... until killed; one line per acknowledged one.
int creator_main(const char* dir, int out_fd) {
  runtime rt(runtime_options{.shards = 2});
  if (!rt.start()) return 2;
  const broker_config cfg = config_for(dir);
  storage::log_manager logs(rt, logs_config(cfg));
  controller ctl(rt, cfg, logs);
  if (status st = ctl.start(); !st) {
    std::fprintf(stderr, "start: %s\n", st.error().message().c_str());
    return 3;
  }
  for (int i = 0;; ++i) {
    std::vector<new_topic> one(1);
    one[0].name = fmt::format("t-{}", i);
    one[0].num_partitions = k_partitions;
    one[0].configs = {{"retention.ms", std::to_string(1000 + i)}};
    auto results = rt.block_on(1, ctl.create_topics(std::move(one), false));
    const auto& r = results.front();
    const std::string line = r.ok() ? fmt::format("{} {}\n", r.name, r.id.to_string())
                                    : fmt::format("ERR {}: {}\n", r.name, r.message);
    // One write(2) per line: a line is whole or absent.
    if (::write(out_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 4;
    if (!r.ok()) return 5;
  }
}

std::string self_path;

struct verdict {
  std::vector<std::string> problems;
  size_t topics = 0;
};

task<bool> has_log(storage::log_manager* logs, storage::topic_partition tp) {
  co_return logs->get(tp) != nullptr;
}

verdict verify(const std::string& dir, const std::map<std::string, std::string>& acked) {
  verdict v;
  runtime rt(runtime_options{.shards = 2});
  if (!rt.start()) {
    v.problems.push_back("runtime did not start");
    return v;
  }
  const broker_config cfg = config_for(dir);
  storage::log_manager logs(rt, logs_config(cfg));
  controller ctl(rt, cfg, logs);
  if (status st = ctl.start(); !st) {
    v.problems.push_back("restart failed: " + st.error().message());
    (void)ctl.stop();
    rt.stop();
    return v;
  }
  auto image = ctl.image();
  v.topics = image->topics().size();
  for (const auto& [name, id] : acked) {
    const topic* t = image->find_topic(name);
    if (t == nullptr) {
      v.problems.push_back(fmt::format("acknowledged topic {} is missing", name));
      continue;
    }
    if (t->id.to_string() != id) {
      v.problems.push_back(
          fmt::format("topic {} has id {}, acknowledged as {}", name, t->id.to_string(), id));
    }
    if (t->partitions.size() != static_cast<size_t>(k_partitions)) {
      v.problems.push_back(fmt::format("topic {} has {} partitions", name, t->partitions.size()));
    }
    for (int32_t p = 0; p < k_partitions; ++p) {
      storage::topic_partition tp{name, p};
      if (!rt.block_on(logs.shard_of(tp), has_log(&logs, tp))) {
        v.problems.push_back(fmt::format("partition log {} is missing", tp.dir_name()));
      }
    }
  }
  if (v.topics > acked.size() + 1) {
    v.problems.push_back(
        fmt::format("{} topics after the restart, {} acknowledged: more than the "
                    "one request in flight",
                    v.topics, acked.size()));
  }
  std::vector<new_topic> more(1);
  more[0].name = "after-restart";
  auto r = rt.block_on(0, ctl.create_topics(std::move(more), false));
  if (!r.front().ok()) v.problems.push_back("create after restart: " + r.front().message);
  if (status st = ctl.stop(); !st) v.problems.push_back("stop: " + st.error().message());
  rt.stop();
  return v;
}

TEST(ControllerCrash, AcknowledgedTopicsSurviveSigkill) {
  const char* env_seed = std::getenv("RINGLOG_SEED");
  const int rounds = env_seed ? 1 : 8;
  for (int round = 0; round < rounds; ++round) {
    const uint64_t seed = env_seed ? std::strtoull(env_seed, nullptr, 10) : std::random_device{}();
    SCOPED_TRACE(fmt::format("round {} seed {} (replay: RINGLOG_SEED={})", round, seed, seed));
    std::mt19937_64 rng(seed);
    const std::string dir =
        ::testing::TempDir() + fmt::format("ringlog-ctl-crash-{}-{}", ::getpid(), round);
    fs::remove_all(dir);

    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(fds[0]);
      ::execl(self_path.c_str(), self_path.c_str(), "--creator", dir.c_str(),
              std::to_string(fds[1]).c_str(), nullptr);
      std::_Exit(127);
    }
    ::close(fds[1]);
    // Wait for the first acknowledgement, then kill at a random moment.
    std::string text;
    char buf[65536];
    while (text.find('\n') == std::string::npos) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 400)(rng)));
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ::waitpid(child, &wstatus, 0);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the creator exited on its own: " << wstatus << "\n"
                                      << text;
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
      text.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);

    std::map<std::string, std::string> acked;
    for (size_t pos = 0; pos < text.size();) {
      const size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) break;
      const std::string line = text.substr(pos, nl - pos);
      ASSERT_NE(line.rfind("ERR ", 0), 0u) << line;
      const size_t space = line.find(' ');
      acked[line.substr(0, space)] = line.substr(space + 1);
      pos = nl + 1;
    }
    ASSERT_FALSE(acked.empty());

    verdict v = verify(dir, acked);
    for (const auto& p : v.problems) ADD_FAILURE() << p;
    RecordProperty(fmt::format("round{}_acked", round), static_cast<int>(acked.size()));
    if (!HasFailure()) fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace ringlog::controller

int main(int argc, char** argv) {
  // Child mode: --creator DIR FD.
  if (argc == 4 && std::string(argv[1]) == "--creator") {
    return ringlog::controller::creator_main(argv[2], std::atoi(argv[3]));
  }
  ringlog::controller::self_path = std::filesystem::canonical("/proc/self/exe").string();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
