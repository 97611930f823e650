// The one place where errors of the engine and the controller become Kafka
// error codes for a response (each folder's to_kafka_error table, chosen by
// the error's domain).
#pragma once

#include "base/error.h"
#include "net/protocol/errors.h"

namespace ringlog::broker {

protocol::kafka_error to_kafka_error(const error& e) noexcept;

}  // namespace ringlog::broker
