#include "engine/record/errc.h"

namespace ringlog::record {
namespace {

std::string_view describe_code(int code) noexcept {
  switch (static_cast<errc>(code)) {
    case errc::corrupt_message:
      return "corrupt record batch";
    case errc::truncated:
      return "truncated record batch";
    case errc::invalid_record:
      return "invalid record";
    case errc::message_too_large:
      return "record batch too large";
    case errc::unsupported_compression:
      return "unsupported compression type";
    case errc::unsupported_magic:
      return "unsupported message format (magic)";
    case errc::compression_failed:
      return "compression failed";
  }
  return "unknown record error";
}

const error_domain k_domain{"record", &describe_code};

}  // namespace

const error_domain& domain_of(errc) noexcept { return k_domain; }

std::string_view describe(errc code) noexcept { return describe_code(static_cast<int>(code)); }

ringlog::error make_error(errc code, std::string_view op, std::string detail) {
  return ringlog::error(k_domain, static_cast<int>(code), op, std::move(detail));
}

int16_t to_kafka_error(errc code) noexcept {
  // Numbers from Kafka's Errors.java (FORMATS.md §8).
  switch (code) {
    case errc::corrupt_message:
      return 2;  // CORRUPT_MESSAGE
    case errc::truncated:
      return 87;  // INVALID_RECORD
    case errc::invalid_record:
      return 87;  // INVALID_RECORD
    case errc::message_too_large:
      return 10;  // MESSAGE_TOO_LARGE
    case errc::unsupported_compression:
      return 76;  // UNSUPPORTED_COMPRESSION_TYPE
    case errc::unsupported_magic:
      return 43;  // UNSUPPORTED_FOR_MESSAGE_FORMAT
    case errc::compression_failed:
      return -1;  // UNKNOWN_SERVER_ERROR
  }
  return -1;
}

}  // namespace ringlog::record
