#include "engine/record/control_record.h"

#include <fmt/core.h>

#include "base/bytes.h"
#include "engine/record/errc.h"

namespace ringlog::record {
namespace {

constexpr std::string_view k_op = "control_record";

}  // namespace

result<control_key> parse_control_key(const nullable_bytes& key) {
  if (!key || key->size() < k_control_key_bytes) {
    return make_error(errc::invalid_record, k_op,
                      fmt::format("control record key {}: expected at least {} bytes",
                                  key ? fmt::format("of {} bytes", key->size()) : "is null",
                                  k_control_key_bytes));
  }
  control_key out;
  out.version = static_cast<int16_t>(load_be16(key->data()));
  out.type = static_cast<control_type>(static_cast<int16_t>(load_be16(key->data() + 2)));
  if (out.version < 0) {
    return make_error(errc::invalid_record, k_op,
                      fmt::format("control record key version {}: negative", out.version));
  }
  return out;
}

result<end_txn_marker> parse_end_txn_marker(const nullable_bytes& value) {
  if (!value || value->size() < k_end_txn_marker_bytes) {
    return make_error(errc::invalid_record, k_op,
                      fmt::format("transaction marker value {}: expected at least {} bytes",
                                  value ? fmt::format("of {} bytes", value->size()) : "is null",
                                  k_end_txn_marker_bytes));
  }
  end_txn_marker out;
  out.version = static_cast<int16_t>(load_be16(value->data()));
  out.coordinator_epoch = static_cast<int32_t>(load_be32(value->data() + 2));
  if (out.version < 0) {
    return make_error(errc::invalid_record, k_op,
                      fmt::format("transaction marker version {}: negative", out.version));
  }
  return out;
}

}  // namespace ringlog::record
