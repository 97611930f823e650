// libFuzzer target for producer-state snapshot files
// (engine/log/producer_snapshot.h, docs/formats/producer_snapshot.md):
// arbitrary bytes through parse_producer_snapshot, the in-memory parser that
// read_producer_snapshot hands a file's bytes to, and the parsed entries
// through what the broker does with them on load
// (producer_states::restore_snapshot: snapshot_entry_problem for each entry,
// then partition_producers::restore, then sequence checks on produce and the
// next snapshot). Also the file-name parser list_producer_snapshots uses.
//
// A file that parses must round-trip exactly: format_producer_snapshot of the
// entries is the input, byte for byte (the format has one spelling). A state
// restored from entries that passed snapshot_entry_problem must write a
// snapshot whose entries pass it too (what we write we must read back).
//
// Random bytes almost never carry a valid CRC-32C, so the first byte picks a
// mode:
//   0  the rest is the file, as is
//   1  the rest is the file with its CRC field rewritten to match, so the
//      fuzzer reaches the count and entry checks and the loader
//   2  the rest is a file name for parse_producer_snapshot_file_name
// Anything else is mode 0.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/crc32c.h"
#include "broker/producer_state.h"
#include "engine/log/producer_snapshot.h"

namespace {

using namespace ringlog;
using ringlog::storage::producer_snapshot_entry;

void load(const std::vector<producer_snapshot_entry>& entries, int64_t at) {
  for (const auto& e : entries) {
    if (!broker::snapshot_entry_problem(e, at).empty()) return;  // the file is dropped
  }
  broker::partition_producers producers;
  for (const auto& e : entries) producers.restore(e);
  size_t distinct = 0;
  {
    std::vector<int64_t> ids;
    for (const auto& e : entries) ids.push_back(e.producer_id);
    std::sort(ids.begin(), ids.end());
    distinct = static_cast<size_t>(std::unique(ids.begin(), ids.end()) - ids.begin());
  }
  if (producers.producers() != distinct) __builtin_trap();

  // Produce-time checks against the restored state: a retry of the last
  // batch, the next batch, and a new epoch.
  for (const auto& e : entries) {
    const int32_t first = broker::last_sequence_of(e.last_sequence < 0 ? 0 : e.last_sequence, 1);
    (void)producers.check(e.producer_id, e.epoch, e.last_sequence, e.last_sequence);
    (void)producers.check(e.producer_id, e.epoch, first, first);
    (void)producers.check(e.producer_id, static_cast<int16_t>(e.epoch + 1), 0, 0);
    (void)producers.check(e.producer_id, std::numeric_limits<int16_t>::min(), 0, 0);
  }

  // The next snapshot, taken at the same offset (nothing appended since).
  const auto next = producers.snapshot(at, 1'700'000'000'000);
  for (const auto& s : next) {
    if (!broker::snapshot_entry_problem(s, at).empty()) __builtin_trap();
  }
  if (next.size() > distinct) __builtin_trap();
  const std::string file = storage::format_producer_snapshot(next);
  auto again = storage::parse_producer_snapshot(file, "next.snapshot");
  if (!again || *again != next) __builtin_trap();

  // A batch appended after the snapshot, then one more snapshot.
  if (!entries.empty()) {
    const auto& e = entries.front();
    if (at < std::numeric_limits<int64_t>::max() - 10) {
      const int32_t base = broker::last_sequence_of(e.last_sequence < 0 ? 0 : e.last_sequence, 1);
      producers.record(e.producer_id, e.epoch,
                       {base, broker::last_sequence_of(base, 2), at, at + 2, -1});
      for (const auto& s : producers.snapshot(at + 3, 1)) {
        if (!broker::snapshot_entry_problem(s, at + 3).empty()) __builtin_trap();
      }
    }
  }
}

void check_file(std::span<const std::byte> bytes) {
  auto parsed = storage::parse_producer_snapshot(bytes, "00000000000000000042.snapshot");
  if (!parsed) {
    if (parsed.error().message().empty()) __builtin_trap();
    return;
  }
  const std::string formatted = storage::format_producer_snapshot(*parsed);
  if (formatted.size() != bytes.size() ||
      !std::equal(bytes.begin(), bytes.end(), reinterpret_cast<const std::byte*>(formatted.data()))) {
    __builtin_trap();
  }
  // Snapshot offsets the loader could see with this file: the end past every
  // entry's last offset, the largest name, and 0.
  int64_t end = 0;
  for (const auto& e : *parsed) {
    if (e.last_offset >= end && e.last_offset < std::numeric_limits<int64_t>::max()) {
      end = e.last_offset + 1;
    }
  }
  load(*parsed, end);
  load(*parsed, std::numeric_limits<int64_t>::max());
  load(*parsed, 0);
}

void check_name(std::string_view name) {
  const int64_t offset = storage::parse_producer_snapshot_file_name(name);
  if (offset < -1) __builtin_trap();
  if (offset >= 0) {
    // A name that parses is the name of that offset.
    if (storage::parse_producer_snapshot_file_name(storage::producer_snapshot_file_name(offset)) !=
        offset) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::vector<std::byte> rest(reinterpret_cast<const std::byte*>(data) + 1,
                              reinterpret_cast<const std::byte*>(data) + size);
  switch (mode) {
    case 1:
      if (rest.size() >= storage::k_producer_snapshot_header_bytes) {
        const std::span<const std::byte> covered =
            std::span<const std::byte>(rest).subspan(storage::k_producer_snapshot_count_pos);
        store_be32(rest.data() + storage::k_producer_snapshot_crc_pos, crc32c(covered));
      }
      check_file(rest);
      break;
    case 2:
      check_name(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
      break;
    default:
      check_file(rest);
      break;
  }
  return 0;
}
