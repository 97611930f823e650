// The Kafka wire primitives (FORMATS.md §4): a bounded reader with a sticky
// error and a writer that builds a response frame as memory runs interleaved
// with file ranges sent zero-copy. The generated message codecs
// (net/protocol/api/*.h) are written entirely in terms of these two classes.
//
// Reader invariants: it never reads outside its span; the first bad read
// (past the end, a negative or oversized length, a varint overflow, a null
// where the field is not nullable, a count above the configured cap) marks it
// failed, records the reason, byte position and the field being read, and
// every later read returns zero/empty. A decoder reads a whole message and
// checks ok() once. Every length and array count is checked against what
// remains BEFORE anything is reserved, so a short frame cannot make the
// decoder allocate more than a small multiple of its own size.
//
// Views: strings and bytes read as views, and records_data::bytes, point
// into the reader's buffer; they stay valid as long as that buffer does. The
// buffer is mutable because Produce record batches are rewritten in place
// (offsets, leader epoch) before they are appended.
//
// Thread safety: a reader or writer belongs to one thread (one shard).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::protocol {

// flexible_from of a message that has no flexible version. INT16_MAX keeps
// `version >= flexible_from` correct without a special case.
inline constexpr int16_t k_never_flexible = INT16_MAX;

// A Kafka UUID (topic id, directory id): 16 bytes, most significant first.
// The all-zero uuid means "none".
struct uuid {
  std::array<uint8_t, 16> bytes{};

  bool operator==(const uuid&) const = default;
  bool is_zero() const noexcept;
  // Kafka's text form: URL-safe base64 without padding (22 characters).
  std::string to_string() const;
};

// A byte range of an open file, sent zero-copy (splice/sendfile). `owner`
// keeps the file (a segment) alive until the range has been sent.
struct file_range {
  int fd = -1;
  uint64_t offset = 0;
  uint32_t bytes = 0;
  std::shared_ptr<const void> owner;

  // Same bytes of the same file; the owner only manages lifetime.
  bool operator==(const file_range& o) const noexcept {
    return fd == o.fd && offset == o.offset && bytes == o.bytes;
  }
};

// A `records` field: null, or memory bytes followed by file ranges. Decoding
// fills `bytes` as a view into the reader's buffer (never `files`). Encoding
// copies `bytes` into the writer and appends each file range as a zero-copy
// chunk, so a Fetch response can mix batches read into memory with batches
// sent straight from segment files.
struct records_data {
  bool is_null = true;
  std::span<std::byte> bytes;
  std::vector<file_range> files;

  uint64_t size() const noexcept;
  // Equal when both are null, or both hold the same byte content and files.
  bool operator==(const records_data& o) const noexcept;
};

// Caps a reader applies on top of "no more than what remains". The element
// cap bounds memory: an element may take 1 byte on the wire but 32 or more in
// memory (a std::string), so remaining bytes alone allow a 30x blow-up.
struct decode_limits {
  uint32_t max_array_elements = 1u << 20;
  // Kafka rejects longer strings, compact ones included (its generated readers
  // check 0x7fff), so nothing valid is lost.
  uint32_t max_string_bytes = 0x7fff;
  // Kafka's socket.request.max.bytes: a bytes field cannot be bigger than a
  // request. Records are bounded only by the frame.
  uint32_t max_bytes_field_bytes = 100u << 20;
};

class wire_reader {
 public:
  explicit wire_reader(std::span<std::byte> data, const decode_limits& limits = {}) noexcept
      : _begin(data.data()), _pos(data.data()), _end(data.data() + data.size()), _limits(limits) {}

  bool ok() const noexcept { return _failure == nullptr; }
  // "reason at byte N (field F, vV)"; empty when ok().
  std::string error_message() const;
  // The reason (a static string) or nullptr, and where the bad read started.
  const char* failure() const noexcept { return _failure; }
  size_t failure_position() const noexcept { return _failure_pos; }
  size_t position() const noexcept { return static_cast<size_t>(_pos - _begin); }
  size_t remaining() const noexcept { return ok() ? static_cast<size_t>(_end - _pos) : 0; }
  const decode_limits& limits() const noexcept { return _limits; }

  // Context for error_message(): the field about to be read (a static
  // string, e.g. "produce_request.topic_produce_data.name") and the version.
  void set_field(const char* path) noexcept { _field = path; }
  void set_version(int16_t version) noexcept { _version = version; }

