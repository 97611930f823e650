#include "engine/log/cleaner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <string>
#include <utility>

#include "base/bytes.h"
#include "base/log.h"
#include "base/saturating.h"
#include "base/varint.h"
#include "engine/log/errc.h"
#include "engine/record/batch_header.h"
#include "engine/record/compression.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/timer.h"
#include "engine/runtime/when_all.h"

namespace ringlog::storage {
namespace {

// Reads of a log: compaction leaves offset gaps.
constexpr record::validate_options k_log_read{.allow_offset_gaps = true};
constexpr std::string_view k_cleaned = ".cleaned";
constexpr std::string_view k_swap = ".swap";
constexpr std::string_view k_deleted = ".deleted";
// The largest segment file: positions in the offset index are int32.
constexpr uint64_t k_segment_bytes_max = static_cast<uint64_t>(INT32_MAX);

// The batches of one segment file, in order, read a chunk at a time through
// io_uring. next() hands out whole batches framed by their length (not yet
// validated); a span stays valid until the next refill().
class batch_reader {
 public:
  batch_reader(std::shared_ptr<segment_file> file, uint64_t start, uint64_t end, size_t chunk)
      : _file(std::move(file)),
        _buf(std::max<size_t>(chunk, record::k_batch_header_bytes)),
        _batch_pos(start),
        _read_pos(start),
        _limit(end) {}

  // The next whole batch in the buffer, or nullopt when the buffer holds
  // none: refill(), unless exhausted().
  result<std::optional<std::span<const std::byte>>> next() {
    using answer = std::optional<std::span<const std::byte>>;
    const size_t avail = _end - _begin;
    if (avail < record::k_log_overhead) return answer();
    auto size = record::record_batch_view::peek_size(std::span(_buf.data() + _begin, avail));
    if (!size) {
      return make_error(errc::corrupt_segment, "clean",
                        fmt::format("{}: no batch at position {}: {}", _file->path, _batch_pos,
                                    size.error().message()));
    }
    if (*size > avail) {
      _need = *size;
      return answer();
    }
    std::span<const std::byte> batch(_buf.data() + _begin, *size);
    _begin += *size;
    _batch_pos += *size;
    return answer(batch);
  }

  // Reads the next chunk; returns the bytes read.
  task<result<size_t>> refill() {
    if (_begin > 0) {
      std::copy(_buf.begin() + static_cast<ptrdiff_t>(_begin),
                _buf.begin() + static_cast<ptrdiff_t>(_end), _buf.begin());
      _end -= _begin;
      _begin = 0;
    }
    if (_need > _buf.size()) _buf.resize(_need);
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(_buf.size() - _end, _limit - _read_pos));
    if (want == 0) co_return size_t{0};
    auto n = co_await io::read(_file->fd, std::span(_buf.data() + _end, want), _read_pos);
    if (!n) co_return std::move(n).error();
    if (*n == 0) _limit = _read_pos;  // the file is shorter than it was
    _end += *n;
    _read_pos += *n;
    co_return *n;
  }

  bool exhausted() const noexcept { return _read_pos >= _limit; }
  // Bytes left that do not make a whole batch (after exhausted()).
  size_t leftover() const noexcept { return _end - _begin; }
  // The file position after the last batch handed out.
  uint64_t position() const noexcept { return _batch_pos; }
  const std::string& path() const noexcept { return _file->path; }

