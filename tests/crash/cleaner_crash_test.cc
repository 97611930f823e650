// Crash test for log compaction: a child process appends keyed records with
// durable acknowledgements (several appenders at once) to a compacted log
// while a cleaner cleans it over and over, reporting each acknowledged batch
// and each step of every segment swap on a pipe. The parent SIGKILLs it after
// a random number of swap steps (so the kill lands anywhere in a clean: while
// writing .cleaned files, between the renames, after the commit), reopens
// the log as a restarted broker would and checks that:
//   - the log reads back whole: batches in offset order, every record what
//     its writer wrote (values name their writer, batch and position);
//   - for every key, its latest acknowledged record is still the key's
//     latest, or a later (unacknowledged) write of that key is;
//   - no temporary .cleaned/.swap file is left;
//   - the reopened log cleans again and still holds the same latest values.
// Repeated 12 times with seeds printed; RINGLOG_SEED=N replays one round.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "engine/log/cleaner.h"
#include "engine/log/flusher.h"
#include "engine/log/partition_log.h"
#include "engine/record/batch_builder.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/timer.h"
#include "engine/runtime/when_all.h"

namespace ringlog::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int k_appenders = 6;
constexpr int k_records_per_batch = 4;
constexpr int k_keys = 40;

log_config compacted() {
  log_config c;
  c.segment_bytes = 8 * 1024;
  c.index_interval_bytes = 512;
  c.cleanup = cleanup_policy::compact;
  c.min_cleanable_dirty_ratio = 0.0;
  return c;
}

// Record j of batch i of appender a: its key, and its value "a:i:j", or a
// tombstone (null value) for the first record of every ninth batch.
std::string key_of(int a, int i, int j) {
  return "k" + std::to_string((a * 7 + i * 3 + j * 13) % k_keys);
}
bool is_tombstone(int i, int j) { return i % 9 == 8 && j == 0; }
std::string value_of(int a, int i, int j) { return fmt::format("{}:{}:{}", a, i, j); }

std::vector<std::byte> make_batch(int a, int i) {
  record::batch_builder b({});
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (int j = 0; j < k_records_per_batch; ++j) {
    keys.push_back(key_of(a, i, j));
    values.push_back(value_of(a, i, j));
  }
  for (int j = 0; j < k_records_per_batch; ++j) {
    record::record_data d{.key = record::as_bytes(keys[j]), .timestamp_ms = wall_ms()};
    if (!is_tombstone(i, j)) d.value = record::as_bytes(values[j]);
    b.add(d);
  }
  return std::move(*b.build());
}

void say(int fd, const std::string& line) { (void)::write(fd, line.data(), line.size()); }

task<void> appender(partition_log* log, int a, int out_fd) {
  for (int i = 0;; ++i) {
    auto batch = make_batch(a, i);
    auto r = co_await log->append(batch);
    if (!r) {
      say(out_fd, "ERR " + r.error().message() + "\n");
      co_return;
    }
    // One write(2) per line: lines never interleave.
    say(out_fd, fmt::format("A {} {} {}\n", a, i, r->base_offset));
  }
}

task<void> clean_forever(partition_log* log, log_cleaner* cleaner, int out_fd) {
  for (;;) {
    auto r = co_await cleaner->clean(*log);
    if (!r) say(out_fd, "ERR " + r.error().message() + "\n");
    (void)co_await sleep_for(2ms);
  }
}

task<void> child(std::string dir, int out_fd, flusher* f) {
  auto log = co_await partition_log::open(dir, compacted(), *f, recovery_state{});
  if (!log) {
    std::fprintf(stderr, "child: %s\n", log.error().message().c_str());
    std::_Exit(3);
  }
  cleaner_config cc;
  cc.dedupe_buffer_bytes = 1 << 20;
  log_cleaner cleaner(cc);
  cleaner.add(log->get(), 0);
  cleaner.set_step_hook([out_fd](clean_step) { say(out_fd, "S\n"); });
  std::vector<task<void>> all;
  for (int a = 0; a < k_appenders; ++a) all.push_back(appender(log->get(), a, out_fd));
  all.push_back(clean_forever(log->get(), &cleaner, out_fd));
  co_await when_all(std::move(all));  // runs until the parent kills us
  std::_Exit(4);
}

