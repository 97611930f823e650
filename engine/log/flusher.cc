#include "engine/log/flusher.h"

#include <unistd.h>

#include <cerrno>
#include <map>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/log/partition_log.h"
#include "engine/runtime/blocking.h"
#include "engine/runtime/event.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/when_all.h"

namespace ringlog::storage {
namespace {

task<status> sync_one(std::shared_ptr<segment_file> file) {
  co_return co_await io::fdatasync(file->fd);
}

// syncfs of the filesystem holding `file`; the shared_ptr keeps the fd open
// while the blocking thread uses it.
task<status> sync_filesystem(std::shared_ptr<segment_file> file) {
  const int fd = file->fd;
  auto call = run_blocking([fd] { return ::syncfs(fd) == 0 ? 0 : errno; });
  const int err = co_await call;
  if (err != 0) co_return error::from_errno(err, "syncfs", file->path);
  co_return ok();
}

// A directory sync needs a descriptor for the directory. When the process is
// out of them (every partition holds its active segment open, so a broker
// near its open-files limit gets here on the first round after creating
// topics), the directory cannot even be opened, and nothing was lost: a
// syncfs through the log's open segment file makes the directory entries
// durable just the same, without a new descriptor.
task<status> sync_dir(std::string dir, std::shared_ptr<segment_file> anchor) {
  status st = co_await fsync_dir_async(dir);
  const int err = st ? 0 : st.error().sys_errno();
  if ((err == EMFILE || err == ENFILE) && st.error().op() == "open" && anchor) {
    thread_local log_limiter limiter(10'000'000'000);
    if (limiter.allow(monotonic_ns())) {
      RINGLOG_WARN("{}: out of file descriptors to sync the directory ({}); syncing the file "
                   "system instead. Raise the open-files limit (ulimit -n, LimitNOFILE=)",
                   dir, st.error().message());
    }
    co_return co_await sync_filesystem(std::move(anchor));
  }
  co_return st;
}

// Every sync of one log's plan, concurrently; the first failure wins. `dir`
// empty: no directory sync.
task<status> sync_plan_of(std::vector<std::shared_ptr<segment_file>> files, std::string dir,
                          std::shared_ptr<segment_file> anchor) {
  std::vector<task<status>> syncs;
  syncs.reserve(files.size() + 1);
  for (auto& f : files) syncs.push_back(sync_one(f));
  if (!dir.empty()) syncs.push_back(sync_dir(std::move(dir), std::move(anchor)));
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

flusher::flusher() : _writes_done(std::make_unique<event>()) {}
flusher::~flusher() = default;

void flusher::write_begun(partition_log* log) {
  if (log->_writes_in_flight++ == 0) {
    log->_writing_index = _writing.size();
    _writing.push_back(log);
  }
}

void flusher::write_ended(partition_log* log) noexcept {
  RINGLOG_ASSERT(log->_writes_in_flight > 0, "flusher: a write ended that never began");
  if (--log->_writes_in_flight == 0) {
    partition_log* moved = _writing.back();
    _writing[log->_writing_index] = moved;
    moved->_writing_index = log->_writing_index;
    _writing.pop_back();
  }
  // The log marks itself dirty as this write completes (or goes offline):
  // either way the round need not wait for it any longer.
  if (log->_awaited_by_round) {
    log->_awaited_by_round = false;
    if (--_awaited == 0) _writes_done->notify_all();
  }
}

task<void> flusher::run() {
  while (!_dirty.empty()) {
    // Let the rest of this loop turn run first: the completions reaped with
    // the one that started the round (and the appends they release) join it
    // instead of waiting a whole fsync for the next one. Measured with 64
    // appends of 16 KiB in flight on one partition: 83 -> see BENCHMARKS.md.
    co_await yield();
    // Then the logs not dirty yet whose writes are in flight (see the header).
    for (partition_log* log : _writing) {
      if (!log->_in_flusher && !log->_awaited_by_round) {
        log->_awaited_by_round = true;
        ++_awaited;
      }
    }
    const int64_t deadline = monotonic_ns() + _write_wait_ns;
    while (_awaited > 0) {
      auto waited = _writes_done->wait_until(deadline);
      if (co_await waited == wake_reason::timed_out) break;
    }
    if (_awaited > 0) {
      for (partition_log* log : _writing) log->_awaited_by_round = false;
      _awaited = 0;
    }
    std::vector<partition_log*> logs;
    logs.swap(_dirty);
    std::vector<partition_log::sync_plan> plans;
    plans.reserve(logs.size());
    // Files to sync per filesystem, and one of them to name it to syncfs.
    struct fs_group {
      size_t files = 0;
      std::shared_ptr<segment_file> any;
    };
    std::map<uint64_t, fs_group> groups;
    for (partition_log* log : logs) {
      log->_in_flusher = false;  // writes completing from now on re-queue it
      plans.push_back(log->begin_sync());
      const auto& plan = plans.back();
      fs_group& g = groups[log->_dev];
      g.files += plan.files.size() + (plan.sync_dir ? 1 : 0);
      if (!g.any) g.any = !plan.files.empty() ? plan.files.front() : plan.anchor;
    }
    // One syncfs per filesystem with enough files; its outcome per group.
    std::vector<uint64_t> syncfs_devs;
    std::vector<task<status>> syncfs_calls;
    for (auto& [dev, g] : groups) {
      if (_syncfs_min_files > 0 && g.any && g.files >= static_cast<size_t>(_syncfs_min_files)) {
        syncfs_devs.push_back(dev);
        syncfs_calls.push_back(sync_filesystem(g.any));
      }
    }
    std::map<uint64_t, bool> synced_by_syncfs;
    if (!syncfs_calls.empty()) {
      _syncfs_calls += syncfs_calls.size();
      std::vector<status> done = co_await when_all(std::move(syncfs_calls));
      for (size_t i = 0; i < done.size(); ++i) {
        synced_by_syncfs[syncfs_devs[i]] = static_cast<bool>(done[i]);
        if (!done[i]) {
          RINGLOG_WARN("flush round: {}; syncing its files one by one to find which failed",
                       done[i].error().message());
        }
      }
    }
    // Everything not covered by a successful syncfs, file by file.
    std::vector<size_t> per_file;
    std::vector<task<status>> rounds;
    for (size_t i = 0; i < logs.size(); ++i) {
      auto it = synced_by_syncfs.find(logs[i]->_dev);
      if (it != synced_by_syncfs.end() && it->second) continue;
      const auto& plan = plans[i];
      _syncs += plan.files.size() + (plan.sync_dir ? 1 : 0);
      per_file.push_back(i);
      rounds.push_back(sync_plan_of(plan.files, plan.sync_dir ? logs[i]->_dir : std::string(),
                                    plan.anchor));
    }
    std::vector<status> results(logs.size(), ok());
    if (!rounds.empty()) {
      std::vector<status> done = co_await when_all(std::move(rounds));
      for (size_t k = 0; k < per_file.size(); ++k) results[per_file[k]] = std::move(done[k]);
    }
    ++_rounds;
    for (size_t i = 0; i < logs.size(); ++i) logs[i]->end_sync(plans[i], results[i]);
  }
  _running = false;
}

}  // namespace ringlog::storage