  // Marks the reader failed here (first failure wins). `reason` is static.
  void fail(const char* reason) noexcept;

  int8_t read_int8() noexcept { return need(1) ? static_cast<int8_t>(*_pos++) : 0; }
  int16_t read_int16() noexcept { return static_cast<int16_t>(read_uint16()); }
  uint16_t read_uint16() noexcept;
  int32_t read_int32() noexcept { return static_cast<int32_t>(read_uint32()); }
  uint32_t read_uint32() noexcept;
  int64_t read_int64() noexcept { return static_cast<int64_t>(read_uint64()); }
  uint64_t read_uint64() noexcept;
  double read_float64() noexcept;
  // Any non-zero byte reads as true, as in Kafka.
  bool read_bool() noexcept { return read_int8() != 0; }
  uint32_t read_uvarint() noexcept { return static_cast<uint32_t>(read_uvar(32)); }
  uint64_t read_uvarlong() noexcept { return read_uvar(64); }
  int32_t read_varint() noexcept;
  int64_t read_varlong() noexcept;
  uuid read_uuid() noexcept;

  // Strings: int16 length (classic) or uvarint length+1 (compact). The
  // non-nullable readers fail on null; the nullable ones return nullopt.
  std::string_view read_string() noexcept;
  std::string_view read_compact_string() noexcept;
  std::optional<std::string_view> read_nullable_string() noexcept;
  std::optional<std::string_view> read_compact_nullable_string() noexcept;

  // Bytes: int32 length (classic) or uvarint length+1 (compact).
  std::span<std::byte> read_bytes() noexcept;
  std::span<std::byte> read_compact_bytes() noexcept;
  std::optional<std::span<std::byte>> read_nullable_bytes() noexcept;
  std::optional<std::span<std::byte>> read_compact_nullable_bytes() noexcept;

  // Array counts: int32 (classic) or uvarint count+1 (compact). The count is
  // checked against remaining() / min_element_bytes and the element cap, so
  // the caller may resize to it. Nullable readers return nullopt for null.
  uint32_t read_array_length(size_t min_element_bytes = 1) noexcept;
  uint32_t read_compact_array_length(size_t min_element_bytes = 1) noexcept;
  std::optional<uint32_t> read_nullable_array_length(size_t min_element_bytes = 1) noexcept;
  std::optional<uint32_t> read_compact_nullable_array_length(size_t min_element_bytes = 1) noexcept;

  // Records are nullable bytes whose content stays a view (no cap but the frame).
  records_data read_records() noexcept;
  records_data read_compact_records() noexcept;

  // A tagged-field section: uvarint count, then (uvarint tag, uvarint size,
  // value) each. `on_tag(tag)` decodes a known tag and returns true, or
  // returns false to skip it. While it runs the reader ends at the field's
  // declared size, so a field cannot read into its neighbours; a known field
  // that leaves bytes of its size unread fails the reader.
  template <class OnTag>
  void read_tagged_fields(OnTag&& on_tag);
  void skip_tagged_fields() noexcept {
    read_tagged_fields([](uint32_t) { return false; });
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
  uint64_t read_uvar(unsigned bits) noexcept;
  // Length prefixes decoded to -1 (null) or a checked non-negative length.
  int64_t string_length(bool compact) noexcept;
  int64_t bytes_length(bool compact, uint64_t cap) noexcept;
  std::optional<uint32_t> array_length(bool compact, bool nullable,
                                       size_t min_element_bytes) noexcept;
  std::span<std::byte> take(size_t n) noexcept;

  std::byte* _begin;
  std::byte* _pos;
  std::byte* _end;
  decode_limits _limits;
  const char* _failure = nullptr;
  size_t _failure_pos = 0;
  const char* _field = nullptr;
  const char* _failure_field = nullptr;
  int16_t _version = -1;
};

// Builds one frame (or an unframed body) in a growable buffer plus a list of
// zero-copy file ranges. Memory and files form one ordered stream: chunks()
// returns it as memory runs and file ranges in order. Writing never fails;
// a value the wire cannot carry (a classic string over 32767 bytes, a null
// where the version has no null) is a programmer error and asserts.
class wire_writer {
 public:
  // A run of memory()[memory_offset, +memory_bytes), or a file range when
  // file.bytes > 0 (then memory_bytes is 0).
  struct chunk {
    size_t memory_offset = 0;
    size_t memory_bytes = 0;
    file_range file;
  };

