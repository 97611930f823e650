// Helpers the generated codecs (net/protocol/api/*.cc in the build tree) call:
// one function per field shape that picks the classic or compact encoding and
// the nullable or non-nullable form from the version, so the generator emits
// one line per field. Not for hand-written code: use wire.h directly.
//
// Nullability: a nullable C++ member (std::optional) is written as null only
// in versions where the field is nullable; a null in any other version is a
// programmer error (the broker built a response the version cannot carry).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"
#include "net/protocol/wire.h"

namespace ringlog::protocol::detail {

// ---------------------------------------------------------------- reading

inline std::string_view read_string(wire_reader& r, bool compact) noexcept {
  return compact ? r.read_compact_string() : r.read_string();
}

inline std::optional<std::string_view> read_nullable_string(wire_reader& r, bool compact,
                                                            bool nullable) noexcept {
  if (!nullable) return read_string(r, compact);
  return compact ? r.read_compact_nullable_string() : r.read_nullable_string();
}

inline std::span<std::byte> read_bytes(wire_reader& r, bool compact) noexcept {
  return compact ? r.read_compact_bytes() : r.read_bytes();
}

inline std::optional<std::span<std::byte>> read_nullable_bytes(wire_reader& r, bool compact,
                                                               bool nullable) noexcept {
  if (!nullable) return read_bytes(r, compact);
  return compact ? r.read_compact_nullable_bytes() : r.read_nullable_bytes();
}

inline records_data read_records(wire_reader& r, bool compact, bool nullable) noexcept {
  records_data out = compact ? r.read_compact_records() : r.read_records();
  if (out.is_null && !nullable && r.ok()) r.fail("null in non-nullable records");
  return out;
}

inline uint32_t read_array_length(wire_reader& r, bool compact, size_t min_element_bytes) noexcept {
  return compact ? r.read_compact_array_length(min_element_bytes)
                 : r.read_array_length(min_element_bytes);
}

inline std::optional<uint32_t> read_nullable_array_length(wire_reader& r, bool compact,
                                                          bool nullable,
                                                          size_t min_element_bytes) noexcept {
  if (!nullable) return read_array_length(r, compact, min_element_bytes);
  return compact ? r.read_compact_nullable_array_length(min_element_bytes)
                 : r.read_nullable_array_length(min_element_bytes);
}

// Stores a decoded view into a member, owned (copy, reusing capacity) or view.
inline void assign(std::string& x, std::string_view v) { x.assign(v); }
inline void assign(std::string_view& x, std::string_view v) noexcept { x = v; }
inline void assign(std::optional<std::string>& x, std::optional<std::string_view> v) {
  if (!v) {
    x.reset();
  } else if (x) {
    x->assign(*v);
  } else {
    x.emplace(*v);
  }
}
inline void assign(std::optional<std::string_view>& x, std::optional<std::string_view> v) noexcept {
  x = v;
}
inline void assign(std::vector<std::byte>& x, std::span<const std::byte> v) {
  x.assign(v.begin(), v.end());
}
inline void assign(std::span<std::byte>& x, std::span<std::byte> v) noexcept { x = v; }
inline void assign(std::optional<std::vector<std::byte>>& x,
                   std::optional<std::span<std::byte>> v) {
  if (!v) {
    x.reset();
  } else {
    if (!x) x.emplace();
    x->assign(v->begin(), v->end());
  }
}
inline void assign(std::optional<std::span<std::byte>>& x,
                   std::optional<std::span<std::byte>> v) noexcept {
  x = v;
}

// ---------------------------------------------------------------- writing

inline void write_string(wire_writer& w, bool compact, std::string_view s) {
  if (compact) {
    w.write_compact_string(s);
  } else {
    w.write_string(s);
  }
}

inline void write_nullable_string(wire_writer& w, bool compact, bool nullable,
                                  std::optional<std::string_view> s, const char* field) {
  if (s) {
    write_string(w, compact, *s);
    return;
  }
  RINGLOG_ASSERT(nullable, "{} is null in a version where it is not nullable", field);
  if (compact) {
    w.write_uvarint(0);
  } else {
    w.write_int16(-1);
  }
}

inline void write_bytes(wire_writer& w, bool compact, std::span<const std::byte> b) {
  if (compact) {
    w.write_compact_bytes(b);
  } else {
    w.write_bytes(b);
  }
}

inline void write_nullable_bytes(wire_writer& w, bool compact, bool nullable,
                                 std::optional<std::span<const std::byte>> b, const char* field) {
  if (b) {
    write_bytes(w, compact, *b);
    return;
  }
  RINGLOG_ASSERT(nullable, "{} is null in a version where it is not nullable", field);
  if (compact) {
    w.write_uvarint(0);
  } else {
    w.write_int32(-1);
  }
}

inline void write_records(wire_writer& w, bool compact, bool nullable, const records_data& x,
                          const char* field) {
  RINGLOG_ASSERT(!x.is_null || nullable, "{} is null in a version where it is not nullable", field);
  if (compact) {
    w.write_compact_records(x);
  } else {
    w.write_records(x);
  }
}

inline void write_array_length(wire_writer& w, bool compact, size_t n) {
  if (compact) {
    w.write_compact_array_length(n);
  } else {
    w.write_array_length(n);
  }
}

inline void write_null_array_length(wire_writer& w, bool compact, bool nullable,
                                    const char* field) {
  RINGLOG_ASSERT(nullable, "{} is null in a version where it is not nullable", field);
  if (compact) {
    w.write_compact_null_array_length();
  } else {
    w.write_null_array_length();
  }
}

}  // namespace ringlog::protocol::detail