 private:
  std::shared_ptr<segment_file> _file;
  std::vector<std::byte> _buf;
  size_t _begin = 0;
  size_t _end = 0;
  size_t _need = 0;
  uint64_t _batch_pos;
  uint64_t _read_pos;
  uint64_t _limit;
};

error corrupt(const std::string& path, uint64_t position, const error& why) {
  return make_error(errc::corrupt_segment, "clean",
                    fmt::format("{}: batch at position {}: {}", path, position, why.message()));
}

int64_t wrapping_add(int64_t a, int64_t b) noexcept {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// A record's own timestamp (baseTimestamp + delta), whatever the batch's
// timestamp type and whether its baseTimestamp holds a delete horizon.
int64_t raw_timestamp(const record::record_batch_view& batch, const record::record_view& r) {
  return wrapping_add(batch.base_timestamp(), r.timestamp_delta());
}

struct header_fields {
  int64_t base_offset;
  int32_t partition_leader_epoch;
  uint16_t attributes;
  int32_t last_offset_delta;
  int64_t base_timestamp;
  int64_t max_timestamp;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  int32_t records_count;
};

// Fills the 61-byte header of the batch in `batch` (records already after
// it) and its CRC.
void write_header(std::span<std::byte> batch, const header_fields& f) {
  std::byte* h = batch.data();
  store_be64(h + record::k_base_offset_pos, static_cast<uint64_t>(f.base_offset));
  store_be32(h + record::k_batch_length_pos,
             static_cast<uint32_t>(batch.size() - record::k_log_overhead));
  store_be32(h + record::k_partition_leader_epoch_pos,
             static_cast<uint32_t>(f.partition_leader_epoch));
  h[record::k_magic_pos] = static_cast<std::byte>(record::k_magic_v2);
  store_be16(h + record::k_attributes_pos, f.attributes);
  store_be32(h + record::k_last_offset_delta_pos, static_cast<uint32_t>(f.last_offset_delta));
  store_be64(h + record::k_base_timestamp_pos, static_cast<uint64_t>(f.base_timestamp));
  store_be64(h + record::k_max_timestamp_pos, static_cast<uint64_t>(f.max_timestamp));
  store_be64(h + record::k_producer_id_pos, static_cast<uint64_t>(f.producer_id));
  store_be16(h + record::k_producer_epoch_pos, static_cast<uint16_t>(f.producer_epoch));
  store_be32(h + record::k_base_sequence_pos, static_cast<uint32_t>(f.base_sequence));
  store_be32(h + record::k_records_count_pos, static_cast<uint32_t>(f.records_count));
  store_be32(h + record::k_crc_pos, record::compute_batch_crc(batch));
}

// Re-encodes one record with a new timestamp delta; the other fields are
// copied as they are (the record was validated by record_iterator).
void encode_record(const record::record_view& r, int64_t timestamp_delta,
                   std::vector<std::byte>& out) {
  byte_reader in(r.bytes());
  (void)in.read_varint();  // the record's length
  const int8_t attributes = in.read_i8();
  (void)in.read_varlong();  // its old timestamp delta
  const int32_t offset_delta = in.read_varint();
  RINGLOG_ASSERT(in.ok() && offset_delta == r.offset_delta(), "record at offset {} changed",
                 r.offset());
  const auto rest = r.bytes().subspan(in.position());
  const size_t body = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta) + rest.size();
  byte_writer w(out);
  w.write_varint(static_cast<int32_t>(body));
  w.write_i8(attributes);
  w.write_varlong(timestamp_delta);
  w.write_varint(offset_delta);
  w.write_bytes(rest);
}

// The batch `source` holding only `kept` (in order), as Kafka's cleaner
// rebuilds one: same base offset, lastOffsetDelta, leader epoch, producer
// fields, codec and timestamp type; baseTimestamp is the first kept record's
// timestamp, or the delete horizon (with attribute bit 6) when one is given.
status encode_batch(const record::record_batch_view& source,
                    std::span<const record::record_view> kept, std::optional<int64_t> horizon,
                    std::vector<std::byte>& records, std::vector<std::byte>& out) {
  RINGLOG_ASSERT(!kept.empty(), "a rebuilt batch holds records");
  const bool log_append_time = source.ts_type() == record::timestamp_type::log_append_time;
  const int64_t base_timestamp = horizon ? *horizon : raw_timestamp(source, kept.front());
  int64_t max_timestamp = -1;
  records.clear();
  for (const record::record_view& r : kept) {
    const int64_t ts = raw_timestamp(source, r);
    max_timestamp = std::max(max_timestamp, ts);
    encode_record(r, wrapping_add(ts, -base_timestamp), records);
  }
  // Under LogAppendTime readers take every record's time from maxTimestamp.
  if (log_append_time) max_timestamp = source.max_timestamp();
  out.assign(record::k_batch_header_bytes, std::byte{0});
  if (auto st = record::compress(source.codec(), records, out); !st) return st;
  if (out.size() - record::k_log_overhead > static_cast<size_t>(INT32_MAX)) {
    return error::from_errno(EFBIG, "clean", "rebuilt batch larger than 2 GiB");
  }
  const record::batch_attributes attributes{source.codec(), source.ts_type(),
                                            source.is_transactional(), source.is_control(),
                                            horizon.has_value()};
  write_header(out, {.base_offset = source.base_offset(),
                     .partition_leader_epoch = source.partition_leader_epoch(),
                     .attributes = attributes.encode(),
                     .last_offset_delta = source.last_offset_delta(),
                     .base_timestamp = base_timestamp,
                     .max_timestamp = max_timestamp,
                     .producer_id = source.producer_id(),
                     .producer_epoch = source.producer_epoch(),
                     .base_sequence = source.base_sequence(),
                     .records_count = static_cast<int32_t>(kept.size())});
  return ok();
}

// `source` without its records (Kafka's writeEmptyHeader): the offsets,
// producer fields and max timestamp stay, so producer state and the segment's
// end offset survive; uncompressed, baseTimestamp -1.
void encode_empty_batch(const record::record_batch_view& source, std::vector<std::byte>& out) {
  out.assign(record::k_batch_header_bytes, std::byte{0});
  const record::batch_attributes attributes{record::compression::none, source.ts_type(),
                                            source.is_transactional(), source.is_control(), false};
  write_header(out, {.base_offset = source.base_offset(),
                     .partition_leader_epoch = source.partition_leader_epoch(),
                     .attributes = attributes.encode(),
                     .last_offset_delta = source.last_offset_delta(),
                     .base_timestamp = -1,
                     .max_timestamp = source.max_timestamp(),
                     .producer_id = source.producer_id(),
                     .producer_epoch = source.producer_epoch(),
                     .base_sequence = source.base_sequence(),
                     .records_count = 0});
}

std::string file_path(const std::string& dir, int64_t base, const char* ext,
                      std::string_view suffix) {
  return dir + "/" + segment_file_name(base, ext) + std::string(suffix);
}

// Unlinks the cleaner's temporary files of a segment (missing ones are fine):
// the .log first, so a `.log.swap` never outlives the indexes it commits.
void remove_temporary_files(const std::string& dir, int64_t base, std::string_view suffix) {
  for (const char* ext : {".log", ".index", ".timeindex"}) {
    const std::string path = file_path(dir, base, ext, suffix);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      RINGLOG_WARN("cannot remove {}: {}", path, strerrordesc_np(errno));
    }
  }
}

task<status> sync_file(int fd) { co_return co_await io::fdatasync(fd); }

// Writes what `buf` holds at `buf_position` of the segment's .log (io::write
// may be short: the rest stays buffered); returns the bytes written. A write
// of 0 bytes is an error: the loop would not end.
task<result<size_t>> write_buffered(segment& seg, std::vector<std::byte>& buf,
                                    uint64_t& buf_position) {
  auto w = co_await io::write(seg.fd(), buf, buf_position);
  if (!w) co_return std::move(w).error();
  if (*w == 0) co_return error::from_errno(EIO, "write", seg.file()->path + ": wrote 0 bytes");
  buf.erase(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*w));
  buf_position += *w;
  co_return *w;
}

