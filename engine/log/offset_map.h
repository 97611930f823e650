// offset_map: the log cleaner's map from a record key to the offset of that
// key's latest record in the section being cleaned (Kafka's SkimpyOffsetMap).
//
// Bounded: it lives in a fixed block of memory (the shard's share of
// log.cleaner.dedupe.buffer.size) allocated once, of 16-byte slots holding
// the XXH64 of a key and an offset; open addressing with linear probing. It
// takes keys only up to load_factor of its slots (Kafka's
// log.cleaner.io.buffer.load.factor, 0.9): the cleaner stops mapping where it
// fills and cleans the prefix it mapped (cleaner.cc).
//
// A key is known by its 64-bit hash alone, as Kafka knows it by its MD5: two
// distinct keys with the same hash would count as one, and the older record
// of the one written first would go. With n keys in a clean the odds are
// about n^2 / 2^65 (10 million keys: 3 in a million per clean).
//
// Thread safety: none; one per shard's cleaner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ringlog::storage {

class offset_map {
 public:
  static constexpr size_t entry_bytes = 16;

  // A map in `memory_bytes` (at least two slots) that takes keys up to
  // load_factor (0, 1] of its slots.
  offset_map(size_t memory_bytes, double load_factor);

  // Forgets every key; latest_offset() becomes -1.
  void clear() noexcept;
  // Records `offset` as the latest of `key` (a higher offset replaces a
  // lower one: the cleaner feeds offsets in increasing order). Precondition:
  // !full() (asserted) — the caller stops before, as Kafka's cleaner does.
  void put(std::span<const std::byte> key, int64_t offset) noexcept;
  // The latest offset of `key`, or -1 when it is not in the map.
  int64_t get(std::span<const std::byte> key) const noexcept;

  // No key may be added any more.
  bool full() const noexcept { return _size >= _max_entries; }
  size_t size() const noexcept { return _size; }
  size_t slots() const noexcept { return _slots.size(); }
  size_t max_entries() const noexcept { return _max_entries; }
  double utilization() const noexcept {
    return static_cast<double>(_size) / static_cast<double>(_slots.size());
  }

  // The last offset the map covers: every record at or below it whose key
  // was put is accounted for.
  int64_t latest_offset() const noexcept { return _latest_offset; }
  void update_latest_offset(int64_t offset) noexcept {
    if (offset > _latest_offset) _latest_offset = offset;
  }

 private:
  struct slot {
    uint64_t hash;
    int64_t offset;  // -1: empty
  };
  static_assert(sizeof(slot) == entry_bytes);

  size_t home_of(uint64_t hash) const noexcept;

  std::vector<slot> _slots;
  size_t _max_entries;
  size_t _size = 0;
  int64_t _latest_offset = -1;
};

}  // namespace ringlog::storage
