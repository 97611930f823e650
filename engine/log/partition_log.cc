#include "engine/log/partition_log.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <limits>
#include <chrono>
#include <utility>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/log/errc.h"
#include "engine/log/flusher.h"
#include "engine/log/recovery.h"
#include "engine/record/batch_header.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/blocking.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/timer.h"

namespace ringlog::storage {

// A coroutine waiting for the durable end to reach `end`; lives in its frame.
struct durable_waiter {
  partition_log* log;
  int64_t end;
  std::coroutine_handle<> waiter;
  status result;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter = h;
    log->_waiters.push_back(this);
    // The write that made this log dirty may have been synced already by a
    // round that began before it completed; make sure a round covers it.
    if (log->has_unsynced()) log->_flusher.mark_dirty(log);
  }
  status await_resume() { return std::move(result); }
};

// An append waiting for its bytes to reach the page cache; lives in its frame.
struct write_waiter {
  uint64_t seq;
  std::coroutine_handle<> waiter;
  status result;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept { waiter = h; }
  status await_resume() { return std::move(result); }
};

namespace {

// The longest run of queued appends one writev carries (see writer()). One
// batch larger than this still goes whole. Measured on one partition: 1 MiB
// x 8 appends in flight 206-246 -> 304-326 MiB/s; through the broker with 64
// KiB batches, 253-289 -> 279-324 MiB/s.
constexpr uint64_t k_max_write_bytes = 1 << 20;

// Writeback of a relaxed log starts every this many bytes written
// (note_relaxed_write).
constexpr uint64_t k_writeback_bytes = 1 << 20;

// Starts writeback of [from, from + len) of `file` (kept open by the
// shared_ptr meanwhile). A failure is only logged: the log's next sync
// reports the file's writeback errors itself.
task<void> start_writeback(std::shared_ptr<segment_file> file, uint64_t from, uint32_t len) {
  status st = co_await io::sync_file_range(file->fd, from, len, SYNC_FILE_RANGE_WRITE);
  if (!st) RINGLOG_DEBUG("{}: starting writeback: {}", file->path, st.error().message());
}

// Writes the iovecs whole at `position`, continuing after short writes.
task<status> writev_all(const segment_file& file, std::vector<iovec> iov, uint64_t position) {
  size_t first = 0;
  while (first < iov.size()) {
    const size_t count = std::min<size_t>(iov.size() - first, IOV_MAX);
    auto n = co_await io::writev(file.fd, std::span(iov.data() + first, count), position);
    if (!n) {
      co_return error(n.error().domain(), n.error().code(), "write", file.path, n.error().sys_errno());
    }
    if (*n == 0) co_return error::from_errno(EIO, "write", file.path + ": wrote 0 bytes");
    position += *n;
    size_t left = *n;
    while (left > 0 && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  co_return ok();
}

}  // namespace

partition_log::partition_log(std::string dir, log_config config, flusher& f) noexcept
    : _dir(std::move(dir)), _config(config), _flusher(f) {}

partition_log::~partition_log() {
  RINGLOG_ASSERT(_waiters.empty() && _pending.empty(),
                 "partition log {} destroyed with work in flight (close() it first)", _dir);
  RINGLOG_ASSERT(!_in_flusher && !_syncing, "partition log {} destroyed during a flush", _dir);
}

segment* partition_log::find_segment(int64_t offset) noexcept {
  auto it = std::upper_bound(
      _segments.begin(), _segments.end(), offset,
      [](int64_t o, const std::unique_ptr<segment>& s) { return o < s->base_offset(); });
  return it == _segments.begin() ? nullptr : std::prev(it)->get();
}

status partition_log::roll(int64_t now_ms) {
  if (auto st = active().seal(); !st) return st;
  // The sealed indexes were just written to their files; the next flush
  // round makes them durable with the data (recovery trusts the indexes of
  // segments before the recovery point).
  auto indexes = active().open_indexes_for_sync();
  if (!indexes) return std::move(indexes).error();
  for (auto& f : *indexes) _unsynced.push_back(std::move(f));
  auto next = segment::create(_dir, _next_offset, _config, now_ms);
  if (!next) return std::move(next).error();
  _segments.push_back(std::move(*next));
  // The new file's directory entry must be durable before any of its data
  // counts as durable.
  _dir_dirty = true;
  RINGLOG_DEBUG("{}: rolled to segment {}", _dir, _next_offset);
  if (_hooks != nullptr) _hooks->on_roll(_next_offset);
  return ok();
}

task<result<append_info>> partition_log::append(std::span<std::byte> batch, durability d) {
  if (_offline) co_return *_offline;
  auto view = record::record_batch_view::parse(
      batch, {.max_batch_bytes = static_cast<size_t>(_config.max_message_bytes)});
  if (!view) co_return std::move(view).error();
  co_return co_await append(*view, batch, d);
}

task<result<append_info>> partition_log::append(record::record_batch_view validated,
                                                std::span<std::byte> batch, durability d) {
  if (_offline) co_return *_offline;
  const record::record_batch_view* view = &validated;
  RINGLOG_ASSERT(view->bytes().data() == batch.data() && view->size_bytes() == batch.size(),
                 "append takes exactly one batch, and its view");

  const int64_t base = _next_offset;
  const int64_t last = base + view->last_offset_delta();
  const int64_t now = wall_ms();
  if (!active().can_fit(batch.size(), last, now)) {
    if (auto st = roll(now); !st) co_return st.error();
  }
  record::set_base_offset(batch, base);
  segment& seg = active();
  const uint64_t at = seg.reserve(batch.size(), last, view->max_timestamp());
  seg.note_write(now);
  _next_offset = last + 1;
  _unflushed_messages += view->records_count();

  const uint64_t seq = _pending_first_seq + _pending.size();
  _pending.push_back({position{last + 1, seg.base_offset(), at + batch.size()}, false});
  // The write joins this turn's queue; the log's writer sends the queue as
  // one writev per segment (see writer()).
  write_waiter written{seq, {}, {}};
  _write_queue.push_back({seg.file(), at, batch, &written});
  if (!_writer_running) {
    _writer_running = true;
    spawn(writer(), "log writer");
  }
  if (status w = co_await written; !w) co_return w.error();
  if (relaxed()) d = durability::page_cache;
  if (d == durability::fsync && _durable.offset < last + 1) {
    if (_offline) co_return *_offline;
    // A named awaiter: GCC 12 mishandles aggregate temporaries with
    // destructors inside co_await expressions.
    durable_waiter waiter{this, last + 1, {}, {}};
    status s = co_await waiter;
    if (!s) co_return s.error();
  }
  co_return append_info{base, last};
}

// Sends the appends queued in this loop turn: consecutive appends to the same
// segment are contiguous in the file, so each run becomes one writev. Small
// batches then cost one io-wq work item per turn instead of one each (with
// 64 KiB or smaller batches the per-write handoff, not the copy, dominated).
// A run stops at k_max_write_bytes: when every append in flight waited for
// the same round, one writev of all of them was copied while the disk sat
// idle, then synced while nothing was copied, in lockstep (traced: 8 x 1 MiB
// appends, 14 ms writev, 17 ms fdatasync, alternating). Smaller runs complete
// one by one, so the next round starts on the first while the rest copy.
task<void> partition_log::writer() {
  co_await yield();  // let every append of this turn queue first
  while (!_write_queue.empty()) {
    std::vector<queued_write> queue;
    queue.swap(_write_queue);
    size_t i = 0;
    while (i < queue.size()) {
      size_t j = i + 1;
      uint64_t end = queue[i].position + queue[i].bytes.size();
      while (j < queue.size() && queue[j].file == queue[i].file && queue[j].position == end &&
             end - queue[i].position < k_max_write_bytes) {
        end += queue[j].bytes.size();
        ++j;
      }
      std::vector<iovec> iov;
      iov.reserve(j - i);
      for (size_t k = i; k < j; ++k) {
        iov.push_back({const_cast<std::byte*>(queue[k].bytes.data()), queue[k].bytes.size()});
      }
      status st;
      if (_offline) {
        st = *_offline;
      } else {
        // Relaxed logs are not waited for: their writes need no round.
        const bool tracked = !relaxed();
        if (tracked) _flusher.write_begun(this);
        st = co_await writev_all(*queue[i].file, std::move(iov), queue[i].position);
        if (tracked) _flusher.write_ended(this);
      }
      if (!st) go_offline(st.error());
      if (st && relaxed()) note_relaxed_write(queue[i].file, queue[i].position, end);
      for (size_t k = i; k < j; ++k) {
        if (st) write_completed(queue[k].waiter->seq);
        queue[k].waiter->result = st;
        shard::current()->schedule(queue[k].waiter->waiter);
      }
      i = j;
    }
  }
  _writer_running = false;
}

// A relaxed log (flush.ms, flush.messages) syncs seconds of writes at once;
// left to itself, the kernel holds them dirty and that sync writes them all
// back in one burst, during which appends to every log on the disk stall
// (flush.ms=1000 at 178k records/s of 1 KiB on 8 partitions: e2e p99
// 280-310 ms). Starting writeback of each k_writeback_bytes as it is written
// keeps the burst small (same load: p99 43-45 ms). Nothing
// waits for it and nothing depends on it for durability: the sync still
// comes at flush.ms, and reports any error.
void partition_log::note_relaxed_write(const std::shared_ptr<segment_file>& file, uint64_t from,
                                       uint64_t to) {
  // With no sync ever coming (Kafka's default: both limits Long.MAX_VALUE)
  // the kernel's own writeback is left alone, as Kafka leaves it; starting
  // writeback early there doubled e2e p99 in 10 s runs (11 -> 20-23 ms).
  if (_config.flush_interval_ms == std::numeric_limits<int64_t>::max() &&
      _config.flush_interval_messages == std::numeric_limits<int64_t>::max()) {
    return;
  }
  if (_writeback_file != file) {
    _writeback_file = file;
    _writeback_from = from;
  }
  if (to - _writeback_from < k_writeback_bytes) return;
  spawn(start_writeback(file, _writeback_from, static_cast<uint32_t>(to - _writeback_from)),
        "log writeback");
  _writeback_from = to;
}

void partition_log::write_completed(uint64_t seq) {
  _pending[seq - _pending_first_seq].done = true;
  bool moved = false;
  while (!_pending.empty() && _pending.front().done) {
    const position end = _pending.front().end;
    // Remember each segment file with data not yet synced: at most a couple,
    // the active one and the one just rolled away from.
    segment* s = find_segment(end.segment_base);
    if (s != nullptr &&
        std::find(_unsynced.begin(), _unsynced.end(), s->file()) == _unsynced.end()) {
      _unsynced.push_back(s->file());
    }
    _written = end;
    _pending.pop_front();
    ++_pending_first_seq;
    moved = true;
  }
  if (!moved) return;
  if (!relaxed() || _unflushed_messages >= _config.flush_interval_messages) {
    _flusher.mark_dirty(this);
  } else if (_config.flush_interval_ms >= 0 && !_flush_timer_armed) {
    _flush_timer_armed = true;
    spawn(flush_after(_config.flush_interval_ms), "flush.ms timer");
  }
}

// flush.ms: the oldest unflushed write is synced at most this long after it.
task<void> partition_log::flush_after(int64_t delay_ms) {
  auto slept = co_await sleep_for_ms(delay_ms).with_cancel(_flush_timer_cancel);
  _flush_timer_armed = false;
  if (slept && has_unsynced()) _flusher.mark_dirty(this);
}

partition_log::sync_plan partition_log::begin_sync() {
  _syncing = true;
  _unflushed_messages = 0;
  sync_plan plan;
  plan.target = _written;
  plan.files.swap(_unsynced);
  plan.sync_dir = _dir_dirty;
  _dir_dirty = false;
  if (!_segments.empty()) plan.anchor = active().file();
  return plan;
}

void partition_log::end_sync(const sync_plan& plan, const status& st) {
  _syncing = false;
  if (!st) {
    go_offline(st.error());
    return;
  }
  if (plan.target.offset > _durable.offset) _durable = plan.target;
  std::vector<durable_waiter*> still;
  for (durable_waiter* w : _waiters) {
    if (w->end <= _durable.offset) {
      w->result = ok();
      shard::current()->schedule(w->waiter);
    } else {
      still.push_back(w);
    }
  }
  _waiters.swap(still);
  if (!_waiters.empty() && has_unsynced()) _flusher.mark_dirty(this);
}

void partition_log::go_offline(error e) {
  if (!_offline) {
    RINGLOG_ERROR("{}: log offline after an I/O error: {}", _dir, e.message());
    _offline = make_error(errc::log_offline, "append", _dir + ": " + e.message());
  }
  for (durable_waiter* w : _waiters) {
    w->result = *_offline;
    shard::current()->schedule(w->waiter);
  }
  _waiters.clear();
}

void partition_log::set_config(const log_config& config) {
  const bool was_relaxed = relaxed();
  const position visible = _written;
  _config = config;
  if (!_segments.empty()) active().set_roll_limits(config.segment_bytes, config.roll_ms());
  if (was_relaxed && !relaxed() && _durable.offset < visible.offset) {
    _visible_floor = visible;
    _flusher.mark_dirty(this);
  }
}

task<status> partition_log::flush() {
  if (_offline) co_return *_offline;
  if (_durable.offset >= _written.offset && !_dir_dirty) co_return ok();
  durable_waiter waiter{this, _written.offset, {}, {}};
  co_return co_await waiter;
}

task<status> partition_log::wait_durable(int64_t end_offset) {
  if (_offline) co_return *_offline;
  if (relaxed() || _durable.offset >= end_offset) co_return ok();
  durable_waiter waiter{this, end_offset, {}, {}};
  co_return co_await waiter;
}

task<status> partition_log::close(index_sync sync) {
  // Appends in flight finish first: their writes complete, then flush.
  while ((!_pending.empty() && !_offline) || _writer_running) co_await yield();
  // Offline, the writes after the failed one will never be acknowledged:
  // forget them (the next start's recovery cuts whatever reached the file).
  if (_offline) _pending.clear();
  _flush_timer_cancel.cancel();
  while (_flush_timer_armed) co_await yield();
  status st = co_await flush();
  if (_hooks != nullptr) {
    producer_state_hooks* hooks = std::exchange(_hooks, nullptr);
    co_await hooks->before_close(_next_offset);
  }
  while (!_waiters.empty()) co_await yield();
  // A round that took this log (even one with nothing left to sync) still
  // holds it until its end_sync.
  while (_in_flusher || _syncing) co_await yield();
  if (!_segments.empty() && !_offline) {
    if (status s = active().seal(); !s && st) st = s;
    if (sync == index_sync::caller_syncs_filesystem) co_return st;
    // A clean close promises indexes that need no rebuild at the next start.
    auto indexes = active().open_indexes_for_sync();
    if (!indexes) {
      if (st) st = std::move(indexes).error();
    } else {
      for (auto& f : *indexes) {
        status synced = co_await io::fdatasync(f->fd);
        if (!synced && st) st = synced;
      }
    }
  }
  co_return st;
}

task<result<read_slice>> partition_log::read(int64_t offset, uint32_t max_bytes, read_bound bound) {
  const position end = bound == read_bound::high_watermark ? visible_end()
                       : bound == read_bound::durable      ? _durable
                                                           : _written;
  if (offset < _log_start_offset || offset > end.offset) {
    co_return make_error(errc::offset_out_of_range, "read",
                         fmt::format("{}: offset {} is outside [{}, {}]", _dir, offset,
                                     _log_start_offset, end.offset));
  }
  if (offset == end.offset) co_return read_slice{};

  // The segment holding `offset`, then (for offsets in a gap a compaction
  // left at a segment's end) the ones after it. Taken before any await: the
  // segments may be deleted meanwhile, the files stay open.
  struct candidate {
    std::shared_ptr<segment_file> file;
    uint64_t start;
    uint64_t limit;
  };
  std::vector<candidate> candidates;
  {
    auto it = std::upper_bound(_segments.begin(), _segments.end(), offset,
                               [](int64_t o, const std::unique_ptr<segment>& s) {
                                 return o < s->base_offset();
                               });
    RINGLOG_ASSERT(it != _segments.begin(), "{}: no segment holds offset {} >= log start {}", _dir,
                   offset, _log_start_offset);
    for (--it; it != _segments.end() && (*it)->base_offset() <= end.segment_base &&
               candidates.size() < 4;
         ++it) {
      segment& s = **it;
      const uint64_t start = candidates.empty() ? s.offsets().lookup(offset).position : 0;
      const uint64_t limit = s.base_offset() < end.segment_base ? s.size() : end.bytes;
      candidates.push_back({s.file(), start, limit});
    }
  }

  // Walk batch headers from the index entry to the batch holding `offset`.
  constexpr size_t k_header_probe = record::k_last_offset_delta_pos + 4;
  std::array<std::byte, 4096> buf;
  for (const candidate& c : candidates) {
    const std::shared_ptr<segment_file>& file = c.file;
    const uint64_t limit = c.limit;
    uint64_t pos = c.start;
    while (pos < limit) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), limit - pos));
      auto n = co_await io::read(file->fd, std::span(buf.data(), want), pos);
      if (!n) co_return std::move(n).error();
      if (*n < k_header_probe) {
        co_return make_error(errc::corrupt_segment, "read",
                             fmt::format("{}: short batch header at position {}", file->path, pos));
      }
      size_t off = 0;
      while (off + k_header_probe <= *n) {
        const std::byte* h = buf.data() + off;
        const int64_t batch_base = static_cast<int64_t>(load_be64(h));
        const int32_t length = static_cast<int32_t>(load_be32(h + record::k_batch_length_pos));
        const int32_t delta = static_cast<int32_t>(load_be32(h + record::k_last_offset_delta_pos));
        if (length < record::k_min_batch_length) {
          co_return make_error(errc::corrupt_segment, "read",
                               fmt::format("{}: batch length {} at position {}", file->path, length,
                                           pos + off));
        }
        const uint64_t size = static_cast<uint64_t>(length) + record::k_log_overhead;
        if (batch_base + delta >= offset) {
          const uint64_t at = pos + off;
          const uint64_t take = std::min<uint64_t>(limit - at, std::max<uint64_t>(max_bytes, size));
          co_return read_slice{file, at, static_cast<uint32_t>(take),
                               static_cast<uint32_t>(std::min<uint64_t>(size, take))};
        }
        off += size;
      }
      pos += off;
    }
  }
  // Nothing at or after `offset` below the bound: the bound's end sits in a
  // gap, which reads as the end of the log.
  co_return read_slice{};
}

}  // namespace ringlog::storage

