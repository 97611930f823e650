// Control records (FORMATS.md §3): the single record of a control batch
// (attribute bit 5). Its key says what kind of control record it is; for a
// transaction marker (COMMIT/ABORT) the value carries the coordinator epoch.
//
//   key   (>= 4 bytes): version int16 (0), type int16
//   value (>= 6 bytes, COMMIT/ABORT): version int16 (0), coordinatorEpoch int32
//
// Readers accept longer keys and values and higher versions, as Kafka does.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/result.h"
#include "engine/record/record.h"

namespace ringlog::record {

// Kafka's ControlRecordType. Values outside this list are "unknown" and are
// ignored by readers; the enum may hold them (fixed underlying type).
enum class control_type : int16_t {
  abort = 0,
  commit = 1,
  leader_change = 2,
  snapshot_header = 3,
  snapshot_footer = 4,
  kraft_version = 5,
  kraft_voters = 6,
};

inline constexpr size_t k_control_key_bytes = 4;
inline constexpr size_t k_end_txn_marker_bytes = 6;
inline constexpr int16_t k_control_key_version = 0;
inline constexpr int16_t k_end_txn_marker_version = 0;

struct control_key {
  int16_t version = k_control_key_version;
  control_type type = control_type::abort;
};

struct end_txn_marker {
  int16_t version = k_end_txn_marker_version;
  int32_t coordinator_epoch = 0;
};

// invalid_record when the key is null, shorter than 4 bytes or has a negative version.
result<control_key> parse_control_key(const nullable_bytes& key);
// invalid_record when the value is null, shorter than 6 bytes or has a negative version.
result<end_txn_marker> parse_end_txn_marker(const nullable_bytes& value);

}  // namespace ringlog::record
