#include "tools/dump/segment_walk.h"

#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/crc32c.h"
#include "engine/record/batch_header.h"
#include "engine/record/control_record.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"

namespace ringlog::dump {
namespace {

namespace rec = ringlog::record;

// The smallest legacy (magic 0/1) message after its 12-byte framing: crc 4,
// magic 1, attributes 1, key length 4, value length 4 (FORMATS.md §7).
constexpr int32_t k_legacy_min_length = 14;
constexpr uint64_t k_max_relative_offset = std::numeric_limits<int32_t>::max();
// Reads are the same for every file, so log reads allow compaction's gaps
// (as recovery does); the other limits keep the engine's defaults.
constexpr rec::validate_options k_log_validation{.allow_offset_gaps = true};

bool all_zero(std::span<const std::byte> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// The header fields, straight from the bytes (at least 61 of them): a batch
// whose CRC fails is still shown, which parse() would refuse.
batch_info decode_header(std::span<const std::byte> h, uint64_t position, uint64_t size) {
  const std::byte* p = h.data();
  batch_info b;
  b.position = position;
  b.size = size;
  b.base_offset = static_cast<int64_t>(load_be64(p + rec::k_base_offset_pos));
  b.partition_leader_epoch = static_cast<int32_t>(load_be32(p + rec::k_partition_leader_epoch_pos));
  b.magic = static_cast<int8_t>(p[rec::k_magic_pos]);
  b.crc = load_be32(p + rec::k_crc_pos);
  b.attributes = load_be16(p + rec::k_attributes_pos);
  b.last_offset_delta = static_cast<int32_t>(load_be32(p + rec::k_last_offset_delta_pos));
  b.base_timestamp = static_cast<int64_t>(load_be64(p + rec::k_base_timestamp_pos));
  b.max_timestamp = static_cast<int64_t>(load_be64(p + rec::k_max_timestamp_pos));
  b.producer_id = static_cast<int64_t>(load_be64(p + rec::k_producer_id_pos));
  b.producer_epoch = static_cast<int16_t>(load_be16(p + rec::k_producer_epoch_pos));
  b.base_sequence = static_cast<int32_t>(load_be32(p + rec::k_base_sequence_pos));
  b.records_count = static_cast<int32_t>(load_be32(p + rec::k_records_count_pos));
  return b;
}

// The sequence of the record at offset_delta, wrapping from INT32_MAX to 0 as
// Kafka's DefaultRecordBatch.incrementSequence does; -1 without a producer.
int32_t record_sequence(int32_t base_sequence, int32_t offset_delta) noexcept {
  if (base_sequence < 0) return -1;
  const int64_t s = int64_t{base_sequence} + offset_delta;
  const int64_t max = std::numeric_limits<int32_t>::max();
  return static_cast<int32_t>(s > max ? s - max - 1 : s);
}

class walker {
 public:
  walker(const file_reader& file, std::optional<int64_t> base_offset, const dump_options& options,
         reporter& rep, bool print, std::span<batch_observer* const> observers)
      : _file(file),
        _base_offset(base_offset),
        _options(options),
        _rep(rep),
        _print(print),
        _observers(observers),
        _window(file, options.read_chunk_bytes),
        _expected(base_offset) {}

  result<walk_totals> run() {
    while (_pos < _file.size()) {
      auto more = step();
      if (!more) return std::move(more).error();
      if (!*more) break;
    }
    // Batches are only passed whole, so the walk never ends past the file.
    RINGLOG_ASSERT(_pos <= _file.size(), "{}: walk ended at {} past the size {}", _file.path(),
                   _pos, _file.size());
    _totals.end = _pos;
    return _totals;
  }

 private:
  void report(problem_kind kind, uint64_t position, std::string message) {
    _rep.report({kind, _file.path(), position, {}, {}, std::move(message)});
  }

  // One batch at _pos; false when the walk must stop.
  result<bool> step() {
    const uint64_t size = _file.size();
    const uint64_t left = size - _pos;
    auto head =
        _window.get(_pos, static_cast<size_t>(std::min<uint64_t>(left, rec::k_batch_header_bytes)));
    if (!head) return std::move(head).error();

    if (all_zero(*head)) {
      auto nonzero = first_nonzero(_pos);
      if (!nonzero) return std::move(nonzero).error();
      if (!*nonzero) {
        report(problem_kind::zero_tail, _pos,
               fmt::format("the last {} bytes of the file are zeros, not batches (a preallocated "
                           "or never-written tail)",
                           left));
      } else {
        report(problem_kind::bad_batch_length, _pos,
               fmt::format("{} zero bytes where a batch should start, up to position {} where "
                           "data resumes (a hole: a lost write?); the rest of the file cannot be "
                           "framed",
                           **nonzero - _pos, **nonzero));
      }
      return false;
    }
    if (left < rec::k_log_overhead) {
      report(problem_kind::trailing_bytes, _pos,
             fmt::format("{} bytes left, too few for a batch (its baseOffset and batchLength "
                         "alone take {})",
                         left, rec::k_log_overhead));
      return false;
    }
    const auto length = static_cast<int32_t>(load_be32(head->data() + rec::k_batch_length_pos));
    std::optional<int8_t> magic;
    if (left > rec::k_magic_pos) magic = static_cast<int8_t>((*head)[rec::k_magic_pos]);
    if (magic && *magic != rec::k_magic_v2 && *magic != 0 && *magic != 1) {
      report(problem_kind::bad_magic, _pos,
             fmt::format("magic {} at position {} (batch length field {}): not a record batch "
                         "(magic 2); the rest of the file cannot be framed",
                         *magic, _pos + rec::k_magic_pos, length));
      return false;
    }
    const bool legacy = magic && *magic != rec::k_magic_v2;
    if (legacy) {
      if (length < k_legacy_min_length) {
        report(problem_kind::bad_batch_length, _pos,
               fmt::format("legacy message (magic {}) with length {}: below the smallest legacy "
                           "message ({}); the rest of the file cannot be framed",
                           *magic, length, k_legacy_min_length));
        return false;
      }
    } else if (auto peeked = rec::record_batch_view::peek_size(*head); !peeked) {
      report(problem_kind::bad_batch_length, _pos,
             fmt::format("batch length {} is below {}, the length of a batch with no records: "
                         "not a batch; the rest of the file cannot be framed",
                         length, rec::k_min_batch_length));
      return false;
    }
    const uint64_t batch_size = static_cast<uint64_t>(length) + rec::k_log_overhead;
    if (batch_size > left) {
      report(problem_kind::torn_batch, _pos,
             fmt::format("batch length {} runs past the end of the file (size {})", length, size));
      return false;
    }
    if (legacy) {
      batch_info b;
      b.position = _pos;
      b.size = batch_size;
      b.base_offset = static_cast<int64_t>(load_be64(head->data()));
      b.magic = *magic;
      notify(b, false);
      report(problem_kind::legacy_message, _pos,
             fmt::format("legacy message (magic {}) of {} bytes: not decoded (only magic 2 "
                         "batches are); skipped",
                         *magic, batch_size));
      _pos += batch_size;
      return true;
    }
    // Magic 2 and the whole batch is in the file, so head holds all 61 header bytes.
    batch_info b = decode_header(*head, _pos, batch_size);
    if (auto st = read_batch(b); !st) return st.error();
    _pos += batch_size;
    return true;
  }

  status read_batch(batch_info& b) {
    std::optional<rec::record_batch_view> view;
    std::optional<error> header_error;
    const bool whole = b.size <= _options.batch_bytes_max;
    if (whole) {
      auto bytes = _window.get(b.position, static_cast<size_t>(b.size));
      if (!bytes) return std::move(bytes).error();
      auto parsed = rec::record_batch_view::parse(*bytes, k_log_validation);
      if (parsed) {
        view = *parsed;
        b.computed_crc = b.crc;  // parse() verified it; no second pass over the bytes
      } else {
        header_error = parsed.error();
        b.computed_crc = rec::compute_batch_crc(*bytes);
      }
    } else {
      auto crc = piecewise_crc(b.position + rec::k_crc_range_pos, b.position + b.size);
      if (!crc) return std::move(crc).error();
      b.computed_crc = *crc;
    }
    ++_totals.batches;
    const bool trusted = b.crc_valid();
    if (_print) _rep.batch(_file.path(), b);
    notify(b, trusted);

    if (!trusted) {
      report(problem_kind::crc_mismatch, b.position,
             fmt::format("crc mismatch: stored {:#010x}, computed {:#010x} over positions [{}, "
                         "{}): the batch is corrupt, its records are not decoded",
                         b.crc, b.computed_crc, b.position + rec::k_crc_range_pos,
                         b.position + b.size));
    } else if (!whole) {
      _rep.note(_file.path(), b.position,
                fmt::format("batch of {} bytes is above the {}-byte read limit: its CRC was "
                            "checked piecewise (valid); header checks and records skipped",
                            b.size, _options.batch_bytes_max));
    } else if (header_error) {
      report(problem_kind::invalid_batch, b.position,
             header_error->detail() + " (byte numbers count from the batch start)");
    }
    if (trusted) {
      _totals.records += static_cast<uint64_t>(std::max(b.records_count, 0));
      check_offsets(b);
    }
    if (view && (_options.records || _options.deep)) walk_records(*view, b);
    return ok();
  }

  void check_offsets(const batch_info& b) {
    if (_expected && b.base_offset < *_expected) {
      report(problem_kind::offset_order, b.position,
             _previous_last
                 ? fmt::format("baseOffset {} is not above the previous batch's last offset {}",
                               b.base_offset, *_previous_last)
                 : fmt::format("baseOffset {} is below the segment's base offset {} (from the "
                               "file name)",
                               b.base_offset, *_base_offset));
    }
    if (b.last_offset_delta < 0) return;  // parse() reported it; the offset range is meaningless
    const int64_t last = b.last_offset();
    if (_base_offset && last > *_base_offset &&
        static_cast<uint64_t>(last) - static_cast<uint64_t>(*_base_offset) >
            k_max_relative_offset) {
      report(problem_kind::offset_overflow, b.position,
             fmt::format("lastOffset {} is more than {} above the segment's base offset {}: the "
                         "indexes' int32 relative offsets cannot hold it",
                         last, k_max_relative_offset, *_base_offset));
    }
    _previous_last = last;
    _totals.last_offset = last;
    if (last < std::numeric_limits<int64_t>::max()) _expected = last + 1;
  }

  void walk_records(const rec::record_batch_view& view, const batch_info& b) {
    auto it = rec::record_iterator::open(view, _scratch, k_log_validation);
    if (!it) {
      report(problem_kind::invalid_records, b.position, it.error().detail());
      return;
    }
    for (;;) {
      auto r = it->next();
      if (!r) {
        report(problem_kind::invalid_records, b.position, r.error().detail());
        return;
      }
      if (!*r) return;
      const rec::record_view& rv = **r;
      std::optional<control_info> control;
      if (view.is_control()) control = decode_control(rv, b);
      if (_options.records && _print) {
        _rep.record(_file.path(), {b.position, &rv,
                                   record_sequence(b.base_sequence, rv.offset_delta()), control});
      }
    }
  }

  std::optional<control_info> decode_control(const rec::record_view& rv, const batch_info& b) {
    auto key = rec::parse_control_key(rv.key());
    if (!key) {
      report(problem_kind::invalid_control, b.position,
             fmt::format("record at offset {}: {}", rv.offset(), key.error().detail()));
      return std::nullopt;
    }
    control_info c;
    c.key_version = key->version;
    c.type = static_cast<int16_t>(key->type);
    if (key->type == rec::control_type::commit || key->type == rec::control_type::abort) {
      auto marker = rec::parse_end_txn_marker(rv.value());
      if (!marker) {
        report(problem_kind::invalid_control, b.position,
               fmt::format("record at offset {}: {}", rv.offset(), marker.error().detail()));
      } else {
        c.marker_version = marker->version;
        c.coordinator_epoch = marker->coordinator_epoch;
      }
    }
    return c;
  }

  // CRC-32C of file bytes [from, to), read a chunk at a time.
  result<uint32_t> piecewise_crc(uint64_t from, uint64_t to) {
    uint32_t crc = crc32c(std::span<const std::byte>{});
    for (uint64_t at = from; at < to;) {
      const auto n = static_cast<size_t>(
          std::min<uint64_t>(to - at, std::max<size_t>(_options.read_chunk_bytes, 1)));
      auto chunk = _window.get(at, n);
      if (!chunk) return std::move(chunk).error();
      crc = crc32c_extend(crc, *chunk);
      at += n;
    }
    return crc;
  }

  // The position of the first non-zero byte at or after `from`, or nullopt.
  result<std::optional<uint64_t>> first_nonzero(uint64_t from) {
    const uint64_t size = _file.size();
    for (uint64_t at = from; at < size;) {
      const auto n = static_cast<size_t>(
          std::min<uint64_t>(size - at, std::max<size_t>(_options.read_chunk_bytes, 1)));
      auto chunk = _window.get(at, n);
      if (!chunk) return std::move(chunk).error();
      for (size_t i = 0; i < n; ++i) {
        if ((*chunk)[i] != std::byte{0}) return std::optional<uint64_t>(at + i);
      }
      at += n;
    }
    return std::optional<uint64_t>{};
  }

  void notify(const batch_info& b, bool trusted) {
    for (batch_observer* o : _observers) o->on_batch(b, trusted);
  }

  const file_reader& _file;
  std::optional<int64_t> _base_offset;
  const dump_options& _options;
  reporter& _rep;
  bool _print;
  std::span<batch_observer* const> _observers;
  read_window _window;
  std::vector<std::byte> _scratch;  // decompressed records, reused across batches
  uint64_t _pos = 0;
  // The smallest base offset the next batch may have, and the last offset
  // of the previous trusted batch (absent before the first).
  std::optional<int64_t> _expected;
  std::optional<int64_t> _previous_last;
  walk_totals _totals;
};

}  // namespace

result<walk_totals> walk_segment(const file_reader& file, std::optional<int64_t> base_offset,
                                 const dump_options& options, reporter& rep, bool print,
                                 std::span<batch_observer* const> observers) {
  walker w(file, base_offset, options, rep, print, observers);
  return w.run();
}

}  // namespace ringlog::dump
