#include "engine/record/batch_builder.h"

#include <fmt/core.h>

#include <array>
#include <limits>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/crc32c.h"
#include "base/varint.h"
#include "engine/record/compression.h"
#include "engine/record/errc.h"

namespace ringlog::record {
namespace {

constexpr std::string_view k_op = "batch_builder";
constexpr size_t k_max_int32 = static_cast<size_t>(std::numeric_limits<int32_t>::max());

int32_t length_of(const nullable_bytes& b) {
  if (!b) return -1;
  RINGLOG_ASSERT(b->size() <= k_max_int32, "field of {} bytes does not fit a record", b->size());
  return static_cast<int32_t>(b->size());
}

size_t encoded_size(const nullable_bytes& b) {
  const int32_t n = length_of(b);
  return varint_size(n) + (n > 0 ? static_cast<size_t>(n) : 0);
}

void write_nullable(byte_writer& w, const nullable_bytes& b) {
  w.write_varint(length_of(b));
  if (b) w.write_bytes(*b);
}

}  // namespace

void batch_builder::add(const record_data& record) { add_at(_next_offset_delta, record); }

void batch_builder::add_at(int32_t offset_delta, const record_data& record) {
  RINGLOG_ASSERT(offset_delta >= _next_offset_delta, "offset delta {} after {}", offset_delta,
                 _next_offset_delta - 1);
  RINGLOG_ASSERT(offset_delta < std::numeric_limits<int32_t>::max(),
                 "offset delta {} overflows the batch", offset_delta);
  RINGLOG_ASSERT(record.headers.size() <= k_max_int32, "{} headers", record.headers.size());

  const int64_t timestamp = _options.ts_type == timestamp_type::log_append_time
                                ? _options.log_append_time_ms
                                : record.timestamp_ms;
  if (_count == 0) _base_timestamp = timestamp;
  if (_count == 0 || timestamp > _max_timestamp) _max_timestamp = timestamp;
  const auto timestamp_delta = static_cast<int64_t>(static_cast<uint64_t>(timestamp) -
                                                    static_cast<uint64_t>(_base_timestamp));

  // Size the body first so the length prefix is written once, in place.
  size_t body = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta) +
                encoded_size(record.key) + encoded_size(record.value) +
                varint_size(static_cast<int32_t>(record.headers.size()));
  for (const record_header& h : record.headers) {
    RINGLOG_ASSERT(h.key.size() <= k_max_int32, "header key of {} bytes", h.key.size());
    body += varint_size(static_cast<int32_t>(h.key.size())) + h.key.size() + encoded_size(h.value);
  }
  RINGLOG_ASSERT(body <= k_max_int32, "record of {} bytes does not fit a batch", body);

  _records.reserve(_records.size() + varint_size(static_cast<int32_t>(body)) + body);
  byte_writer w(_records);
  w.write_varint(static_cast<int32_t>(body));
  const size_t body_start = w.size();
  w.write_i8(0);  // record attributes: unused by every Kafka version
  w.write_varlong(timestamp_delta);
  w.write_varint(offset_delta);
  write_nullable(w, record.key);
  write_nullable(w, record.value);
  w.write_varint(static_cast<int32_t>(record.headers.size()));
  for (const record_header& h : record.headers) {
    w.write_varint(static_cast<int32_t>(h.key.size()));
    w.write_string(h.key);
    write_nullable(w, h.value);
  }
  RINGLOG_ASSERT(w.size() - body_start == body, "record body wrote {} bytes, sized {}",
                 w.size() - body_start, body);
  ++_count;
  _next_offset_delta = offset_delta + 1;
}

status batch_builder::build(std::vector<std::byte>& out) const {
  RINGLOG_ASSERT(_count > 0 || _options.last_offset_delta.has_value(),
                 "an empty batch needs an explicit last_offset_delta");
  const int32_t last_delta = _options.last_offset_delta.value_or(_next_offset_delta - 1);
  RINGLOG_ASSERT(last_delta >= _next_offset_delta - 1 && last_delta >= 0,
                 "last_offset_delta {} below the last record's delta {}", last_delta,
                 _next_offset_delta - 1);

  const size_t start = out.size();
  out.resize(start + k_batch_header_bytes);
  if (auto s = compress(_options.codec, _records, out); !s) {
    out.resize(start);
    return s;
  }
  const size_t size = out.size() - start;
  if (size - k_log_overhead > k_max_int32) {
    out.resize(start);
    return make_error(errc::message_too_large, k_op,
                      fmt::format("batch of {} bytes exceeds an int32 batchLength", size));
  }

  const batch_attributes attributes{_options.codec, _options.ts_type, _options.transactional,
                                    _options.control, false};
  std::byte* h = out.data() + start;
  store_be64(h + k_base_offset_pos, static_cast<uint64_t>(_options.base_offset));
  store_be32(h + k_batch_length_pos, static_cast<uint32_t>(size - k_log_overhead));
  store_be32(h + k_partition_leader_epoch_pos,
             static_cast<uint32_t>(_options.partition_leader_epoch));
  h[k_magic_pos] = static_cast<std::byte>(k_magic_v2);
  store_be16(h + k_attributes_pos, attributes.encode());
  store_be32(h + k_last_offset_delta_pos, static_cast<uint32_t>(last_delta));
  store_be64(h + k_base_timestamp_pos, static_cast<uint64_t>(_base_timestamp));
  store_be64(h + k_max_timestamp_pos, static_cast<uint64_t>(_max_timestamp));
  store_be64(h + k_producer_id_pos, static_cast<uint64_t>(_options.producer_id));
  store_be16(h + k_producer_epoch_pos, static_cast<uint16_t>(_options.producer_epoch));
  store_be32(h + k_base_sequence_pos, static_cast<uint32_t>(_options.base_sequence));
  store_be32(h + k_records_count_pos, static_cast<uint32_t>(_count));
  store_be32(h + k_crc_pos,
             crc32c(std::span<const std::byte>(h + k_crc_range_pos, size - k_crc_range_pos)));
  return ok();
}

result<std::vector<std::byte>> batch_builder::build() const {
  std::vector<std::byte> out;
  if (auto s = build(out); !s) return std::move(s).error();
  return out;
}

std::vector<std::byte> build_control_batch(const txn_marker_options& options) {
  RINGLOG_ASSERT(options.type == control_type::commit || options.type == control_type::abort,
                 "transaction marker of control type {}", static_cast<int>(options.type));
  std::array<std::byte, k_control_key_bytes> key{};
  store_be16(key.data(), static_cast<uint16_t>(k_control_key_version));
  store_be16(key.data() + 2, static_cast<uint16_t>(options.type));
  std::array<std::byte, k_end_txn_marker_bytes> value{};
  store_be16(value.data(), static_cast<uint16_t>(k_end_txn_marker_version));
  store_be32(value.data() + 2, static_cast<uint32_t>(options.coordinator_epoch));

  batch_builder builder({.base_offset = options.base_offset,
                         .partition_leader_epoch = options.partition_leader_epoch,
                         .producer_id = options.producer_id,
                         .producer_epoch = options.producer_epoch,
                         .base_sequence = -1,
                         .transactional = true,
                         .control = true});
  builder.add({.key = std::span<const std::byte>(key),
               .value = std::span<const std::byte>(value),
               .timestamp_ms = options.timestamp_ms});
  auto batch = builder.build();
  // Uncompressed and tiny: nothing here can fail.
  RINGLOG_ASSERT(batch.has_value(), "control batch: {}", batch.error().message());
  return std::move(batch).value();
}

}  // namespace ringlog::record