task<void> remove_files_later(std::vector<std::string> paths, int64_t delay_ms) {
  if (delay_ms > 0) (void)co_await sleep_for_ms(delay_ms);
  for (const auto& p : paths) {
    if (auto st = co_await io::unlinkat(AT_FDCWD, p.c_str());
        !st && st.error().sys_errno() != ENOENT) {
      RINGLOG_WARN("cannot remove {}: {}", p, st.error().message());
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- pieces

// A token bucket over the cleaner's reads and writes.
class log_cleaner::throttle {
 public:
  explicit throttle(double bytes_per_second) noexcept
      : _rate(bytes_per_second),
        // A burst of 50 ms of the rate, at least one chunk's worth.
        _burst(std::max(bytes_per_second / 20, 64.0 * 1024)),
        _tokens(_burst),
        _last_ns(monotonic_ns()) {}

  // Takes `bytes`; returns how long to sleep (ns) to stay under the rate.
  int64_t take(uint64_t bytes) noexcept {
    const int64_t now = monotonic_ns();
    _tokens = std::min(_burst, _tokens + static_cast<double>(now - _last_ns) * 1e-9 * _rate);
    _last_ns = now;
    _tokens -= static_cast<double>(bytes);
    return _tokens >= 0 ? 0 : static_cast<int64_t>(-_tokens / _rate * 1e9);
  }

 private:
  double _rate;
  double _burst;
  double _tokens;
  int64_t _last_ns;
};

// Where a log stands: its dirty section and whether it needs cleaning.
struct log_cleaner::assessment {
  int64_t first_dirty = 0;
  // The base of the first segment the cleaner may not touch (active, not
  // wholly durable, or newer than min.compaction.lag.ms).
  int64_t uncleanable = 0;
  uint64_t clean_bytes = 0;
  uint64_t dirty_bytes = 0;
  double ratio = 0;
  bool past_max_lag = false;
  bool horizon_due = false;

  bool needs_cleaning(const log_config& c) const noexcept {
    return (dirty_bytes > 0 && (ratio > c.min_cleanable_dirty_ratio || past_max_lag)) ||
           horizon_due;
  }
};

// Consecutive closed segments cleaned into one.
struct log_cleaner::group {
  struct member {
    int64_t base;
    uint64_t size;
    std::shared_ptr<segment_file> file;  // identity, and reads that outlive the segment
  };
  std::vector<member> members;
  int64_t end_offset = 0;  // the base offset of the segment after the group
};

// The segment being written: batches gather in `buf` and go to the file a
// chunk at a time.
struct log_cleaner::output {
  std::unique_ptr<segment> seg;
  std::vector<std::byte> buf;
  uint64_t buf_position = 0;  // file position of buf[0]
};

const clock& log_cleaner::default_clock() {
  static const system_clock clock;
  return clock;
}

log_cleaner::log_cleaner(cleaner_config config, const clock& wall) : _config(config), _clock(wall) {
  RINGLOG_ASSERT(_config.dedupe_buffer_bytes >= 2 * offset_map::entry_bytes,
                 "dedupe buffer of {} bytes", _config.dedupe_buffer_bytes);
  if (_config.io_max_bytes_per_second > 0 &&
      _config.io_max_bytes_per_second < std::numeric_limits<double>::max()) {
    _throttle = std::make_unique<throttle>(_config.io_max_bytes_per_second);
  }
}

log_cleaner::~log_cleaner() {
  RINGLOG_ASSERT(_working == nullptr, "log cleaner destroyed during a clean");
}

void log_cleaner::add(partition_log* log, int64_t first_dirty_offset) {
  _logs[log] =
      log_state{.first_dirty_offset = first_dirty_offset, .truncations = log->_truncations};
}

task<void> log_cleaner::remove(partition_log* log) {
  if (_working == log) {
    _abort_current = true;
    if (_working_cancel != nullptr) _working_cancel->cancel();
    while (_working == log) co_await yield();
  }
  _logs.erase(log);
}

std::optional<int64_t> log_cleaner::first_dirty_offset(const partition_log* log) const {
  auto it = _logs.find(const_cast<partition_log*>(log));
  if (it == _logs.end()) return std::nullopt;
  return it->second.first_dirty_offset;
}

void log_cleaner::stop() {
  _stopped = true;
  if (_working_cancel != nullptr) _working_cancel->cancel();
}

task<status> log_cleaner::pace(uint64_t bytes) {
  if (!_throttle) co_return ok();
  const int64_t wait_ns = _throttle->take(bytes);
  if (wait_ns <= 0) co_return ok();
  RINGLOG_ASSERT(_working_cancel != nullptr, "cleaner I/O outside a clean");
  co_return co_await sleep_for(std::chrono::nanoseconds(wait_ns)).with_cancel(*_working_cancel);
}

// ---------------------------------------------------------------- choosing

namespace {

struct range {
  int64_t first_dirty;
  int64_t uncleanable;
  uint64_t clean_bytes;
  uint64_t dirty_bytes;
};

// The dirty section of `log` now, and the bytes before and in it; no I/O.
// Only segments wholly below the durable end and not active may be cleaned;
// min.compaction.lag.ms holds back the first dirty one with a record newer
// than the lag, and all after it.
range dirty_range(partition_log& log, int64_t checkpoint, int64_t now_ms) {
  const log_config& c = log.config();
  const size_t segs = log.segment_count();
  range r{};
  // A checkpoint outside the log (truncation, DeleteRecords, a log replaced)
  // starts over from the log start, as Kafka does.
  r.first_dirty = checkpoint;
  if (r.first_dirty < log.log_start_offset() || r.first_dirty > log.log_end_offset()) {
    r.first_dirty = log.log_start_offset();
  }
  const int64_t durable = log.durable_end();
  r.uncleanable = log.segment_at(segs - 1).base_offset();
  for (size_t i = 0; i + 1 < segs; ++i) {
    const segment& s = log.segment_at(i);
    const int64_t next = log.segment_at(i + 1).base_offset();
    if (next > durable) {
      r.uncleanable = std::min(r.uncleanable, s.base_offset());
      break;
    }
    if (c.min_compaction_lag_ms > 0 && next > r.first_dirty &&
        s.largest_timestamp() > now_ms - c.min_compaction_lag_ms) {
      r.uncleanable = std::min(r.uncleanable, s.base_offset());
      break;
    }
  }
  for (size_t i = 0; i < segs; ++i) {
    const segment& s = log.segment_at(i);
    const int64_t next =
        i + 1 < segs ? log.segment_at(i + 1).base_offset() : std::numeric_limits<int64_t>::max();
    if (s.base_offset() < r.first_dirty) r.clean_bytes += s.size();
    if (s.base_offset() < r.uncleanable && next > r.first_dirty) r.dirty_bytes += s.size();
  }
  if (r.uncleanable <= r.first_dirty) r.dirty_bytes = 0;
  return r;
}

}  // namespace

task<result<log_cleaner::assessment>> log_cleaner::assess(partition_log& log, const log_state& st,
                                                          int64_t now_ms) {
  const int64_t checkpoint =
      st.truncations == log._truncations ? st.first_dirty_offset : log.log_start_offset();
  const range r = dirty_range(log, checkpoint, now_ms);
  assessment a;
  a.first_dirty = r.first_dirty;
  a.uncleanable = r.uncleanable;
  a.clean_bytes = r.clean_bytes;
  a.dirty_bytes = r.dirty_bytes;
  const uint64_t total = r.clean_bytes + r.dirty_bytes;
  a.ratio = total == 0 ? 0.0 : static_cast<double>(r.dirty_bytes) / static_cast<double>(total);
  a.horizon_due = st.next_delete_horizon_ms <= now_ms;

  // max.compaction.lag.ms: the first batch of each closed dirty segment.
  // Segments opened from disk learn it with one header read, once.
  const int64_t max_lag = log.config().max_compaction_lag_ms;
  if (max_lag >= std::numeric_limits<int64_t>::max() || a.dirty_bytes == 0) co_return a;
  struct probe {
    int64_t base;
    std::shared_ptr<segment_file> file;
  };
  std::vector<probe> unknown;
  int64_t earliest = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i + 1 < log.segment_count(); ++i) {
    const segment& s = log.segment_at(i);
    if (log.segment_at(i + 1).base_offset() <= a.first_dirty || s.size() == 0) continue;
    if (s.first_batch_timestamp() >= 0) {
      if (s.first_batch_timestamp() > 0) earliest = std::min(earliest, s.first_batch_timestamp());
    } else {
      unknown.push_back({s.base_offset(), s.file()});
    }
  }
  for (const probe& p : unknown) {
    std::byte header[record::k_batch_header_bytes];
    auto n = co_await io::read(p.file->fd, header, 0);
    if (!n) co_return std::move(n).error();
    if (*n < sizeof header) continue;
    const int64_t ts = static_cast<int64_t>(load_be64(header + record::k_max_timestamp_pos));
    if (ts > 0) earliest = std::min(earliest, ts);
    for (size_t i = 0; i < log.segment_count(); ++i) {
      if (log.segment_at(i).file() == p.file) {
        log._segments[i]->note_first_batch_timestamp(ts);
        break;
      }
    }
  }
  a.past_max_lag = earliest < now_ms - std::max<int64_t>(max_lag, 0);
  co_return a;
}

task<result<std::optional<clean_report>>> log_cleaner::clean_once() {
  using answer = std::optional<clean_report>;
  if (_stopped) co_return answer();
  const int64_t now = _clock.wall_ms();
  std::vector<partition_log*> candidates;
  for (auto& [log, st] : _logs) {
    if (log->config().compacted() && !log->offline() && now >= st.retry_after_ms) {
      candidates.push_back(log);
    }
  }
  partition_log* best = nullptr;
  std::optional<assessment> best_a;
  for (partition_log* log : candidates) {
    auto it = _logs.find(log);  // removed meanwhile?
    if (it == _logs.end()) continue;
    _working = log;
    _abort_current = false;
    auto a = co_await assess(*log, it->second, now);
    _working = nullptr;
    if (_stopped) co_return answer();
    if (_abort_current) continue;
    if (!a) {
      RINGLOG_WARN("{}: cannot assess for cleaning: {}", log->dir(), a.error().message());
      continue;
    }
    if (!a->needs_cleaning(log->config())) continue;
    if (!best_a || a->ratio > best_a->ratio) {
      best = log;
      best_a = *a;
    }
  }
  if (best == nullptr) co_return answer();
  auto it = _logs.find(best);
  if (it == _logs.end()) co_return answer();
  // A reference, not the iterator: add() may rehash the map meanwhile; the
  // entry stays (remove() waits while _working is set).
  log_state& st = it->second;

  cancel_source cancel;
  _working = best;
  _working_cancel = &cancel;
  _abort_current = false;
  auto r = co_await run_clean(*best, st, *best_a, now);
  _working = nullptr;
  _working_cancel = nullptr;
  if (!r) {
    st.retry_after_ms = now + _config.failed_log_retry_ms;
    RINGLOG_ERROR("{}: cleaning failed, retrying in {} ms: {}", best->dir(),
                  _config.failed_log_retry_ms, r.error().message());
    co_return r.error();
  }
  co_return answer(std::move(*r));
}

task<result<clean_report>> log_cleaner::clean(partition_log& log) {
  auto it = _logs.find(&log);
  RINGLOG_ASSERT(it != _logs.end(), "{}: clean() of a log never added", log.dir());
  RINGLOG_ASSERT(_working == nullptr, "{}: clean() during another clean", log.dir());
  if (_stopped) {
    clean_report aborted;
    aborted.aborted = true;
    co_return aborted;
  }
  const int64_t now = _clock.wall_ms();
  // A reference, not the iterator: add() may rehash the map meanwhile.
  log_state& st = it->second;
  cancel_source cancel;
  _working = &log;
  _working_cancel = &cancel;
  _abort_current = false;
  auto a = co_await assess(log, st, now);
  if (!a) {
    _working = nullptr;
    _working_cancel = nullptr;
    co_return std::move(a).error();
  }
  auto r = co_await run_clean(log, st, *a, now);
  _working = nullptr;
  _working_cancel = nullptr;
  co_return r;
}

// ---------------------------------------------------------------- cleaning

task<result<clean_report>> log_cleaner::run_clean(partition_log& log, log_state& st, assessment a,
                                                  int64_t now_ms) {
  const log_config config = log.config();
  const uint64_t truncations = log._truncations;
  if (st.truncations != truncations) {
    st.first_dirty_offset = log.log_start_offset();
    st.truncations = truncations;
  }
  // The range again: the log may have moved while other logs were assessed.
  const range r = dirty_range(log, st.first_dirty_offset, now_ms);
  a.first_dirty = r.first_dirty;
  a.uncleanable = r.uncleanable;
  clean_report report;
  report.first_dirty_offset = a.first_dirty;

  if (!_map) _map.emplace(_config.dedupe_buffer_bytes, _config.dedupe_buffer_load_factor);
  _map->clear();
  // With nothing dirty (a clean for expired tombstones) the map is empty and
  // covers the clean section.
  _map->update_latest_offset(a.first_dirty - 1);
  if (a.uncleanable > a.first_dirty) {
    if (auto s = co_await build_offset_map(log, a, report); !s) co_return s.error();
  }
  if (aborting()) {
    report.aborted = true;
    co_return report;
  }
  const int64_t end = _map->latest_offset() + 1;
  report.end_offset = end;
  report.map_entries = _map->size();
  if (report.map_full && end <= a.first_dirty) {
    co_return make_error(
        errc::corrupt_segment, "clean",
        fmt::format("{}: the dedupe buffer ({} keys) cannot map one batch at offset {}; raise "
                    "log.cleaner.dedupe.buffer.size",
                    log.dir(), _map->max_entries(), a.first_dirty));
  }

  int64_t next_horizon = std::numeric_limits<int64_t>::max();
  int64_t from = std::numeric_limits<int64_t>::min();
  for (;;) {
    if (aborting()) {
      report.aborted = true;
      break;
    }
    if (log._truncations != truncations) {
      // The map may name records the truncation removed: stop here; the
      // next clean maps the log again from its start.
      report.aborted = true;
      break;
    }
    // The next group, from the segments as they are now (Kafka's
    // groupSegmentsBySize): consecutive closed segments below the end
    // offset, together no larger than a segment and its indexes, spanning
    // at most 2^31-1 offsets.
    group g;
    {
      const size_t n = log._segments.size();
      size_t i = 0;
      while (i < n && log._segments[i]->base_offset() < from) ++i;
      // A segment left with temporary names by a failed rename is not
      // cleaned again until recovery finishes it.
      while (i + 1 < n && !log._segments[i]->has_final_names()) ++i;
      const uint64_t max_bytes =
          std::min<uint64_t>(static_cast<uint64_t>(config.segment_bytes), k_segment_bytes_max);
      const auto max_index = static_cast<uint64_t>(config.index_max_bytes);
      uint64_t bytes = 0;
      uint64_t offset_index_bytes = 0;
      uint64_t time_index_bytes = 0;
      for (size_t j = i; j + 1 < n; ++j) {
        segment& s = *log._segments[j];
        if (s.base_offset() >= end || !s.has_final_names()) break;
        const int64_t last = log._segments[j + 1]->base_offset() - 1;
        if (!g.members.empty() && (bytes + s.size() > max_bytes ||
                                   offset_index_bytes + s.offsets().size_bytes() > max_index ||
                                   time_index_bytes + s.times().size_bytes() > max_index ||
                                   (s.size() > 0 && last - g.members.front().base > INT32_MAX))) {
          break;
        }
        g.members.push_back({s.base_offset(), s.size(), s.file()});
        bytes += s.size();
        offset_index_bytes += s.offsets().size_bytes();
        time_index_bytes += s.times().size_bytes();
        g.end_offset = last + 1;
      }
    }
    if (g.members.empty()) break;
    from = g.end_offset;
    auto swapped = co_await clean_group(log, config, g, truncations, now_ms, report, next_horizon);
    if (!swapped) co_return swapped.error();
    if (*swapped) {
      report.groups += 1;
      report.segments_replaced += g.members.size();
    } else if (!aborting()) {
      report.groups_skipped += 1;
    }
  }
  if (log._truncations != truncations) report.aborted = true;
  if (!report.aborted) {
    st.first_dirty_offset = end;
    st.next_delete_horizon_ms = next_horizon;
  }
  if (report.groups > 0 || report.aborted) {
    RINGLOG_INFO(
        "{}: cleaned [{}, {}){}: {} segments into {}, {} of {} records removed ({} tombstones, {} "
        "without key), {} bytes read, {} written, map {} keys{}",
        log.dir(), report.first_dirty_offset, report.end_offset, report.aborted ? " (aborted)" : "",
        report.segments_replaced, report.groups, report.records_removed, report.records_read,
        report.tombstones_removed, report.keyless_removed, report.bytes_read, report.bytes_written,
        report.map_entries, report.map_full ? " (full)" : "");
  }
  co_return report;
}

task<status> log_cleaner::build_offset_map(partition_log& log, const assessment& a,
                                           clean_report& report) {
  // The dirty segments, taken now (their files stay open if they go).
  struct source {
    std::shared_ptr<segment_file> file;
    uint64_t start;
    uint64_t size;
    int64_t next_base;
  };
  std::vector<source> sources;
  for (size_t i = 0; i + 1 < log._segments.size(); ++i) {
    segment& s = *log._segments[i];
    const int64_t next = log._segments[i + 1]->base_offset();
    if (s.base_offset() >= a.uncleanable) break;
    if (next <= a.first_dirty) continue;
    const uint64_t start =
        s.base_offset() < a.first_dirty ? s.offsets().lookup(a.first_dirty).position : 0;
    sources.push_back({s.file(), start, s.size(), next});
  }

  offset_map& map = *_map;
  std::vector<std::byte> scratch;
  for (const source& src : sources) {
    batch_reader reader(src.file, src.start, src.size, _config.io_buffer_bytes);
    for (;;) {
      if (aborting()) co_return ok();
      const uint64_t position = reader.position();
      auto next = reader.next();
      if (!next) co_return std::move(next).error();
      if (!*next) {
        if (reader.exhausted()) break;
        auto n = co_await reader.refill();
        if (!n) co_return std::move(n).error();
        report.bytes_read += *n;
        if (auto s = co_await pace(*n); !s) co_return ok();  // cancelled: aborting
        continue;
      }
      auto batch = record::record_batch_view::parse(**next, k_log_read);
      if (!batch) co_return corrupt(reader.path(), position, batch.error());
      if (batch->last_offset() < a.first_dirty) continue;
      // Control batches map nothing; transactional ones neither: without
      // the transaction index their records may belong to an aborted
      // transaction, and they are kept whole anyway.
      if (!batch->is_control() && !batch->is_transactional()) {
        auto it = record::record_iterator::open(*batch, scratch, k_log_read);
        if (!it) co_return corrupt(reader.path(), position, it.error());
        for (;;) {
          auto r = it->next();
          if (!r) co_return corrupt(reader.path(), position, r.error());
          if (!*r) break;
          const record::record_view& rec = **r;
          if (!rec.key() || rec.offset() < a.first_dirty) continue;
          if (map.full()) {
            // The map covers up to the last batch mapped whole.
            report.map_full = true;
            co_return ok();
          }
          map.put(*rec.key(), rec.offset());
        }
      }
      map.update_latest_offset(batch->last_offset());
      _since_yield += batch->size_bytes();
      if (_since_yield >= _config.yield_bytes) {
        _since_yield = 0;
        co_await yield();
      }
    }
    if (reader.leftover() > 0) {
      co_return make_error(errc::corrupt_segment, "clean",
                           fmt::format("{}: {} bytes at position {} are not a whole batch",
                                       reader.path(), reader.leftover(), reader.position()));
    }
    // Past the last batch (a gap at the segment's end included).
    map.update_latest_offset(src.next_base - 1);
  }
  co_return ok();
}

task<result<std::unordered_map<int64_t, int64_t>>> log_cleaner::last_batches_of_producers(
    const group& g, clean_report& report) {
  // producer id -> base offset of its last batch in the group. Headers only.
  std::unordered_map<int64_t, int64_t> last;
  for (const group::member& m : g.members) {
    batch_reader reader(m.file, 0, m.size, _config.io_buffer_bytes);
    for (;;) {
      if (aborting()) co_return last;
      auto next = reader.next();
      if (!next) co_return std::move(next).error();
      if (!*next) {
        if (reader.exhausted()) break;
        auto n = co_await reader.refill();
        if (!n) co_return std::move(n).error();
        report.bytes_read += *n;
        if (auto s = co_await pace(*n); !s) co_return last;
        continue;
      }
      const std::span<const std::byte> b = **next;
      if (b.size() < record::k_batch_header_bytes) continue;
      const auto pid = static_cast<int64_t>(load_be64(b.data() + record::k_producer_id_pos));
      if (pid >= 0)
        last[pid] = static_cast<int64_t>(load_be64(b.data() + record::k_base_offset_pos));
    }
  }
  co_return last;
}

task<result<bool>> log_cleaner::clean_group(partition_log& log, const log_config& config,
                                            const group& g, uint64_t truncations, int64_t now_ms,
                                            clean_report& report, int64_t& next_horizon) {
  const std::string& dir = log.dir();
  const int64_t base = g.members.front().base;
  auto producers = co_await last_batches_of_producers(g, report);
  if (!producers) co_return std::move(producers).error();
  if (aborting()) co_return false;

  // Leftovers of an earlier attempt in this process (recovery removes those
  // of a crash).
  remove_temporary_files(dir, base, k_cleaned);
  auto created = segment::create(dir, base, config, _clock.wall_ms(), k_cleaned);
  if (!created) co_return std::move(created).error();
  output out{std::move(*created), {}, 0};
  out.buf.reserve(_config.io_buffer_bytes + record::k_batch_header_bytes);

  // Whatever goes wrong before the commit leaves no trace.
  auto give_up = [&] { remove_temporary_files(dir, base, k_cleaned); };

  std::vector<std::byte> scratch;
  std::vector<std::byte> records;
  std::vector<std::byte> rebuilt;
  std::vector<record::record_view> kept;
  offset_map& map = *_map;
  const int64_t mapped_to = map.latest_offset();

  for (size_t k = 0; k < g.members.size(); ++k) {
    const group::member& m = g.members[k];
    batch_reader reader(m.file, 0, m.size, _config.io_buffer_bytes);
    for (;;) {
      if (aborting()) {
        give_up();
        co_return false;
      }
      const uint64_t position = reader.position();
      auto next = reader.next();
      if (!next) {
        give_up();
        co_return std::move(next).error();
      }
      if (!*next) {
        if (reader.exhausted()) break;
        auto n = co_await reader.refill();
        if (!n) {
          give_up();
          co_return std::move(n).error();
        }
        report.bytes_read += *n;
        if (auto s = co_await pace(*n); !s) {
          give_up();
          co_return false;
        }
        continue;
      }
      auto batch = record::record_batch_view::parse(**next, k_log_read);
      if (!batch) {
        give_up();
        co_return corrupt(reader.path(), position, batch.error());
      }
      const bool group_last = k + 1 == g.members.size() && reader.position() == m.size;
      const int32_t count = batch->records_count();
      report.records_read += count;

      // What to write: the batch as it is, rebuilt, empty, or nothing.
      std::span<const std::byte> write;
      int64_t write_max_timestamp = batch->max_timestamp();
      if (batch->is_control() || batch->is_transactional()) {
        // No transactions yet: markers and transactional data stay whole.
        write = batch->bytes();
      } else {
        kept.clear();
        bool tombstone_kept = false;
        const bool retain_tombstones =
            !batch->has_delete_horizon() || now_ms < batch->base_timestamp();
        auto it = record::record_iterator::open(*batch, scratch, k_log_read);
        if (!it) {
          give_up();
          co_return corrupt(reader.path(), position, it.error());
        }
        for (;;) {
          auto r = it->next();
          if (!r) {
            give_up();
            co_return corrupt(reader.path(), position, r.error());
          }
          if (!*r) break;
          const record::record_view& rec = **r;
          bool keep = true;
          if (rec.offset() <= mapped_to) {
            if (!rec.key()) {
              keep = false;
              ++report.keyless_removed;
            } else {
              const bool latest = rec.offset() >= map.get(*rec.key());
              keep = latest && (rec.value().has_value() || retain_tombstones);
              if (latest && !keep) ++report.tombstones_removed;
            }
          }
          if (keep) {
            kept.push_back(rec);
            tombstone_kept = tombstone_kept || !rec.value().has_value();
          }
        }
        report.records_removed += count - static_cast<int64_t>(kept.size());
        std::optional<int64_t> horizon;
        if (batch->has_delete_horizon()) {
          horizon = batch->base_timestamp();
        } else if (tombstone_kept) {
          horizon = add_saturating(now_ms, config.delete_retention_ms);
        }
        if (tombstone_kept) next_horizon = std::min(next_horizon, *horizon);

        if (count > 0 && static_cast<int32_t>(kept.size()) == count &&
            (!tombstone_kept || batch->has_delete_horizon())) {
          write = batch->bytes();
        } else if (!kept.empty()) {
          if (auto s = encode_batch(*batch, kept, horizon, records, rebuilt); !s) {
            give_up();
            co_return s.error();
          }
          auto check = record::record_batch_view::parse(rebuilt, k_log_read);
          RINGLOG_ASSERT(check.has_value(), "rebuilt batch at offset {} does not parse: {}",
                         batch->base_offset(), check.error().message());
          write = rebuilt;
          write_max_timestamp = check->max_timestamp();
        } else {
          const int64_t pid = batch->producer_id();
          const bool producer_last =
              pid >= 0 && producers->count(pid) > 0 && (*producers)[pid] == batch->base_offset();
          if (producer_last || group_last) {
            encode_empty_batch(*batch, rebuilt);
            write = rebuilt;
            ++report.empty_batches_kept;
          }
        }
      }

      if (!write.empty()) {
        if (out.seg->size() + write.size() > k_segment_bytes_max) {
          give_up();
          co_return error::from_errno(
              EFBIG, "clean", fmt::format("{}: cleaned segment {} would pass 2 GiB", dir, base));
        }
        const uint64_t at =
            out.seg->reserve(write.size(), batch->last_offset(), write_max_timestamp);
        RINGLOG_ASSERT(at == out.buf_position + out.buf.size(), "cleaned segment {} out of order",
                       base);
        out.buf.insert(out.buf.end(), write.begin(), write.end());
      }
      _since_yield += batch->size_bytes();
      if (out.buf.size() >= _config.io_buffer_bytes || _since_yield >= _config.yield_bytes) {
        if (out.buf.size() >= _config.io_buffer_bytes) {
          auto w = co_await write_buffered(*out.seg, out.buf, out.buf_position);
          if (!w) {
            give_up();
            co_return std::move(w).error();
          }
          report.bytes_written += *w;
          if (auto s = co_await pace(*w); !s) {
            give_up();
            co_return false;
          }
        } else {
          co_await yield();
        }
        _since_yield = 0;
      }
    }
    if (reader.leftover() > 0) {
      give_up();
      co_return make_error(errc::corrupt_segment, "clean",
                           fmt::format("{}: {} bytes at position {} are not a whole batch",
                                       reader.path(), reader.leftover(), reader.position()));
    }
  }
  while (!out.buf.empty()) {
    auto w = co_await write_buffered(*out.seg, out.buf, out.buf_position);
    if (!w) {
      give_up();
      co_return std::move(w).error();
    }
    report.bytes_written += *w;
  }
  if (aborting()) {
    give_up();
    co_return false;
  }

  // Durable before anything is renamed: the .log and its sealed indexes.
  if (auto s = out.seg->seal(); !s) {
    give_up();
    co_return s.error();
  }
  auto indexes = out.seg->open_indexes_for_sync();
  if (!indexes) {
    give_up();
    co_return std::move(indexes).error();
  }
  {
    std::vector<task<status>> syncs;
    syncs.push_back(sync_file(out.seg->fd()));
    for (const auto& f : *indexes) syncs.push_back(sync_file(f->fd));
    std::vector<status> synced = co_await when_all(std::move(syncs));
    for (status& s : synced) {
      if (!s) {
        give_up();
        co_return s.error();
      }
    }
  }
  step(clean_step::cleaned_written);
  if (aborting()) {
    give_up();
    co_return false;
  }

  // .cleaned -> .swap: the indexes, then the .log, whose rename (durable
  // once the directory is synced) commits the swap.
  if (auto s = out.seg->rename_indexes(k_cleaned, k_swap); !s) {
    remove_temporary_files(dir, base, k_swap);
    give_up();
    co_return s.error();
  }
  step(clean_step::swap_indexes_renamed);
  if (auto s = out.seg->rename_log(k_cleaned, k_swap); !s) {
    remove_temporary_files(dir, base, k_swap);
    give_up();
    co_return s.error();
  }
  if (auto s = co_await fsync_dir_async(log._dir); !s) {
    // Not known to be durable: a crash may or may not finish the swap, and
    // either is a consistent log. Not swapping now is the simple one.
    remove_temporary_files(dir, base, k_swap);
    co_return s.error();
  }
  step(clean_step::swap_committed);

  // From here the swap completes (recovery would complete it too).
  std::vector<std::string> deleted;
  segment* fresh = out.seg.get();
  const std::shared_ptr<segment_file> fresh_file = fresh->file();
  if (!swap_in(log, g, truncations, out.seg, deleted)) {
    // The group changed underneath (retention, truncation): drop the new
    // segment, the .log first so no .swap commits the indexes alone.
    remove_temporary_files(dir, base, k_swap);
    if (auto s = co_await fsync_dir_async(log._dir); !s) co_return s.error();
    co_return false;
  }
  // The old names must be gone for good before the new files take them:
  // otherwise a crash could leave both.
  if (auto s = co_await fsync_dir_async(log._dir); !s) co_return s.error();
  step(clean_step::old_segments_deleted);

  bool present = false;
  for (const auto& s : log._segments) present = present || s->file() == fresh_file;
  if (!present) {
    // Retention or truncation took the new segment meanwhile.
    remove_temporary_files(dir, base, k_swap);
  } else {
    if (auto s = fresh->rename_log(k_swap, ""); !s) co_return s.error();
    step(clean_step::final_log_renamed);
    if (auto s = fresh->rename_indexes(k_swap, ""); !s) co_return s.error();
  }
  // No directory sync here: should these renames be lost, recovery finds the
  // .swap again and finishes it, the replaced segments being gone for good.
  // The log's next roll (or the next swap) syncs the directory anyway.
  step(clean_step::swapped);
  spawn(remove_files_later(std::move(deleted), _config.file_delete_delay_ms),
        "cleaned segment delete");
  co_return true;
}

bool log_cleaner::swap_in(partition_log& log, const group& g, uint64_t truncations,
                          std::unique_ptr<segment>& cleaned, std::vector<std::string>& deleted) {
  if (log._truncations != truncations) return false;
  auto& segs = log._segments;
  const size_t n = g.members.size();
  size_t i = 0;
  while (i < segs.size() && segs[i]->file() != g.members.front().file) ++i;
  // Every member still there, unchanged, in order, none of them active, and
  // the segment after them where it was.
  if (i + n >= segs.size()) return false;
  for (size_t k = 0; k < n; ++k) {
    const segment& s = *segs[i + k];
    if (s.file() != g.members[k].file || s.size() != g.members[k].size ||
        s.base_offset() != g.members[k].base) {
      return false;
    }
  }
  if (segs[i + n]->base_offset() != g.end_offset) return false;

  for (const group::member& m : g.members) {
    for (const char* ext : {".log", ".index", ".timeindex"}) {
      const std::string from = file_path(log._dir, m.base, ext, "");
      std::string to = from + std::string(k_deleted);
      if (::rename(from.c_str(), to.c_str()) == 0) {
        deleted.push_back(std::move(to));
      } else if (errno != ENOENT) {
        // It must not keep its name: the new segment replaces it.
        RINGLOG_WARN("cannot rename {} for deletion ({}); removing it", from,
                     strerrordesc_np(errno));
        if (::unlink(from.c_str()) != 0 && errno != ENOENT) {
          RINGLOG_ERROR("cannot remove {} either: {}", from, strerrordesc_np(errno));
        }
      }
    }
    step(clean_step::old_segment_renamed);
  }

  // The log's ends may point at the end of a replaced segment (the durable
  // end after a roll): they now point at the end of the new one, which ends
  // at the same offset. Nothing points inside the group but a stale
  // visible floor, which the durable end dominates.
  const int64_t new_base = cleaned->base_offset();
  const uint64_t new_size = cleaned->size();
  auto in_group = [&](const partition_log::position& p) {
    return std::any_of(g.members.begin(), g.members.end(),
                       [&](const group::member& m) { return m.base == p.segment_base; });
  };
  for (partition_log::position* p : {&log._written, &log._durable}) {
    if (!in_group(*p)) continue;
    RINGLOG_ASSERT(p->offset >= g.end_offset, "{}: a log end at {} inside the cleaned group",
                   log._dir, p->offset);
    p->segment_base = new_base;
    p->bytes = new_size;
  }
  if (in_group(log._visible_floor)) {
    if (log._visible_floor.offset >= g.end_offset) {
      log._visible_floor = {log._visible_floor.offset, new_base, new_size};
    } else {
      log._visible_floor = log._durable;
    }
  }

  segs.erase(segs.begin() + static_cast<ptrdiff_t>(i),
             segs.begin() + static_cast<ptrdiff_t>(i + n));
  segs.insert(segs.begin() + static_cast<ptrdiff_t>(i), std::move(cleaned));
  return true;
}

}  // namespace ringlog::storage
