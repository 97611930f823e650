#include "engine/log/errc.h"

namespace ringlog::storage {
namespace {

std::string_view describe_code(int code) noexcept {
  switch (static_cast<errc>(code)) {
    case errc::corrupt_index:
      return "corrupt index file";
    case errc::index_full:
      return "index full";
    case errc::corrupt_checkpoint:
      return "corrupt checkpoint file";
    case errc::file_too_large:
      return "file too large";
    case errc::offset_out_of_range:
      return "offset out of range";
    case errc::log_offline:
      return "log offline";
    case errc::corrupt_segment:
      return "corrupt segment";
  }
  return "unknown log error";
}

const error_domain k_domain{"log", &describe_code};

}  // namespace

const error_domain& domain_of(errc) noexcept { return k_domain; }

std::string_view describe(errc code) noexcept { return describe_code(static_cast<int>(code)); }

ringlog::error make_error(errc code, std::string_view op, std::string detail) {
  return ringlog::error(k_domain, static_cast<int>(code), op, std::move(detail));
}

}  // namespace ringlog::storage
