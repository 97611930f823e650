// Kafka's producer-state snapshot file, `<20-digit offset>.snapshot` in a
// partition directory (docs/formats/producer_snapshot.md, FORMATS.md §6,
// Kafka's storage/.../ProducerSnapshot.json version 1). The number in the name
// is the log end offset the state was taken at (exclusive): the file holds
// what the batches below that offset said about each producer, so loading it
// and scanning the log from that offset on gives the state at the log end.
//
// Layout, big-endian, no padding:
//   0  version        int16   1
//   2  crc            uint32  CRC-32C of every byte after this field, [6, end)
//   6  entry count    int32   (not nullable: negative is corrupt)
//  10  entries, 46 bytes each:
//        0  producer id                int64
//        8  epoch                      int16
//       10  last sequence              int32   (-1: no batch, epoch only)
//       14  last offset                int64   (-1: no batch)
//       22  offset delta               int32   last sequence - first sequence
//                                              of the last batch
//       26  timestamp                  int64   max timestamp of the last batch
//       34  coordinator epoch          int32   (-1 without transactions)
//       38  current txn first offset   int64   (-1: no open transaction)
//
// Kafka keeps only each producer's LAST batch here; the broker's dedup window
// holds more (broker/producer_state.h), and gets the later ones back from the
// log scan after the snapshot offset, as Kafka does.
//
// Parsing is strict and structural: a short file, another version, a CRC
// mismatch, a count past the end or bytes after the last entry are each an
// errc::corrupt_checkpoint naming the file and the byte position. What the
// values mean (a plausible offset, a known producer) is the loader's business.
//
// Thread safety: the format functions are pure; the file functions run on the
// calling shard and must not race another writer of the same partition
// directory (its owning shard is the only one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {

inline constexpr std::string_view k_producer_snapshot_suffix = ".snapshot";
inline constexpr int16_t k_producer_snapshot_version = 1;
inline constexpr size_t k_producer_snapshot_crc_pos = 2;
// Where the CRC'd bytes start: the entry count.
inline constexpr size_t k_producer_snapshot_count_pos = 6;
inline constexpr size_t k_producer_snapshot_header_bytes = 10;
inline constexpr size_t k_producer_snapshot_entry_bytes = 46;
static_assert(k_producer_snapshot_header_bytes == 2 + 4 + 4);
static_assert(k_producer_snapshot_entry_bytes == 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8);
// Cap for reading one snapshot: 64 MiB is 1.45 million producers in one
// partition, far past what a partition sees (Kafka's own producer-id
// expiration keeps it in the thousands); a larger file is not a snapshot.
inline constexpr size_t producer_snapshot_bytes_max = size_t{64} << 20;
// Snapshots kept per partition after each write: the newest, and one older in
// case the newest is found corrupt.
inline constexpr size_t k_producer_snapshots_kept = 2;

// One producer, in the file's field order.
struct producer_snapshot_entry {
  int64_t producer_id = -1;
  int16_t epoch = -1;
  int32_t last_sequence = -1;
  int64_t last_offset = -1;
  int32_t offset_delta = 0;
  int64_t timestamp = -1;
  int32_t coordinator_epoch = -1;
  int64_t current_txn_first_offset = -1;
  friend bool operator==(const producer_snapshot_entry&, const producer_snapshot_entry&) = default;
};

// "00000000000000000042.snapshot"; and back (-1 for any other name).
std::string producer_snapshot_file_name(int64_t offset);
int64_t parse_producer_snapshot_file_name(std::string_view name) noexcept;

// The file contents for `entries`, in their order.
std::string format_producer_snapshot(std::span<const producer_snapshot_entry> entries);
// Parses a whole file; errors read "<path>: <what> at byte <n>".
result<std::vector<producer_snapshot_entry>> parse_producer_snapshot(
    std::span<const std::byte> bytes, std::string_view path_for_errors);
result<std::vector<producer_snapshot_entry>> parse_producer_snapshot(
    std::string_view bytes, std::string_view path_for_errors);

// The offsets of dir's *.snapshot files, ascending (synchronous readdir: at
// most once per partition per run, on its first idempotent produce).
result<std::vector<int64_t>> list_producer_snapshots(const std::string& dir);

// Reads and parses dir/<offset>.snapshot through the ring. A missing file is
// the system error ENOENT; larger than producer_snapshot_bytes_max is
// errc::file_too_large.
task<result<std::vector<producer_snapshot_entry>>> read_producer_snapshot(std::string dir,
                                                                          int64_t offset);

// Writes dir/<offset>.snapshot atomically (write_file_atomically: after a
// crash the file is whole or absent), then removes every snapshot but the
// newest k_producer_snapshots_kept.
task<status> write_producer_snapshot(std::string dir, int64_t offset,
                                     std::vector<producer_snapshot_entry> entries);

// Unlinks dir/<offset>.snapshot; a missing file is fine.
task<status> remove_producer_snapshot(std::string dir, int64_t offset);

}  // namespace ringlog::storage
