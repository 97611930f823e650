// The records inside a RecordBatch v2 (FORMATS.md §2) and the iterator that
// decodes and validates them:
//
//   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
//   | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value
//   | headersCount varint | headers: keyLength varint, key (never null),
//                                    valueLength varint (-1 = null), value
//
// Uncompressed batches are read in place, with no allocation. Compressed ones
// are decompressed once into a caller-owned scratch vector whose capacity the
// caller reuses across batches; views point into it.
//
// Lifetime: record_view, its key, value and headers point into the batch bytes
// or the scratch vector; they stay valid while those do and scratch is not
// reused. Thread safety: an iterator belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/record/errc.h"
#include "engine/record/record_batch.h"

namespace ringlog::record {

// A byte string that may be null; null (std::nullopt) is distinct from empty.
using nullable_bytes = std::optional<std::span<const std::byte>>;

inline nullable_bytes as_bytes(std::string_view text) noexcept {
  return std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size());
}

struct record_header {
  std::string_view key{};  // never null; UTF-8 by convention (not checked, as in Kafka)
  nullable_bytes value{};
};

// The headers of one record, decoded on demand from bytes that
// record_iterator has already validated.
class header_range {
 public:
  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::forward_iterator_tag;
    using value_type = record_header;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    const record_header& operator*() const noexcept { return _current; }
    const record_header* operator->() const noexcept { return &_current; }
    iterator& operator++() noexcept;
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const iterator& other) const noexcept { return _left == other._left; }

   private:
    friend class header_range;
    iterator(std::span<const std::byte> rest, int32_t left) noexcept;
    void decode() noexcept;

    std::span<const std::byte> _rest;  // encoded headers after _current
    int32_t _left = 0;                 // headers not yet passed, _current included
    record_header _current;
  };

  header_range() = default;
  iterator begin() const noexcept { return {_bytes, _count}; }
  iterator end() const noexcept { return {}; }
  int32_t size() const noexcept { return _count; }
  bool empty() const noexcept { return _count == 0; }

 private:
  friend class record_iterator;
  header_range(std::span<const std::byte> bytes, int32_t count) noexcept
      : _bytes(bytes), _count(count) {}

  std::span<const std::byte> _bytes;
  int32_t _count = 0;
};

class record_view {
 public:
  int8_t attributes() const noexcept { return _attributes; }
  int64_t timestamp_delta() const noexcept { return _timestamp_delta; }
  int32_t offset_delta() const noexcept { return _offset_delta; }
  // baseOffset + offsetDelta.
  int64_t offset() const noexcept { return _offset; }
  // baseTimestamp + timestampDelta, or the batch's maxTimestamp under LogAppendTime.
  int64_t timestamp() const noexcept { return _timestamp; }
  const nullable_bytes& key() const noexcept { return _key; }
  // Null is a tombstone (deletes the key under compaction).
  const nullable_bytes& value() const noexcept { return _value; }
  header_range headers() const noexcept { return _headers; }
  // The encoded record, its length varint included.
  std::span<const std::byte> bytes() const noexcept { return _bytes; }

 private:
  friend class record_iterator;

  int8_t _attributes = 0;
  int32_t _offset_delta = 0;
  int64_t _timestamp_delta = 0;
  int64_t _offset = 0;
  int64_t _timestamp = 0;
  nullable_bytes _key;
  nullable_bytes _value;
  header_range _headers;
  std::span<const std::byte> _bytes;
};

// Decodes the records of one batch in order, checking every length against
// what remains. Errors (invalid_record unless said otherwise), each naming the
// record index and its byte position: a length varint that is malformed or
// negative; a declared record length that disagrees with the fields it holds;
// a key, value or header length below -1 (or a null header key); fewer records
// than recordsCount; bytes after the last one; offset deltas that are not 0..n-1
// (or, with allow_offset_gaps, not strictly increasing up to lastOffsetDelta);
// a compressed stream that fails to decompress (corrupt_message) or expands
// past max_decompressed_bytes (message_too_large).
//
// next() returns std::nullopt only after all recordsCount records, once the
// trailing-bytes check has passed; the first error is returned again by every
// later call.
class record_iterator {
 public:
  // `batch` came from record_batch_view::parse (ideally with the same options).
  // For a compressed batch the records are decompressed here into `scratch`
  // (cleared first), which must outlive the iterator and its record_views;
  // an uncompressed batch leaves `scratch` untouched.
  static result<record_iterator> open(const record_batch_view& batch,
                                      std::vector<std::byte>& scratch,
                                      const validate_options& options = {});

  result<std::optional<record_view>> next();

  // Records returned so far.
  int32_t records_read() const noexcept { return _index; }
  // The uncompressed records: a view into the batch or into scratch.
  std::span<const std::byte> records_bytes() const noexcept { return _records; }

 private:
  record_iterator() = default;
  ringlog::error fail(errc code, std::string detail);
  std::string where(size_t pos) const;

  std::span<const std::byte> _records;
  size_t _pos = 0;
  bool _compressed = false;
  bool _log_append_time = false;
  bool _allow_offset_gaps = false;
  int32_t _index = 0;
  int32_t _count = 0;
  int32_t _last_offset_delta = 0;
  int32_t _previous_offset_delta = -1;
  int64_t _base_offset = 0;
  int64_t _base_timestamp = 0;
  int64_t _max_timestamp = 0;
  std::optional<ringlog::error> _failure;
};

// Walks every record of `batch` and reports the first problem: the full
// validation a Produce applies after record_batch_view::parse.
status validate_records(const record_batch_view& batch, std::vector<std::byte>& scratch,
                        const validate_options& options = {});

}  // namespace ringlog::record
