// Encoders and bounded decoders of the __consumer_offsets key/value records.
#include "broker/group/group_records.h"

#include <cstring>

#include "base/bytes.h"

namespace ringlog::broker {
namespace {

class writer {
 public:
  void i16(int16_t v) { put_be(static_cast<uint16_t>(v), 2); }
  void i32(int32_t v) { put_be(static_cast<uint32_t>(v), 4); }
  void i64(int64_t v) { put_be(static_cast<uint64_t>(v), 8); }
  void str(const std::string& s) {
    i16(static_cast<int16_t>(s.size()));
    raw(s.data(), s.size());
  }
  void nullable_str(const std::optional<std::string>& s) {
    if (!s) return i16(-1);
    str(*s);
  }
  void bytes(const std::vector<std::byte>& b) {
    i32(static_cast<int32_t>(b.size()));
    raw(b.data(), b.size());
  }
  std::vector<std::byte> take() { return std::move(_out); }

 private:
  void put_be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) _out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
  }
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    _out.insert(_out.end(), b, b + n);
  }
  std::vector<std::byte> _out;
};

// Bounded reader with a sticky failure.
class reader {
 public:
  explicit reader(std::span<const std::byte> b) : _b(b) {}
  bool ok() const noexcept { return _ok; }
  bool done() const noexcept { return _at == _b.size(); }
  int16_t i16() { return static_cast<int16_t>(get(2)); }
  int32_t i32() { return static_cast<int32_t>(get(4)); }
  int64_t i64() { return static_cast<int64_t>(get(8)); }
  std::optional<std::string> nullable_str() {
    const int16_t n = i16();
    if (n < 0) return std::nullopt;
    if (!need(static_cast<size_t>(n))) return std::string();
    std::string s(reinterpret_cast<const char*>(_b.data() + _at), static_cast<size_t>(n));
    _at += static_cast<size_t>(n);
    return s;
  }
  std::string str() {
    auto s = nullable_str();
    if (!s) _ok = false;
    return s.value_or("");
  }
  std::vector<std::byte> bytes() {
    const int32_t n = i32();
    if (n < 0 || !need(static_cast<size_t>(n))) return {};
    std::vector<std::byte> v(_b.begin() + static_cast<ptrdiff_t>(_at),
                             _b.begin() + static_cast<ptrdiff_t>(_at + static_cast<size_t>(n)));
    _at += static_cast<size_t>(n);
    return v;
  }

 private:
  bool need(size_t n) {
    if (!_ok || _b.size() - _at < n) {
      _ok = false;
      return false;
    }
    return true;
  }
  uint64_t get(size_t n) {
    if (!need(n)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | std::to_integer<uint8_t>(_b[_at + i]);
    _at += n;
    return v;
  }
  std::span<const std::byte> _b;
  size_t _at = 0;
  bool _ok = true;
};

}  // namespace

std::vector<std::byte> encode_offset_key(const offset_key& k) {
  writer w;
  w.i16(1);
  w.str(k.group);
  w.str(k.topic);
  w.i32(k.partition);
  return w.take();
}

std::vector<std::byte> encode_offset_value(const committed_offset& c) {
  writer w;
  if (c.expire_timestamp_ms >= 0) {
    w.i16(1);
    w.i64(c.offset);
    w.str(c.metadata);
    w.i64(c.commit_timestamp_ms);
    w.i64(c.expire_timestamp_ms);
  } else {
    w.i16(3);
    w.i64(c.offset);
    w.i32(c.leader_epoch);
    w.str(c.metadata);
    w.i64(c.commit_timestamp_ms);
  }
  return w.take();
}

std::vector<std::byte> encode_group_key(const std::string& group) {
  writer w;
  w.i16(2);
  w.str(group);
  return w.take();
}

std::vector<std::byte> encode_group_value(const group_snapshot& g) {
  writer w;
  w.i16(3);
  w.str(g.protocol_type);
  w.i32(g.generation);
  w.nullable_str(g.protocol);
  w.nullable_str(g.leader);
  w.i64(g.current_state_timestamp_ms);
  w.i32(static_cast<int32_t>(g.members.size()));
  for (const auto& m : g.members) {
    w.str(m.member_id);
    w.nullable_str(m.group_instance_id);
    w.str(m.client_id);
    w.str(m.client_host);
    w.i32(m.rebalance_timeout_ms);
    w.i32(m.session_timeout_ms);
    w.bytes(m.subscription);
    w.bytes(m.assignment);
  }
  return w.take();
}

std::optional<parsed_key> decode_key(std::span<const std::byte> b) {
  reader r(b);
  const int16_t version = r.i16();
  parsed_key k;
  if (version == 0 || version == 1) {
    k.type = parsed_key::kind::offset;
    k.offset.group = r.str();
    k.offset.topic = r.str();
    k.offset.partition = r.i32();
    k.group = k.offset.group;
  } else if (version == 2) {
    k.type = parsed_key::kind::group;
    k.group = r.str();
  } else {
    return r.ok() ? std::optional<parsed_key>(k) : std::nullopt;  // other record types: skipped
  }
  if (!r.ok()) return std::nullopt;
  return k;
}

std::optional<committed_offset> decode_offset_value(std::span<const std::byte> b) {
  reader r(b);
  const int16_t version = r.i16();
  if (version < 0 || version > 3) return std::nullopt;
  committed_offset c;
  c.offset = r.i64();
  if (version >= 3) c.leader_epoch = r.i32();
  c.metadata = r.str();
  c.commit_timestamp_ms = r.i64();
  if (version == 1) c.expire_timestamp_ms = r.i64();
  if (!r.ok()) return std::nullopt;
  return c;
}

std::optional<group_snapshot> decode_group_value(std::span<const std::byte> b) {
  reader r(b);
  const int16_t version = r.i16();
  if (version < 0 || version > 3) return std::nullopt;
  group_snapshot g;
  g.protocol_type = r.str();
  g.generation = r.i32();
  g.protocol = r.nullable_str();
  g.leader = r.nullable_str();
  if (version >= 2) g.current_state_timestamp_ms = r.i64();
  const int32_t n = r.i32();
  if (!r.ok() || n < 0 || static_cast<size_t>(n) > b.size()) return std::nullopt;
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    auto& m = g.members.emplace_back();
    m.member_id = r.str();
    if (version >= 3) m.group_instance_id = r.nullable_str();
    m.client_id = r.str();
    m.client_host = r.str();
    if (version >= 1) m.rebalance_timeout_ms = r.i32();
    m.session_timeout_ms = r.i32();
    m.subscription = r.bytes();
    m.assignment = r.bytes();
  }
  if (!r.ok()) return std::nullopt;
  return g;
}

}  // namespace ringlog::broker
