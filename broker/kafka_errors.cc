#include "broker/kafka_errors.h"

#include <cerrno>

#include "engine/log/errc.h"
#include "engine/record/errc.h"

namespace ringlog::broker {

using protocol::kafka_error;

kafka_error to_kafka_error(const error& e) noexcept {
  if (&e.domain() == &domain_of(record::errc{})) {
    return static_cast<kafka_error>(record::to_kafka_error(static_cast<record::errc>(e.code())));
  }
  if (&e.domain() == &domain_of(storage::errc{})) {
    switch (static_cast<storage::errc>(e.code())) {
      case storage::errc::offset_out_of_range:
        return kafka_error::offset_out_of_range;
      default:
        // An offline log, a corrupt index or checkpoint: the data on this
        // node cannot serve the request; Kafka says KAFKA_STORAGE_ERROR and
        // clients retry (elsewhere, in a cluster).
        return kafka_error::kafka_storage_error;
    }
  }
  if (&e.domain() == &system_domain()) {
    // Any OS failure on the data path (ENOSPC, EIO) is a storage error.
    return kafka_error::kafka_storage_error;
  }
  return kafka_error::unknown_server_error;
}

}  // namespace ringlog::broker
