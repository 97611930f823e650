// Out-of-line parts of the wire primitives; see wire.h for the contract.
#include "net/protocol/wire.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/varint.h"

namespace ringlog::protocol {

namespace {

// The longest string a classic (int16-length) field can carry.
constexpr size_t k_max_classic_string_bytes = 0x7fff;

}  // namespace

// ---------------------------------------------------------------- uuid

bool uuid::is_zero() const noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

std::string uuid::to_string() const {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve(22);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(k_alphabet[(v >> 18) & 63]);
    out.push_back(k_alphabet[(v >> 12) & 63]);
    out.push_back(k_alphabet[(v >> 6) & 63]);
    out.push_back(k_alphabet[v & 63]);
  }
  // 16 = 5 * 3 + 1: one byte left, two characters, no padding.
  const uint32_t v = uint32_t{bytes[i]} << 16;
  out.push_back(k_alphabet[(v >> 18) & 63]);
  out.push_back(k_alphabet[(v >> 12) & 63]);
  return out;
}

// ---------------------------------------------------------------- records_data

uint64_t records_data::size() const noexcept {
  uint64_t n = bytes.size();
  for (const auto& f : files) n += f.bytes;
  return n;
}

bool records_data::operator==(const records_data& o) const noexcept {
  if (is_null || o.is_null) return is_null == o.is_null;
  return std::equal(bytes.begin(), bytes.end(), o.bytes.begin(), o.bytes.end()) && files == o.files;
}

// ---------------------------------------------------------------- wire_reader

std::string wire_reader::error_message() const {
  if (ok()) return {};
  std::string out = fmt::format("{} at byte {}", _failure, _failure_pos);
  if (_failure_field != nullptr) {
    out += fmt::format(" (field {}", _failure_field);
    if (_version >= 0) out += fmt::format(", v{}", _version);
    out += ")";
  } else if (_version >= 0) {
    out += fmt::format(" (v{})", _version);
  }
  return out;
}

void wire_reader::fail(const char* reason) noexcept {
  if (_failure != nullptr) return;
  _failure = reason;
  _failure_pos = position();
  _failure_field = _field;
}

uint16_t wire_reader::read_uint16() noexcept {
  if (!need(2)) return 0;
  const uint16_t v = load_be16(_pos);
  _pos += 2;
  return v;
}

uint32_t wire_reader::read_uint32() noexcept {
  if (!need(4)) return 0;
  const uint32_t v = load_be32(_pos);
  _pos += 4;
  return v;
}

uint64_t wire_reader::read_uint64() noexcept {
  if (!need(8)) return 0;
  const uint64_t v = load_be64(_pos);
  _pos += 8;
  return v;
}

