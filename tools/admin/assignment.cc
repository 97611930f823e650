#include "tools/admin/assignment.h"

namespace ringlog::admin {
namespace {

// A bounded big-endian reader: every read checks what remains.
class reader {
 public:
  explicit reader(std::span<const std::byte> b) : _b(b) {}
  bool read(size_t n, uint64_t& out) {
    if (_b.size() - _pos < n) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | std::to_integer<uint64_t>(_b[_pos + i]);
    _pos += n;
    out = v;
    return true;
  }
  bool skip(size_t n) {
    if (_b.size() - _pos < n) return false;
    _pos += n;
    return true;
  }
  std::span<const std::byte> take(size_t n) {
    auto s = _b.subspan(_pos, n);
    _pos += n;
    return s;
  }
  size_t remaining() const { return _b.size() - _pos; }

 private:
  std::span<const std::byte> _b;
  size_t _pos = 0;
};

void put(std::vector<std::byte>& out, uint64_t v, size_t n) {
  for (size_t i = n; i-- > 0;) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::optional<consumer_assignment> decode_consumer_assignment(std::span<const std::byte> bytes) {
  consumer_assignment a;
  if (bytes.empty()) return a;
  reader r(bytes);
  uint64_t v = 0;
  if (!r.read(2, v)) return std::nullopt;
  a.version = static_cast<int16_t>(v);
  if (a.version < 0) return std::nullopt;
  if (!r.read(4, v)) return std::nullopt;
  const auto topics = static_cast<int32_t>(v);
  // Each topic takes at least 6 bytes: a bound before reserving anything.
  if (topics < 0 || static_cast<size_t>(topics) > r.remaining() / 6) return std::nullopt;
  a.topics.reserve(static_cast<size_t>(topics));
  for (int32_t t = 0; t < topics; ++t) {
    topic_assignment ta;
    if (!r.read(2, v)) return std::nullopt;
    const auto len = static_cast<int16_t>(v);
    if (len < 0 || static_cast<size_t>(len) > r.remaining()) return std::nullopt;
    const auto name = r.take(static_cast<size_t>(len));
    ta.topic.assign(reinterpret_cast<const char*>(name.data()), name.size());
    if (!r.read(4, v)) return std::nullopt;
    const auto parts = static_cast<int32_t>(v);
    if (parts < 0 || static_cast<size_t>(parts) > r.remaining() / 4) return std::nullopt;
    ta.partitions.reserve(static_cast<size_t>(parts));
    for (int32_t p = 0; p < parts; ++p) {
      if (!r.read(4, v)) return std::nullopt;
      ta.partitions.push_back(static_cast<int32_t>(v));
    }
    a.topics.push_back(std::move(ta));
  }
  // User data: nullable bytes. Absent entirely is tolerated (some clients).
  if (r.remaining() == 0) return a;
  if (!r.read(4, v)) return std::nullopt;
  const auto user = static_cast<int32_t>(v);
  if (user < -1) return std::nullopt;
  if (user > 0 && !r.skip(static_cast<size_t>(user))) return std::nullopt;
  return a;
}

std::vector<std::byte> encode_consumer_assignment(const consumer_assignment& a) {
  std::vector<std::byte> out;
  put(out, static_cast<uint16_t>(a.version), 2);
  put(out, static_cast<uint32_t>(a.topics.size()), 4);
  for (const auto& t : a.topics) {
    put(out, static_cast<uint16_t>(t.topic.size()), 2);
    for (const char c : t.topic) out.push_back(static_cast<std::byte>(c));
    put(out, static_cast<uint32_t>(t.partitions.size()), 4);
    for (const int32_t p : t.partitions) put(out, static_cast<uint32_t>(p), 4);
  }
  put(out, 0xffffffffu, 4);  // null user data
  return out;
}

}  // namespace ringlog::admin
