// The APIs this broker serves and the version range it advertises for each
// (ApiVersions). docs/compatibility.md gives the reason for every bound; the
// declared codec ranges (net/protocol) always cover these.
#pragma once

#include <cstdint>
#include <span>

#include "broker/handlers/handlers.h"

namespace ringlog::broker {

struct supported_api {
  int16_t key;
  int16_t min_version;
  int16_t max_version;
  handler_fn handle;
};

std::span<const supported_api> supported_apis() noexcept;
const supported_api* find_supported(int16_t key) noexcept;

}  // namespace ringlog::broker