int child_main(const char* dir, int out_fd) {
  runtime rt(runtime_options{.shards = 1, .pin_threads = false});
  if (!rt.start()) return 2;
  flusher f;
  rt.block_on(0, child(dir, out_fd, &f));
  rt.stop();
  return 0;
}

struct acked {
  int64_t offset = -1;
  std::optional<std::string> value;
};

struct verdict {
  std::vector<std::string> problems;
  size_t keys_checked = 0;
  size_t records = 0;
};

// Reads the whole log; records problems; returns key -> (offset, value) of
// each key's last record.
task<std::map<std::string, acked>> read_latest(partition_log& log, verdict& v) {
  std::map<std::string, acked> latest;
  int64_t next = log.log_start_offset();
  int64_t previous_last = -1;
  std::vector<std::byte> scratch;
  while (next < log.log_end_offset()) {
    auto s = co_await log.read(next, 1 << 20, read_bound::written);
    if (!s || s->bytes == 0) {
      v.problems.push_back(
          fmt::format("offset {} below the end {} unreadable", next, log.log_end_offset()));
      break;
    }
    std::vector<std::byte> bytes(s->bytes);
    (void)::pread(s->file->fd, bytes.data(), bytes.size(), static_cast<off_t>(s->position));
    record::batch_iterator batches(bytes, {.allow_offset_gaps = true});
    bool any = false;
    for (;;) {
      auto b = batches.next();
      if (!b || !*b) break;
      const auto& batch = **b;
      if (batch.last_offset() < next) continue;
      if (batch.base_offset() <= previous_last) {
        v.problems.push_back(
            fmt::format("batch at {} after one ending at {}", batch.base_offset(), previous_last));
        co_return latest;
      }
      any = true;
      previous_last = batch.last_offset();
      next = batch.last_offset() + 1;
      auto it = record::record_iterator::open(batch, scratch, {.allow_offset_gaps = true});
      if (!it) {
        v.problems.push_back(it.error().message());
        co_return latest;
      }
      for (;;) {
        auto r = it->next();
        if (!r) {
          v.problems.push_back(r.error().message());
          co_return latest;
        }
        if (!*r) break;
        ++v.records;
        const auto& rec = **r;
        const std::string key(reinterpret_cast<const char*>(rec.key()->data()), rec.key()->size());
        std::optional<std::string> value;
        if (rec.value()) {
          value.emplace(reinterpret_cast<const char*>(rec.value()->data()), rec.value()->size());
          int a = 0, i = 0, j = 0;
          if (std::sscanf(value->c_str(), "%d:%d:%d", &a, &i, &j) != 3 || key_of(a, i, j) != key) {
            v.problems.push_back(
                fmt::format("offset {}: key {} holds {}", rec.offset(), key, *value));
          }
        }
        latest[key] = {rec.offset(), value};
      }
    }
    if (!any) {
      v.problems.push_back(fmt::format("read({}) returned no whole batch", next));
      break;
    }
  }
  co_return latest;
}

void check_latest(const std::map<std::string, acked>& in_log,
                  const std::map<std::string, acked>& want, verdict& v, const char* when) {
  for (const auto& [key, w] : want) {
    ++v.keys_checked;
    auto it = in_log.find(key);
    if (it == in_log.end()) {
      v.problems.push_back(fmt::format("{}: key {} (acked at {}) is gone", when, key, w.offset));
      continue;
    }
    if (it->second.offset < w.offset) {
      v.problems.push_back(fmt::format("{}: key {}: latest in the log at {}, acked at {}", when,
                                       key, it->second.offset, w.offset));
    } else if (it->second.offset == w.offset && it->second.value != w.value) {
      v.problems.push_back(fmt::format("{}: key {} at {} holds {}, acked {}", when, key, w.offset,
                                       it->second.value.value_or("null"),
                                       w.value.value_or("null")));
    }
  }
}