namespace ringlog::storage {
namespace {

// Reads [position, position + bytes) of a file whole.
task<status> read_exact(const segment_file& file, std::span<std::byte> out, uint64_t position) {
  size_t have = 0;
  while (have < out.size()) {
    auto n = co_await io::read(file.fd, out.subspan(have), position + have);
    if (!n) co_return std::move(n).error();
    if (*n == 0) {
      co_return make_error(errc::corrupt_segment, "read",
                           fmt::format("{}: ends at {} inside a batch", file.path, position + have));
    }
    have += *n;
  }
  co_return ok();
}

task<void> remove_later(std::vector<std::string> paths, int64_t delay_ms) {
  if (delay_ms > 0) (void)co_await sleep_for_ms(delay_ms);
  for (const auto& p : paths) {
    if (auto st = co_await io::unlinkat(AT_FDCWD, p.c_str()); !st && st.error().sys_errno() != ENOENT) {
      RINGLOG_WARN("cannot remove {}: {}", p, st.error().message());
    }
  }
}

}  // namespace

uint64_t partition_log::size_bytes() const noexcept {
  uint64_t total = 0;
  for (const auto& s : _segments) total += s->size();
  return total;
}

task<result<std::optional<timestamp_and_offset>>> partition_log::offset_for_timestamp(int64_t ts) {
  using answer = std::optional<timestamp_and_offset>;
  if (ts == k_latest_timestamp) co_return answer(timestamp_and_offset{-1, high_watermark()});
  if (ts == k_earliest_timestamp) co_return answer(timestamp_and_offset{-1, _log_start_offset});

  // The timestamp to reach: `ts`, or for k_max_timestamp the largest one.
  int64_t target = ts;
  if (ts == k_max_timestamp) {
    const position end = visible_end();
    int64_t best = -1;
    for (auto& s : _segments) {
      if (s->max_timestamp() > best && s->base_offset() <= end.segment_base) best = s->max_timestamp();
    }
    if (best < 0) co_return answer();
    target = best;
  }

  // The segments to search: from the first whose newest record is recent
  // enough. A compacted segment may keep a batch's max timestamp with fewer
  // records (or none) under it, so a segment without a match passes the
  // search on to the next. Segments are picked again after every search
  // (the cleaner may have replaced them meanwhile); `searched` is the base
  // offset of the last one searched.
  int64_t searched = -1;
  std::vector<std::byte> batch;
  std::vector<std::byte> scratch;
  for (;;) {
    const position end = visible_end();
    segment* seg = nullptr;
    for (auto& s : _segments) {
      if (s->base_offset() > end.segment_base) break;
      if (s->base_offset() > searched && s->max_timestamp() >= target) {
        seg = s.get();
        break;
      }
    }
    if (seg == nullptr) co_return answer();
    searched = seg->base_offset();

    std::shared_ptr<segment_file> file = seg->file();
    const uint64_t limit = seg->base_offset() < end.segment_base ? seg->size() : end.bytes;
    const auto entry = seg->times().lookup(target);
    uint64_t pos = seg->offsets().lookup(std::max(entry.offset, seg->base_offset())).position;
    while (pos + record::k_batch_header_bytes <= limit) {
      std::byte header[record::k_batch_header_bytes];
      if (auto st = co_await read_exact(*file, header, pos); !st) co_return st.error();
      auto size = record::record_batch_view::peek_size(header);
      if (!size) co_return std::move(size).error();
      const int64_t batch_max = static_cast<int64_t>(load_be64(header + record::k_max_timestamp_pos));
      const int64_t batch_last = static_cast<int64_t>(load_be64(header)) +
                                 static_cast<int32_t>(load_be32(header + record::k_last_offset_delta_pos));
      if (batch_max >= target && batch_last >= _log_start_offset) {
        batch.resize(*size);
        if (auto st = co_await read_exact(*file, batch, pos); !st) co_return st.error();
        auto view = record::record_batch_view::parse(batch, {.allow_offset_gaps = true});
        if (!view) co_return std::move(view).error();
        const int64_t log_start = _log_start_offset;
        // The first record at or after the target. A compressed batch is
        // decompressed on a blocking thread: one that inflates to the 64 MiB
        // cap takes about 0.25 s, and a request asking for it 64 times held
        // the shard (and every connection on it) for over 15 s.
        auto scan = [&view, &scratch, target, log_start]() -> result<answer> {
          auto it = record::record_iterator::open(*view, scratch, {.allow_offset_gaps = true});
          if (!it) return std::move(it).error();
          for (;;) {
            auto r = it->next();
            if (!r) return std::move(r).error();
            if (!*r) return answer();
            if ((*r)->timestamp() >= target && (*r)->offset() >= log_start) {
              return answer(timestamp_and_offset{(*r)->timestamp(), (*r)->offset()});
            }
          }
        };
        // A named value, not a co_await inside ?: (GCC 12, see invoke.h).
        std::optional<result<answer>> found;
        if (view->codec() == record::compression::none) {
          found.emplace(scan());
        } else {
          result<answer> scanned = co_await run_blocking(scan);
          found.emplace(std::move(scanned));
        }
        if (!*found) co_return std::move(*found).error();
        if (**found) co_return std::move(**found);
      }
      pos += *size;
    }
  }
}

task<status> partition_log::truncate_to(int64_t offset) {
  RINGLOG_ASSERT(_pending.empty(), "{}: truncate_to with appends in flight", _dir);
  if (offset >= _next_offset) co_return ok();
  if (_offline) co_return *_offline;
  ++_truncations;
  // Drop whole segments at or past the offset, keeping the first one.
  while (_segments.size() > 1 && active().base_offset() >= offset) {
    const int64_t dead = _segments.back()->base_offset();
    _segments.pop_back();
    remove_segment_files(_dir, dead);
    _dir_dirty = true;
  }
  segment& seg = active();
  if (auto st = seg.make_appendable(); !st) co_return st;
  // Find the batch holding `offset` (or the first after it): the cut point.
  uint64_t pos = seg.offsets().lookup(offset).position;
  int64_t new_end = seg.base_offset();
  std::byte header[record::k_last_offset_delta_pos + 4];
  while (pos + sizeof header <= seg.size()) {
    if (auto st = co_await read_exact(*seg.file(), header, pos); !st) co_return st;
    auto size = record::record_batch_view::peek_size(header);
    if (!size) co_return std::move(size).error();
    const int64_t base = static_cast<int64_t>(load_be64(header));
    const int64_t last = base + static_cast<int32_t>(load_be32(header + record::k_last_offset_delta_pos));
    if (last >= offset) break;
    new_end = last + 1;
    pos += *size;
  }
  if (pos < seg.size()) {
    if (::ftruncate(seg.fd(), static_cast<off_t>(pos)) != 0) {
      co_return error::from_errno(errno, "ftruncate", seg.file()->path);
    }
  }
  seg.truncate_to(std::min(pos, seg.size()), offset);
  // The index files must not keep entries past the cut: a restart would
  // trust them if the recovery point is past this segment.
  if (auto st = seg.persist_indexes(); !st) co_return st;
  _next_offset = std::max(new_end, seg.base_offset());
  const position end{_next_offset, seg.base_offset(), seg.size()};
  if (_written.offset > end.offset) _written = end;
  if (_durable.offset > end.offset) _durable = end;
  if (_visible_floor.offset > end.offset) _visible_floor = end;
  _log_start_offset = std::min(_log_start_offset, _next_offset);
  _unsynced.push_back(seg.file());
  _flusher.mark_dirty(this);
  co_return ok();
}

void partition_log::delete_oldest_segment(int64_t delete_delay_ms) {
  RINGLOG_ASSERT(_segments.size() > 1, "{}: never delete the active segment", _dir);
  auto dead = std::move(_segments.front());
  _segments.erase(_segments.begin());
  std::vector<std::string> renamed;
  for (const char* suffix : {".log", ".index", ".timeindex"}) {
    const std::string from = _dir + "/" + segment_file_name(dead->base_offset(), suffix);
    const std::string to = from + ".deleted";
    if (::rename(from.c_str(), to.c_str()) == 0) {
      renamed.push_back(to);
    } else if (errno != ENOENT) {
      RINGLOG_WARN("cannot rename {} for deletion: {}", from, strerrordesc_np(errno));
    }
  }
  _log_start_offset = std::max(_log_start_offset, _segments.front()->base_offset());
  spawn(remove_later(std::move(renamed), delete_delay_ms), "segment delete");
}

task<result<int64_t>> partition_log::delete_records_before(int64_t offset) {
  if (offset > _durable.offset) {
    co_return make_error(errc::offset_out_of_range, "delete_records",
                         fmt::format("{}: offset {} is past the high watermark {}", _dir, offset,
                                     _durable.offset));
  }
  if (offset > _log_start_offset) _log_start_offset = offset;
  while (_segments.size() > 1 && _segments[1]->base_offset() <= _log_start_offset) {
    delete_oldest_segment(0);
  }
  co_return _log_start_offset;
}

retention_report partition_log::apply_retention(int64_t now_ms, int64_t delete_delay_ms) {
  retention_report report;
  auto drop = [&] {
    report.segments += 1;
    report.bytes += _segments.front()->size();
    delete_oldest_segment(delete_delay_ms);
  };
  // Only segments wholly below the durable end may go: a reader of the high
  // watermark must find what it was promised.
  auto eligible = [&] {
    return _segments.size() > 1 && _segments[1]->base_offset() <= _durable.offset;
  };
  // A compact-only log keeps its segments whatever their age and size.
  const bool by_retention = _config.deletes_by_retention();
  if (by_retention && _config.retention_ms >= 0) {
    while (eligible() &&
           now_ms - _segments.front()->largest_timestamp() > _config.retention_ms) {
      drop();
    }
  }
  if (by_retention && _config.retention_bytes >= 0) {
    int64_t excess = static_cast<int64_t>(size_bytes()) - _config.retention_bytes;
    while (eligible() && excess >= static_cast<int64_t>(_segments.front()->size())) {
      excess -= static_cast<int64_t>(_segments.front()->size());
      drop();
    }
  }
  while (eligible() && _segments[1]->base_offset() <= _log_start_offset) drop();
  return report;
}

}  // namespace ringlog::storage