double wire_reader::read_float64() noexcept {
  const uint64_t bits = read_uint64();
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

int32_t wire_reader::read_varint() noexcept {
  return zigzag_decode32(static_cast<uint32_t>(read_uvar(32)));
}

int64_t wire_reader::read_varlong() noexcept { return zigzag_decode64(read_uvar(64)); }

uuid wire_reader::read_uuid() noexcept {
  uuid u;
  if (!need(16)) return u;
  std::memcpy(u.bytes.data(), _pos, 16);
  _pos += 16;
  return u;
}

uint64_t wire_reader::read_uvar(unsigned bits) noexcept {
  if (_failure != nullptr) return 0;
  uint64_t v = 0;
  size_t used = 0;
  switch (decode_uvarint(_pos, _end, bits, v, used)) {
    case varint_status::ok:
      _pos += used;
      return v;
    case varint_status::truncated:
      fail("truncated varint");
      return 0;
    case varint_status::overflow:
      fail(bits == 32 ? "varint longer than 32 bits" : "varlong longer than 64 bits");
      return 0;
  }
  return 0;
}

std::span<std::byte> wire_reader::take(size_t n) noexcept {
  if (!need(n)) return {};
  std::span<std::byte> out(_pos, n);
  _pos += n;
  return out;
}

int64_t wire_reader::string_length(bool compact) noexcept {
  const size_t at = position();
  int64_t n;
  if (compact) {
    n = static_cast<int64_t>(read_uvarint()) - 1;
  } else {
    n = read_int16();
  }
  if (!ok()) return 0;
  if (n < -1) {
    _pos = _begin + at;
    fail("negative string length");
    return 0;
  }
  if (n > static_cast<int64_t>(_limits.max_string_bytes)) {
    _pos = _begin + at;
    fail("string longer than the limit");
    return 0;
  }
  return n;
}

int64_t wire_reader::bytes_length(bool compact, uint64_t cap) noexcept {
  const size_t at = position();
  int64_t n;
  if (compact) {
    n = static_cast<int64_t>(read_uvarint()) - 1;
  } else {
    n = read_int32();
  }
  if (!ok()) return 0;
  if (n < -1) {
    _pos = _begin + at;
    fail("negative bytes length");
    return 0;
  }
  if (static_cast<uint64_t>(n + 1) > cap + 1) {
    _pos = _begin + at;
    fail("bytes longer than the limit");
    return 0;
  }
  return n;
}

std::optional<std::string_view> wire_reader::read_nullable_string() noexcept {
  const int64_t n = string_length(false);
  if (n < 0) return std::nullopt;
  auto b = take(static_cast<size_t>(n));
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

std::optional<std::string_view> wire_reader::read_compact_nullable_string() noexcept {
  const int64_t n = string_length(true);
  if (n < 0) return std::nullopt;
  auto b = take(static_cast<size_t>(n));
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

std::string_view wire_reader::read_string() noexcept {
  const size_t at = position();
  auto s = read_nullable_string();
  if (!s) {
    if (ok()) {
      _pos = _begin + at;
      fail("null in a non-nullable string");
    }
    return {};
  }
  return *s;
}

std::string_view wire_reader::read_compact_string() noexcept {
  const size_t at = position();
  auto s = read_compact_nullable_string();
  if (!s) {
    if (ok()) {
      _pos = _begin + at;
      fail("null in a non-nullable string");
    }
    return {};
  }
  return *s;
}

std::optional<std::span<std::byte>> wire_reader::read_nullable_bytes() noexcept {
  const int64_t n = bytes_length(false, _limits.max_bytes_field_bytes);
  if (n < 0) return std::nullopt;
  return take(static_cast<size_t>(n));
}

std::optional<std::span<std::byte>> wire_reader::read_compact_nullable_bytes() noexcept {
  const int64_t n = bytes_length(true, _limits.max_bytes_field_bytes);
  if (n < 0) return std::nullopt;
  return take(static_cast<size_t>(n));
}

std::span<std::byte> wire_reader::read_bytes() noexcept {
  const size_t at = position();
  auto b = read_nullable_bytes();
  if (!b) {
    if (ok()) {
      _pos = _begin + at;
      fail("null in non-nullable bytes");
    }
    return {};
  }
  return *b;
}

std::span<std::byte> wire_reader::read_compact_bytes() noexcept {
  const size_t at = position();
  auto b = read_compact_nullable_bytes();
  if (!b) {
    if (ok()) {
      _pos = _begin + at;
      fail("null in non-nullable bytes");
    }
    return {};
  }
  return *b;
}

std::optional<uint32_t> wire_reader::array_length(bool compact, bool nullable,
                                                  size_t min_element_bytes) noexcept {
  const size_t at = position();
  int64_t n;
  if (compact) {
    n = static_cast<int64_t>(read_uvarint()) - 1;
  } else {
    n = read_int32();
  }
  if (!ok()) return 0;
  const auto fail_at = [&](const char* reason) {
    _pos = _begin + at;
    fail(reason);
  };
  if (n == -1) {
    if (nullable) return std::nullopt;
    fail_at("null in a non-nullable array");
    return 0;
  }
  if (n < -1) {
    fail_at("negative array length");
    return 0;
  }
  if (n > static_cast<int64_t>(_limits.max_array_elements)) {
    fail_at("array longer than the limit");
    return 0;
  }
  // Before anyone reserves: every element takes at least min_element_bytes.
  const size_t per = std::max<size_t>(min_element_bytes, 1);
  if (static_cast<uint64_t>(n) > remaining() / per) {
    fail_at("array count exceeds the remaining bytes");
    return 0;
  }
  return static_cast<uint32_t>(n);
}

uint32_t wire_reader::read_array_length(size_t min_element_bytes) noexcept {
  return array_length(false, false, min_element_bytes).value_or(0);
}

uint32_t wire_reader::read_compact_array_length(size_t min_element_bytes) noexcept {
  return array_length(true, false, min_element_bytes).value_or(0);
}

std::optional<uint32_t> wire_reader::read_nullable_array_length(size_t min_element_bytes) noexcept {
  return array_length(false, true, min_element_bytes);
}

std::optional<uint32_t> wire_reader::read_compact_nullable_array_length(
    size_t min_element_bytes) noexcept {
  return array_length(true, true, min_element_bytes);
}

records_data wire_reader::read_records() noexcept {
  records_data out;
  const int64_t n = bytes_length(false, UINT32_MAX);
  if (!ok() || n < 0) return out;
  out.bytes = take(static_cast<size_t>(n));
  out.is_null = !ok();
  return out;
}

records_data wire_reader::read_compact_records() noexcept {
  records_data out;
  const int64_t n = bytes_length(true, UINT32_MAX);
  if (!ok() || n < 0) return out;
  out.bytes = take(static_cast<size_t>(n));
  out.is_null = !ok();
  return out;
}

// ---------------------------------------------------------------- wire_writer

wire_writer::wire_writer(bool framed) : _framed(framed) {
  if (_framed) _memory.resize(4);
}

void wire_writer::clear() {
  _memory.clear();
  _files.clear();
  _file_bytes = 0;
  if (_framed) _memory.resize(4);
}

void wire_writer::write_uint16(uint16_t v) {
  const size_t at = _memory.size();
  _memory.resize(at + 2);
  store_be16(_memory.data() + at, v);
}

void wire_writer::write_uint32(uint32_t v) {
  const size_t at = _memory.size();
  _memory.resize(at + 4);
  store_be32(_memory.data() + at, v);
}

void wire_writer::write_uint64(uint64_t v) {
  const size_t at = _memory.size();
  _memory.resize(at + 8);
  store_be64(_memory.data() + at, v);
}

void wire_writer::write_float64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  write_uint64(bits);
}

void wire_writer::write_uvarlong(uint64_t v) {
  const size_t at = _memory.size();
  _memory.resize(at + k_max_varlong_bytes);
  _memory.resize(at + encode_uvarint(v, _memory.data() + at));
}

void wire_writer::write_varint(int32_t v) { write_uvarlong(zigzag_encode32(v)); }
void wire_writer::write_varlong(int64_t v) { write_uvarlong(zigzag_encode64(v)); }

void wire_writer::write_uuid(const uuid& v) {
  write_raw(std::as_bytes(std::span<const uint8_t>(v.bytes)));
}

void wire_writer::write_string(std::string_view s) {
  RINGLOG_ASSERT(s.size() <= k_max_classic_string_bytes,
                 "a classic string holds at most 32767 bytes, not {}", s.size());
  write_int16(static_cast<int16_t>(s.size()));
  write_raw(std::as_bytes(std::span<const char>(s.data(), s.size())));
}

void wire_writer::write_compact_string(std::string_view s) {
  RINGLOG_ASSERT(s.size() < UINT32_MAX, "string of {} bytes", s.size());
  write_uvarint(static_cast<uint32_t>(s.size() + 1));
  write_raw(std::as_bytes(std::span<const char>(s.data(), s.size())));
}

void wire_writer::write_nullable_string(std::optional<std::string_view> s) {
  if (!s) {
    write_int16(-1);
  } else {
    write_string(*s);
  }
}

void wire_writer::write_compact_nullable_string(std::optional<std::string_view> s) {
  if (!s) {
    write_uvarint(0);
  } else {
    write_compact_string(*s);
  }
}

void wire_writer::write_bytes(std::span<const std::byte> b) {
  RINGLOG_ASSERT(b.size() <= INT32_MAX, "bytes of {} bytes", b.size());
  write_int32(static_cast<int32_t>(b.size()));
  write_raw(b);
}

void wire_writer::write_compact_bytes(std::span<const std::byte> b) {
  RINGLOG_ASSERT(b.size() < UINT32_MAX, "bytes of {} bytes", b.size());
  write_uvarint(static_cast<uint32_t>(b.size() + 1));
  write_raw(b);
}

void wire_writer::write_nullable_bytes(std::optional<std::span<const std::byte>> b) {
  if (!b) {
    write_int32(-1);
  } else {
    write_bytes(*b);
  }
}

void wire_writer::write_compact_nullable_bytes(std::optional<std::span<const std::byte>> b) {
  if (!b) {
    write_uvarint(0);
  } else {
    write_compact_bytes(*b);
  }
}

void wire_writer::write_array_length(size_t n) {
  RINGLOG_ASSERT(n <= INT32_MAX, "array of {} elements", n);
  write_int32(static_cast<int32_t>(n));
}

void wire_writer::write_compact_array_length(size_t n) {
  RINGLOG_ASSERT(n < UINT32_MAX, "array of {} elements", n);
  write_uvarint(static_cast<uint32_t>(n + 1));
}

void wire_writer::write_records(const records_data& r) {
  if (r.is_null) {
    write_int32(-1);
    return;
  }
  const uint64_t n = r.size();
  RINGLOG_ASSERT(n <= INT32_MAX, "records of {} bytes", n);
  write_int32(static_cast<int32_t>(n));
  write_raw(r.bytes);
  for (const auto& f : r.files) append_file(f);
}

void wire_writer::write_compact_records(const records_data& r) {
  if (r.is_null) {
    write_uvarint(0);
    return;
  }
  const uint64_t n = r.size();
  RINGLOG_ASSERT(n < UINT32_MAX, "records of {} bytes", n);
  write_uvarint(static_cast<uint32_t>(n + 1));
  write_raw(r.bytes);
  for (const auto& f : r.files) append_file(f);
}

size_t wire_writer::begin_tagged_field(uint32_t tag) {
  write_uvarint(tag);
  return _memory.size();
}

void wire_writer::end_tagged_field(size_t mark) {
  RINGLOG_ASSERT(mark <= _memory.size(), "tagged field mark {} past the end {}", mark,
                 _memory.size());
  RINGLOG_ASSERT(_files.empty() || _files.back().memory_offset <= mark,
                 "a tagged field cannot contain file ranges");
  const size_t size = _memory.size() - mark;
  RINGLOG_ASSERT(size < UINT32_MAX, "tagged field of {} bytes", size);
  std::byte prefix[k_max_varint_bytes];
  const size_t n = encode_uvarint(size, prefix);
  _memory.insert(_memory.begin() + static_cast<std::ptrdiff_t>(mark), prefix, prefix + n);
}

void wire_writer::append_file(file_range range) {
  if (range.bytes == 0) return;
  _file_bytes += range.bytes;
  _files.push_back({_memory.size(), std::move(range)});
}

void wire_writer::finish() {
  RINGLOG_ASSERT(_framed, "finish() on an unframed writer");
  const uint64_t size = total_bytes() - 4;
  RINGLOG_ASSERT(size <= INT32_MAX, "frame of {} bytes", size);
  store_be32(_memory.data(), static_cast<uint32_t>(size));
}

std::vector<wire_writer::chunk> wire_writer::chunks() const {
  std::vector<chunk> out;
  out.reserve(2 * _files.size() + 1);
  size_t from = 0;
  for (const auto& f : _files) {
    if (f.memory_offset > from) out.push_back({from, f.memory_offset - from, {}});
    out.push_back({f.memory_offset, 0, f.range});
    from = f.memory_offset;
  }
  if (_memory.size() > from || out.empty()) out.push_back({from, _memory.size() - from, {}});
  return out;
}

}  // namespace ringlog::protocol
