#include "base/error.h"

#include <fmt/core.h>

#include <cstring>

namespace ringlog {
namespace {

std::string_view describe_errno(int code) noexcept {
  // strerrordesc_np is thread-safe and never allocates (glibc >= 2.32).
  const char* text = strerrordesc_np(code);
  return text ? std::string_view(text) : std::string_view("unknown errno");
}

const error_domain k_system{"system", &describe_errno};

}  // namespace

const error_domain& system_domain() noexcept { return k_system; }

std::string error::message() const {
  std::string out;
  if (!_op.empty()) {
    out.append(_op);
    out.append(": ");
  }
  out.append(_domain->describe(_code));
  if (_sys_errno != 0) out.append(fmt::format(" (errno {})", _sys_errno));
  if (!_detail.empty()) {
    out.append(": ");
    out.append(_detail);
  }
  return out;
}

}  // namespace ringlog
