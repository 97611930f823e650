// Big-endian readers and writers over byte spans: the integer encoding of the
// Kafka protocol and of every Kafka file format.
//
// byte_reader is a bounded reader with a sticky error: the first read that
// would pass the end (or a malformed varint) marks the reader failed, records
// the byte position and reason, and every later read returns zero values. A
// decoder therefore reads a whole structure and checks ok() once at the end.
// A reader never reads outside its span.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "base/varint.h"

namespace ringlog {

inline uint16_t load_be16(const std::byte* p) noexcept {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline uint32_t load_be32(const std::byte* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t load_be64(const std::byte* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void store_be16(std::byte* p, uint16_t v) noexcept {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, 2);
}
inline void store_be32(std::byte* p, uint32_t v) noexcept {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void store_be64(std::byte* p, uint64_t v) noexcept {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

class byte_reader {
 public:
  explicit byte_reader(std::span<const std::byte> data) noexcept
      : _begin(data.data()), _pos(data.data()), _end(data.data() + data.size()) {}

  bool ok() const noexcept { return _failure == nullptr; }
  // Why the reader failed ("truncated", "varint overflow", ...), or nullptr.
  const char* failure() const noexcept { return _failure; }
  // Byte offset of the read that failed (meaningful when !ok()).
  size_t failure_position() const noexcept { return _failure_pos; }
  size_t position() const noexcept { return static_cast<size_t>(_pos - _begin); }
  size_t remaining() const noexcept { return ok() ? static_cast<size_t>(_end - _pos) : 0; }

  int8_t read_i8() noexcept { return static_cast<int8_t>(read_u8()); }
  uint8_t read_u8() noexcept { return need(1) ? static_cast<uint8_t>(*_pos++) : 0; }
  int16_t read_i16() noexcept { return static_cast<int16_t>(read_u16()); }
  uint16_t read_u16() noexcept { return need(2) ? advance(load_be16(_pos), 2) : 0; }
  int32_t read_i32() noexcept { return static_cast<int32_t>(read_u32()); }
  uint32_t read_u32() noexcept { return need(4) ? advance(load_be32(_pos), 4) : 0; }
  int64_t read_i64() noexcept { return static_cast<int64_t>(read_u64()); }
  uint64_t read_u64() noexcept { return need(8) ? advance(load_be64(_pos), 8) : 0; }
  double read_f64() noexcept {
    const uint64_t bits = read_u64();
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }

  uint32_t read_uvarint() noexcept { return static_cast<uint32_t>(read_uvar(32)); }
  uint64_t read_uvarlong() noexcept { return read_uvar(64); }
  int32_t read_varint() noexcept { return zigzag_decode32(static_cast<uint32_t>(read_uvar(32))); }
  int64_t read_varlong() noexcept { return zigzag_decode64(read_uvar(64)); }

  // The next n bytes as a view into the input; empty on failure.
  std::span<const std::byte> read_bytes(size_t n) noexcept {
    if (!need(n)) return {};
    std::span<const std::byte> out(_pos, n);
    _pos += n;
    return out;
  }
  std::string_view read_string_view(size_t n) noexcept {
    auto b = read_bytes(n);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  void skip(size_t n) noexcept { (void)read_bytes(n); }

  // Marks the reader failed at the current position with `reason` (a static
  // string), for structural checks a decoder makes (a negative length, say).
  void fail(const char* reason) noexcept {
    if (_failure == nullptr) {
      _failure = reason;
      _failure_pos = position();
      _pos = _end;
    }
  }

 private:
  bool need(size_t n) noexcept {
    if (_failure != nullptr) return false;
    if (static_cast<size_t>(_end - _pos) < n) {
      fail("truncated");
      return false;
    }
    return true;
  }
  template <class T>
  T advance(T v, size_t n) noexcept {
    _pos += n;
    return v;
  }
  uint64_t read_uvar(unsigned bits) noexcept {
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

  const std::byte* _begin;
  const std::byte* _pos;
  const std::byte* _end;
  const char* _failure = nullptr;
  size_t _failure_pos = 0;
};

// Appends big-endian values and varints to a growable buffer.
class byte_writer {
 public:
  explicit byte_writer(std::vector<std::byte>& out) noexcept : _out(out) {}

  size_t size() const noexcept { return _out.size(); }

  void write_u8(uint8_t v) { _out.push_back(static_cast<std::byte>(v)); }
  void write_i8(int8_t v) { write_u8(static_cast<uint8_t>(v)); }
  void write_u16(uint16_t v) { store_be16(grow(2), v); }
  void write_i16(int16_t v) { write_u16(static_cast<uint16_t>(v)); }
  void write_u32(uint32_t v) { store_be32(grow(4), v); }
  void write_i32(int32_t v) { write_u32(static_cast<uint32_t>(v)); }
  void write_u64(uint64_t v) { store_be64(grow(8), v); }
  void write_i64(int64_t v) { write_u64(static_cast<uint64_t>(v)); }
  void write_f64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    write_u64(bits);
  }
  void write_uvarint(uint64_t v) { shrink_to(encode_uvarint(v, grow(k_max_varlong_bytes))); }
  void write_varint(int32_t v) { write_uvarint(zigzag_encode32(v)); }
  void write_varlong(int64_t v) { write_uvarint(zigzag_encode64(v)); }
  void write_bytes(std::span<const std::byte> b) { _out.insert(_out.end(), b.begin(), b.end()); }
  void write_string(std::string_view s) {
    write_bytes({reinterpret_cast<const std::byte*>(s.data()), s.size()});
  }

  // Patches a big-endian value written earlier (a length or CRC known only
  // after the body): `at` is the offset returned by size() before writing it.
  void patch_u32(size_t at, uint32_t v) noexcept { store_be32(_out.data() + at, v); }
  void patch_u64(size_t at, uint64_t v) noexcept { store_be64(_out.data() + at, v); }

 private:
  std::byte* grow(size_t n) {
    _mark = _out.size();
    _out.resize(_mark + n);
    return _out.data() + _mark;
  }
  void shrink_to(size_t used) { _out.resize(_mark + used); }

  std::vector<std::byte>& _out;
  size_t _mark = 0;
};

}  // namespace ringlog
