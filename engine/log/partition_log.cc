#include "engine/log/partition_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/log/errc.h"
#include "engine/log/flusher.h"
#include "engine/record/batch_header.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/shard.h"

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

namespace {

task<status> write_all(std::shared_ptr<segment_file> file, std::span<const std::byte> data,
                       uint64_t position) {
  while (!data.empty()) {
    auto n = co_await io::write(file->fd, data, position);
    if (!n)
      co_return error(n.error().domain(), n.error().code(), "write", file->path,
                      n.error().sys_errno());
    if (*n == 0) co_return error::from_errno(EIO, "write", file->path + ": wrote 0 bytes");
    data = data.subspan(*n);
    position += *n;
  }
  co_return ok();
}

}  // namespace

partition_log::partition_log(std::string dir, log_config config, flusher& f) noexcept
    : _dir(std::move(dir)), _config(config), _flusher(f) {}

partition_log::~partition_log() {
  RINGLOG_ASSERT(_waiters.empty() && _pending.empty(),
                 "partition log {} destroyed with work in flight (close() it first)", _dir);
  RINGLOG_ASSERT(!_in_flusher, "partition log {} destroyed while queued for a flush", _dir);
  if (_dir_fd >= 0) ::close(_dir_fd);
}

segment* partition_log::find_segment(int64_t offset) noexcept {
  auto it = std::upper_bound(
      _segments.begin(), _segments.end(), offset,
      [](int64_t o, const std::unique_ptr<segment>& s) { return o < s->base_offset(); });
  return it == _segments.begin() ? nullptr : std::prev(it)->get();
}

status partition_log::roll(int64_t now_ms) {
  if (auto st = active().seal(); !st) return st;
  auto next = segment::create(_dir, _next_offset, _config, now_ms);
  if (!next) return std::move(next).error();
  _segments.push_back(std::move(*next));
  // The new file's directory entry must be durable before any of its data
  // counts as durable.
  _dir_dirty = true;
  RINGLOG_DEBUG("{}: rolled to segment {}", _dir, _next_offset);
  return ok();
}

task<result<append_info>> partition_log::append(std::span<std::byte> batch, durability d) {
  if (_offline) co_return *_offline;
  auto view = record::record_batch_view::parse(
      batch, {.max_batch_bytes = static_cast<size_t>(_config.max_message_bytes)});
  if (!view) co_return std::move(view).error();
  RINGLOG_ASSERT(view->size_bytes() == batch.size(), "append takes exactly one batch");

  const int64_t base = _next_offset;
  const int64_t last = base + view->last_offset_delta();
  const int64_t now = wall_ms();
  if (!active().can_fit(batch.size(), last, now)) {
    if (auto st = roll(now); !st) co_return st.error();
  }
  record::set_base_offset(batch, base);
  segment& seg = active();
  const uint64_t at = seg.reserve(batch.size(), last, view->max_timestamp());
  _next_offset = last + 1;

  const uint64_t seq = _pending_first_seq + _pending.size();
  _pending.push_back({position{last + 1, seg.base_offset(), at + batch.size()}, false});
  std::shared_ptr<segment_file> file = seg.file();
  if (status w = co_await write_all(file, batch, at); !w) {
    go_offline(w.error());
    co_return w.error();
  }
  write_completed(seq);
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
  if (moved) _flusher.mark_dirty(this);
}

partition_log::sync_plan partition_log::begin_sync() {
  sync_plan plan;
  plan.target = _written;
  plan.files.swap(_unsynced);
  plan.sync_dir = _dir_dirty;
  _dir_dirty = false;
  return plan;
}

void partition_log::end_sync(const sync_plan& plan, const status& st) {
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

task<status> partition_log::flush() {
  if (_offline) co_return *_offline;
  if (_durable.offset >= _written.offset && !_dir_dirty) co_return ok();
  durable_waiter waiter{this, _written.offset, {}, {}};
  co_return co_await waiter;
}

task<status> partition_log::close() {
  // Appends in flight finish first: their writes complete, then flush.
  while (!_pending.empty() && !_offline) co_await yield();
  status st = co_await flush();
  while (!_waiters.empty()) co_await yield();
  while (_in_flusher) co_await yield();
  if (!_segments.empty() && !_offline) {
    if (status s = active().seal(); !s && st) st = s;
  }
  co_return st;
}

task<result<read_slice>> partition_log::read(int64_t offset, uint32_t max_bytes, read_bound bound) {
  const position end = bound == read_bound::durable ? _durable : _written;
  if (offset < _log_start_offset || offset > end.offset) {
    co_return make_error(errc::offset_out_of_range, "read",
                         fmt::format("{}: offset {} is outside [{}, {}]", _dir, offset,
                                     _log_start_offset, end.offset));
  }
  if (offset == end.offset) co_return read_slice{};

  segment* seg = find_segment(offset);
  RINGLOG_ASSERT(seg != nullptr, "{}: no segment holds offset {} >= log start {}", _dir, offset,
                 _log_start_offset);
  std::shared_ptr<segment_file> file = seg->file();
  const uint64_t limit = seg->base_offset() < end.segment_base ? seg->size() : end.bytes;
  uint64_t pos = seg->offsets().lookup(offset).position;

  // Walk batch headers from the index entry to the batch holding `offset`.
  // The segment may go away during the reads; only `file` is used past here.
  constexpr size_t k_header_probe = record::k_last_offset_delta_pos + 4;
  std::array<std::byte, 4096> buf;
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
      if (length < static_cast<int32_t>(record::k_batch_header_bytes - record::k_log_overhead)) {
        co_return make_error(
            errc::corrupt_segment, "read",
            fmt::format("{}: batch length {} at position {}", file->path, length, pos + off));
      }
      const uint64_t size = static_cast<uint64_t>(length) + record::k_log_overhead;
      if (batch_base + delta >= offset) {
        const uint64_t at = pos + off;
        const uint64_t take = std::min<uint64_t>(limit - at, std::max<uint64_t>(max_bytes, size));
        co_return read_slice{file, at, static_cast<uint32_t>(take)};
      }
      off += size;
    }
    pos += off;
  }
  co_return make_error(
      errc::offset_out_of_range, "read",
      fmt::format("{}: offset {} not found below position {}", _dir, offset, limit));
}

}  // namespace ringlog::storage
