#include "engine/record/record.h"

#include <fmt/core.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "engine/record/compression.h"
#include "engine/record/errc.h"

namespace ringlog::record {
namespace {

constexpr std::string_view k_op = "record";

int64_t wrapping_add(int64_t a, int64_t b) noexcept {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

}  // namespace

// ---------------------------------------------------------------- headers

header_range::iterator::iterator(std::span<const std::byte> rest, int32_t left) noexcept
    : _rest(rest), _left(left) {
  if (_left > 0) decode();
}

header_range::iterator& header_range::iterator::operator++() noexcept {
  RINGLOG_ASSERT(_left > 0, "increment past the last header");
  if (--_left > 0) decode();
  return *this;
}

void header_range::iterator::decode() noexcept {
  // record_iterator validated these bytes; failing here is a bug, not input.
  byte_reader r(_rest);
  const int32_t key_length = r.read_varint();
  _current.key = r.read_string_view(static_cast<size_t>(key_length));
  const int32_t value_length = r.read_varint();
  _current.value = value_length < 0
                       ? nullable_bytes{}
                       : nullable_bytes{r.read_bytes(static_cast<size_t>(value_length))};
  RINGLOG_ASSERT(r.ok() && key_length >= 0, "header bytes changed after validation: {}",
                 r.ok() ? "negative key length" : r.failure());
  _rest = _rest.subspan(r.position());
}

// ---------------------------------------------------------------- records

std::string record_iterator::where(size_t pos) const {
  if (_compressed) return fmt::format("byte {} of the decompressed records", pos);
  return fmt::format("batch byte {}", pos + k_records_pos);
}

ringlog::error record_iterator::fail(errc code, std::string detail) {
  _failure.emplace(make_error(code, k_op, std::move(detail)));
  return *_failure;
}

result<record_iterator> record_iterator::open(const record_batch_view& batch,
                                              std::vector<std::byte>& scratch,
                                              const validate_options& options) {
  record_iterator it;
  it._count = batch.records_count();
  it._last_offset_delta = batch.last_offset_delta();
  it._base_offset = batch.base_offset();
  it._base_timestamp = batch.base_timestamp();
  it._max_timestamp = batch.max_timestamp();
  it._log_append_time = batch.ts_type() == timestamp_type::log_append_time;
  it._allow_offset_gaps = options.allow_offset_gaps;
  RINGLOG_ASSERT(it._count >= 0, "record_batch_view with recordsCount {}", it._count);

  const auto compressed = batch.records_bytes();
  if (batch.codec() == compression::none || (compressed.empty() && it._count == 0)) {
    it._records = compressed;
    return it;
  }
  it._compressed = true;
  scratch.clear();
  if (auto s = decompress(batch.codec(), compressed, scratch, options.max_decompressed_bytes); !s) {
    const ringlog::error& e = s.error();
    return make_error(
        static_cast<errc>(e.code()), k_op,
        fmt::format("records of a {}-compressed batch ({} bytes at batch byte {}): {}",
                    to_string(batch.codec()), compressed.size(), k_records_pos, e.detail()));
  }
  it._records = scratch;
  return it;
}

result<std::optional<record_view>> record_iterator::next() {
  if (_failure) return *_failure;
  if (_index == _count) {
    if (_pos != _records.size()) {
      return fail(errc::invalid_record,
                  fmt::format("{} trailing bytes after the last of {} records, at {}",
                              _records.size() - _pos, _count, where(_pos)));
    }
    return std::optional<record_view>{};
  }
  if (_pos == _records.size()) {
    return fail(errc::invalid_record,
                fmt::format("recordsCount is {} but the records end after {}, at {}", _count,
                            _index, where(_pos)));
  }

  byte_reader outer(_records.subspan(_pos));
  const int32_t length = outer.read_varint();
  if (!outer.ok()) {
    return fail(errc::invalid_record,
                fmt::format("record {} at {}: length: {}", _index, where(_pos), outer.failure()));
  }
  if (length < 0) {
    return fail(errc::invalid_record,
                fmt::format("record {} at {}: negative length {}", _index, where(_pos), length));
  }
  if (static_cast<size_t>(length) > outer.remaining()) {
    return fail(errc::invalid_record,
                fmt::format("record {} at {}: length {} but only {} bytes of records remain",
                            _index, where(_pos), length, outer.remaining()));
  }
  const size_t body_pos = _pos + outer.position();
  const auto body = outer.read_bytes(static_cast<size_t>(length));

  // Field positions in messages are relative to the record body.
  auto bad_field = [&](const char* what, int64_t value, size_t at) {
    return fail(errc::invalid_record, fmt::format("record {} at {}: {} {} at body byte {}", _index,
                                                  where(_pos), what, value, at));
  };

  record_view rec;
  byte_reader r(body);
  rec._attributes = r.read_i8();
  rec._timestamp_delta = r.read_varlong();
  rec._offset_delta = r.read_varint();

  size_t at = r.position();
  const int32_t key_length = r.read_varint();
  if (r.ok() && key_length < -1) return bad_field("key length", key_length, at);
  if (key_length >= 0) rec._key = r.read_bytes(static_cast<size_t>(key_length));

  at = r.position();
  const int32_t value_length = r.read_varint();
  if (r.ok() && value_length < -1) return bad_field("value length", value_length, at);
  if (value_length >= 0) rec._value = r.read_bytes(static_cast<size_t>(value_length));

  at = r.position();
  const int32_t header_count = r.read_varint();
  if (r.ok() && header_count < 0) return bad_field("header count", header_count, at);
  const size_t headers_pos = r.position();
  for (int32_t h = 0; h < header_count && r.ok(); ++h) {
    at = r.position();
    const int32_t hk = r.read_varint();
    if (r.ok() && hk < 0) return bad_field("header key length", hk, at);
    r.skip(static_cast<size_t>(hk));
    at = r.position();
    const int32_t hv = r.read_varint();
    if (r.ok() && hv < -1) return bad_field("header value length", hv, at);
    if (hv > 0) r.skip(static_cast<size_t>(hv));
  }
  if (!r.ok()) {
    return fail(errc::invalid_record,
                fmt::format("record {} at {}: declared length {} is shorter than its fields ({} at "
                            "body byte {})",
                            _index, where(_pos), length, r.failure(), r.failure_position()));
  }
  if (r.remaining() != 0) {
    return fail(errc::invalid_record,
                fmt::format("record {} at {}: declared length {} but its fields end after {} bytes",
                            _index, where(_pos), length, r.position()));
  }

  if (!_allow_offset_gaps) {
    if (rec._offset_delta != _index) {
      return fail(errc::invalid_record,
                  fmt::format("record {} at {}: offset delta {}, expected {}", _index, where(_pos),
                              rec._offset_delta, _index));
    }
  } else if (rec._offset_delta <= _previous_offset_delta ||
             rec._offset_delta > _last_offset_delta) {
    return fail(
        errc::invalid_record,
        fmt::format("record {} at {}: offset delta {} outside ({}, {}]: deltas must increase "
                    "up to lastOffsetDelta",
                    _index, where(_pos), rec._offset_delta, _previous_offset_delta,
                    _last_offset_delta));
  }

  const size_t headers_end = body_pos + static_cast<size_t>(length);
  rec._headers = header_range(
      _records.subspan(body_pos + headers_pos, headers_end - body_pos - headers_pos), header_count);
  rec._offset = wrapping_add(_base_offset, rec._offset_delta);
  rec._timestamp =
      _log_append_time ? _max_timestamp : wrapping_add(_base_timestamp, rec._timestamp_delta);
  rec._bytes = _records.subspan(_pos, headers_end - _pos);

  _previous_offset_delta = rec._offset_delta;
  _pos = headers_end;
  ++_index;
  return std::optional<record_view>(rec);
}

status validate_records(const record_batch_view& batch, std::vector<std::byte>& scratch,
                        const validate_options& options) {
  auto it = record_iterator::open(batch, scratch, options);
  if (!it) return std::move(it).error();
  for (;;) {
    auto rec = it->next();
    if (!rec) return std::move(rec).error();
    if (!*rec) return ok();
  }
}

}  // namespace ringlog::record