  // Framed: starts with a 4-byte size placeholder that finish() patches.
  explicit wire_writer(bool framed = true);

  void write_int8(int8_t v) { _memory.push_back(static_cast<std::byte>(v)); }
  void write_int16(int16_t v) { write_uint16(static_cast<uint16_t>(v)); }
  void write_uint16(uint16_t v);
  void write_int32(int32_t v) { write_uint32(static_cast<uint32_t>(v)); }
  void write_uint32(uint32_t v);
  void write_int64(int64_t v) { write_uint64(static_cast<uint64_t>(v)); }
  void write_uint64(uint64_t v);
  void write_float64(double v);
  void write_bool(bool v) { write_int8(v ? 1 : 0); }
  void write_uvarint(uint32_t v) { write_uvarlong(v); }
  void write_uvarlong(uint64_t v);
  void write_varint(int32_t v);
  void write_varlong(int64_t v);
  void write_uuid(const uuid& v);
  void write_raw(std::span<const std::byte> b) {
    _memory.insert(_memory.end(), b.begin(), b.end());
  }

  void write_string(std::string_view s);
  void write_compact_string(std::string_view s);
  void write_nullable_string(std::optional<std::string_view> s);
  void write_compact_nullable_string(std::optional<std::string_view> s);

  void write_bytes(std::span<const std::byte> b);
  void write_compact_bytes(std::span<const std::byte> b);
  void write_nullable_bytes(std::optional<std::span<const std::byte>> b);
  void write_compact_nullable_bytes(std::optional<std::span<const std::byte>> b);

  void write_array_length(size_t n);
  void write_compact_array_length(size_t n);
  void write_null_array_length() { write_int32(-1); }
  void write_compact_null_array_length() { write_uvarint(0); }

  // Length prefix, then bytes copied, then each file range as a chunk.
  void write_records(const records_data& r);
  void write_compact_records(const records_data& r);

  // An empty tagged-field section.
  void write_empty_tagged_fields() { write_uvarint(0); }
  // A tagged field whose size is known only after writing it: begin writes
  // the tag and returns a mark; end inserts the uvarint size at the mark.
  // Only memory may be written in between (no file ranges).
  size_t begin_tagged_field(uint32_t tag);
  void end_tagged_field(size_t mark);

  // Ends the current memory run and sends `range` zero-copy after it.
  // Empty ranges are dropped.
  void append_file(file_range range);

  // Patches the frame size: every byte after the 4 size bytes, files included.
  void finish();

  const std::vector<std::byte>& memory() const noexcept { return _memory; }
  std::vector<chunk> chunks() const;
  uint64_t total_bytes() const noexcept { return _memory.size() + _file_bytes; }
  bool framed() const noexcept { return _framed; }
  // Empties the writer for reuse; keeps the buffers' capacity.
  void clear();

 private:
  struct file_at {
    size_t memory_offset;  // the file follows memory()[0, memory_offset)
    file_range range;
  };

  bool _framed;
  std::vector<std::byte> _memory;
  std::vector<file_at> _files;
  uint64_t _file_bytes = 0;
};

template <class OnTag>
void wire_reader::read_tagged_fields(OnTag&& on_tag) {
  const uint32_t count = read_uvarint();
  // Each field takes at least two bytes, so a failed read ends the loop
  // long before a huge count could matter.
  for (uint32_t i = 0; i < count && ok(); ++i) {
    const uint32_t tag = read_uvarint();
    const uint32_t size = read_uvarint();
    if (!ok()) return;
    if (size > static_cast<size_t>(_end - _pos)) {
      fail("tagged field runs past the end");
      return;
    }
    std::byte* const field_end = _pos + size;
    std::byte* const outer_end = _end;
    _end = field_end;
    const bool known = on_tag(tag);
    if (!ok()) return;  // _end stays at the field: nothing more is read anyway
    _end = outer_end;
    if (!known) {
      _pos = field_end;
    } else if (_pos != field_end) {
      fail("tagged field shorter than its size");
      return;
    }
  }
}

}  // namespace ringlog::protocol
