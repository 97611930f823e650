#include "engine/log/flusher.h"

#include "engine/log/partition_log.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/when_all.h"

namespace ringlog::storage {
namespace {

task<status> sync_one(std::shared_ptr<segment_file> file) {
  co_return co_await io::fdatasync(file->fd);
}

task<status> sync_dir(int dir_fd) { co_return co_await io::fsync(dir_fd); }

// Every sync of one log's plan, concurrently; the first failure wins.
task<status> sync_plan_of(std::vector<std::shared_ptr<segment_file>> files, int dir_fd) {
  std::vector<task<status>> syncs;
  syncs.reserve(files.size() + 1);
  for (auto& f : files) syncs.push_back(sync_one(f));
  if (dir_fd >= 0) syncs.push_back(sync_dir(dir_fd));
  std::vector<status> results = co_await when_all(std::move(syncs));
  for (auto& r : results) {
    if (!r) co_return r;
  }
  co_return ok();
}

}  // namespace

void flusher::mark_dirty(partition_log* log) {
  if (!log->_in_flusher) {
    log->_in_flusher = true;
    _dirty.push_back(log);
  }
  if (!_running) {
    _running = true;
    spawn(run(), "flusher");
  }
}

task<void> flusher::run() {
  while (!_dirty.empty()) {
    // Let the rest of this loop turn run first: the completions reaped with
    // the one that started the round (and the appends they release) join it
    // instead of waiting a whole fsync for the next one. Measured with 64
    // appends of 16 KiB in flight on one partition: 83 -> see BENCHMARKS.md.
    co_await yield();
    std::vector<partition_log*> logs;
    logs.swap(_dirty);
    std::vector<partition_log::sync_plan> plans;
    std::vector<task<status>> rounds;
    plans.reserve(logs.size());
    rounds.reserve(logs.size());
    for (partition_log* log : logs) {
      log->_in_flusher = false;  // writes completing from now on re-queue it
      plans.push_back(log->begin_sync());
      const auto& plan = plans.back();
      _syncs += plan.files.size() + (plan.sync_dir ? 1 : 0);
      rounds.push_back(sync_plan_of(plan.files, plan.sync_dir ? log->_dir_fd : -1));
    }
    std::vector<status> results = co_await when_all(std::move(rounds));
    ++_rounds;
    for (size_t i = 0; i < logs.size(); ++i) logs[i]->end_sync(plans[i], results[i]);
  }
  _running = false;
}

}  // namespace ringlog::storage
