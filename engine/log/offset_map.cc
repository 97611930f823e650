#include "engine/log/offset_map.h"

#include <xxhash.h>

#include <algorithm>

#include "base/assert.h"

namespace ringlog::storage {
namespace {

uint64_t hash_key(std::span<const std::byte> key) noexcept {
  return XXH64(key.data(), key.size(), 0);
}

}  // namespace

offset_map::offset_map(size_t memory_bytes, double load_factor)
    : _slots(memory_bytes / entry_bytes, slot{0, -1}) {
  RINGLOG_ASSERT(_slots.size() >= 2, "offset map of {} bytes holds fewer than two slots",
                 memory_bytes);
  RINGLOG_ASSERT(load_factor > 0 && load_factor <= 1, "offset map load factor {}", load_factor);
  // One slot always stays empty, so every probe ends.
  _max_entries = std::min(
      _slots.size() - 1,
      std::max<size_t>(1, static_cast<size_t>(static_cast<double>(_slots.size()) * load_factor)));
}

void offset_map::clear() noexcept {
  std::fill(_slots.begin(), _slots.end(), slot{0, -1});
  _size = 0;
  _latest_offset = -1;
}

// Lemire's multiply-shift range reduction: every slot is used, no modulo.
size_t offset_map::home_of(uint64_t hash) const noexcept {
  return static_cast<size_t>((static_cast<unsigned __int128>(hash) * _slots.size()) >> 64);
}

void offset_map::put(std::span<const std::byte> key, int64_t offset) noexcept {
  RINGLOG_ASSERT(offset >= 0, "offset map: negative offset {}", offset);
  const uint64_t h = hash_key(key);
  for (size_t i = home_of(h);; i = i + 1 == _slots.size() ? 0 : i + 1) {
    slot& s = _slots[i];
    if (s.offset < 0) {
      RINGLOG_ASSERT(!full(), "offset map: put into a full map ({} of {} slots)", _size,
                     _slots.size());
      s = slot{h, offset};
      ++_size;
      return;
    }
    if (s.hash == h) {
      if (offset > s.offset) s.offset = offset;
      return;
    }
  }
}

int64_t offset_map::get(std::span<const std::byte> key) const noexcept {
  const uint64_t h = hash_key(key);
  for (size_t i = home_of(h);; i = i + 1 == _slots.size() ? 0 : i + 1) {
    const slot& s = _slots[i];
    if (s.offset < 0) return -1;
    if (s.hash == h) return s.offset;
  }
}

}  // namespace ringlog::storage