task<verdict> verify(std::string dir, std::map<std::string, acked> want, flusher* f) {
  verdict v;
  auto opened =
      co_await partition_log::open(dir, compacted(), *f, recovery_state{.recovery_point = 0});
  if (!opened) {
    v.problems.push_back("reopen failed: " + opened.error().message());
    co_return v;
  }
  auto& log = **opened;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.ends_with(".cleaned") || n.ends_with(".swap")) v.problems.push_back("left behind: " + n);
  }
  auto latest = co_await read_latest(log, v);
  check_latest(latest, want, v, "after the crash");
  // The recovered log cleans again, to the same latest values.
  log_cleaner cleaner(cleaner_config{});
  cleaner.add(&log, log.log_start_offset());
  auto r = co_await cleaner.clean(log);
  if (!r) v.problems.push_back("clean after recovery: " + r.error().message());
  auto again = co_await read_latest(log, v);
  check_latest(again, want, v, "after a clean of the recovered log");
  co_await cleaner.remove(&log);
  (void)co_await log.close();
  co_return v;
}

std::string self_path;

std::pair<pid_t, int> start_child(const std::string& dir) {
  int fds[2];
  if (::pipe(fds) != 0) return {-1, -1};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::execl(self_path.c_str(), self_path.c_str(), "--child", dir.c_str(),
            std::to_string(fds[1]).c_str(), nullptr);
    std::_Exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

TEST(CleanerCrash, TheLatestValueOfEveryKeySurvivesSigkillMidClean) {
  const char* env_seed = std::getenv("RINGLOG_SEED");
  const int rounds = env_seed ? 1 : 12;
  for (int round = 0; round < rounds; ++round) {
    const uint64_t seed = env_seed ? std::strtoull(env_seed, nullptr, 10) : std::random_device{}();
    SCOPED_TRACE(fmt::format("round {} seed {} (replay: RINGLOG_SEED={})", round, seed, seed));
    std::mt19937_64 rng(seed);
    const std::string dir =
        ::testing::TempDir() + fmt::format("ringlog-clean-crash-{}-{}", ::getpid(), round);
    fs::remove_all(dir);

    const auto [pid, out] = start_child(dir);
    ASSERT_GE(pid, 0);
    // Kill after a random number of swap steps (each clean swaps several
    // segments, each in six steps), or after 5 s whatever happened.
    const int kill_after_steps = std::uniform_int_distribution<int>(1, 120)(rng);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::string text;
    int steps = 0;
    char buf[65536];
    while (steps < kill_after_steps && std::chrono::steady_clock::now() < deadline) {
      const ssize_t n = ::read(out, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t k = 0; k < n; ++k) {
        if (buf[k] == 'S' && (text.empty() || text.back() == '\n')) ++steps;
        text.push_back(buf[k]);
      }
    }
    ::kill(pid, SIGKILL);
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the child exited on its own: " << wstatus;
    for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;)
      text.append(buf, static_cast<size_t>(n));
    ::close(out);

    // The latest acknowledged record of each key.
    std::map<std::string, acked> want;
    size_t acks = 0;
    for (size_t pos = 0; pos < text.size();) {
      const size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) break;
      int a = 0, i = 0;
      long base = 0;
      if (std::sscanf(text.c_str() + pos, "A %d %d %ld", &a, &i, &base) == 3) {
        ++acks;
        for (int j = 0; j < k_records_per_batch; ++j) {
          const int64_t offset = base + j;
          auto& w = want[key_of(a, i, j)];
          if (offset >= w.offset) {
            w.offset = offset;
            w.value =
                is_tombstone(i, j) ? std::nullopt : std::optional<std::string>(value_of(a, i, j));
          }
        }
      } else if (text.compare(pos, 4, "ERR ") == 0) {
        ADD_FAILURE() << "child: " << text.substr(pos, nl - pos);
      }
      pos = nl + 1;
    }
    ASSERT_GT(acks, 0u);

    runtime rt(runtime_options{.shards = 1, .pin_threads = false});
    ASSERT_TRUE(rt.start());
    flusher f;
    verdict v = rt.block_on(0, verify(dir, want, &f));
    rt.stop();
    for (const auto& p : v.problems) ADD_FAILURE() << p;
    EXPECT_EQ(v.keys_checked, 2 * want.size());
    RecordProperty(
        fmt::format("round{}", round),
        fmt::format("{} acks, {} steps, {} records after recovery", acks, steps, v.records));
    if (!HasFailure()) fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace ringlog::storage

int main(int argc, char** argv) {
  // Child mode: --child DIR FD (runs until the parent kills it).
  if (argc == 4 && std::string(argv[1]) == "--child") {
    return ringlog::storage::child_main(argv[2], std::atoi(argv[3]));
  }
  ringlog::storage::self_path = std::filesystem::canonical("/proc/self/exe").string();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
