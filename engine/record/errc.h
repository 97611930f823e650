// The error codes of engine/record: what can be wrong with a RecordBatch v2,
// its records or its compressed stream. Each code maps to exactly one Kafka
// error code (to_kafka_error below), which the protocol edge returns on
// Produce; the engine itself never speaks Kafka codes.
//
// Thread safety: constants and pure functions only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace ringlog::record {

enum class errc {
  // Bytes that fail an integrity check: CRC mismatch, a batchLength below the
  // v2 header size, a magic byte outside 0..2, a compressed stream the codec
  // rejects. Kafka: CORRUPT_MESSAGE (2, retriable: corruption in transit is the
  // usual cause, and a resend fixes it).
  corrupt_message = 1,
  // The buffer ends before the batch its header declares: a torn write at the
  // tail of a .log file, or a short Produce records field. Kafka answers a
  // Produce whose records hold no complete batch with INVALID_RECORD (87).
  truncated,
  // The bytes are intact (CRC valid) but the content breaks a rule: record
  // lengths that disagree with their fields, recordsCount that disagrees with
  // the records or with lastOffsetDelta, unused attribute bits set, trailing
  // bytes. Kafka: INVALID_RECORD (87, not retriable: resending repeats it).
  invalid_record,
  // The batch is larger than the configured max_batch_bytes, or decompresses
  // to more than max_decompressed_bytes. Kafka: MESSAGE_TOO_LARGE (10).
  message_too_large,
  // Attribute codec bits 5..7, which no Kafka version defines. Kafka:
  // UNSUPPORTED_COMPRESSION_TYPE (76).
  unsupported_compression,
  // Magic 0 or 1: the legacy message format, which this codec does not read.
  // Kafka: UNSUPPORTED_FOR_MESSAGE_FORMAT (43). Note that Kafka answers a
  // Produce v3+ carrying magic < 2 with INVALID_RECORD (87); the Produce
  // handler knows the API version and must pick that code itself.
  unsupported_magic,
  // Compressing failed (the codec library refused its input or ran out of
  // memory): a broker fault, not the client's. Kafka: UNKNOWN_SERVER_ERROR (-1).
  compression_failed,
};

const error_domain& domain_of(errc) noexcept;
std::string_view describe(errc code) noexcept;

// An error of this domain; `op` must have static storage ("record_batch").
ringlog::error make_error(errc code, std::string_view op, std::string detail);

// The Kafka error code (Errors.java) a client receives for `code`; see the
// comment at each errc value for the reasoning.
int16_t to_kafka_error(errc code) noexcept;

}  // namespace ringlog::record
