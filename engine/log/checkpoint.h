// Kafka's text checkpoint files (docs/formats/checkpoint.md), and the crash-safe
// way to replace a small file.
//
// Offset checkpoints, one per log dir (recovery-point-offset-checkpoint,
// log-start-offset-checkpoint, replication-offset-checkpoint,
// cleaner-offset-checkpoint):
//   0\n                       version
//   2\n                       entry count
//   orders 0 1500\n           topic partition offset
//   orders 1 700\n
// Leader-epoch checkpoint, one per partition dir (leader-epoch-checkpoint):
//   0\n  count\n  then "epoch start_offset\n" per entry.
// Fields are separated by exactly one space, lines end with '\n'. An empty
// file reads as no entries (Kafka creates checkpoint files empty).
//
// Parsing is strict: every deviation from what Kafka writes is an
// errc::corrupt_checkpoint naming the file, the line and what is wrong; the
// caller decides whether to fall back (recover everything) or refuse to start.
// Parsers check syntax and ranges only: order and duplicates are the business
// of whoever applies the entries (the leader-epoch cache, the log manager).
//
// Thread safety: pure functions; write_file_atomically runs on the calling
// shard and must not race another write of the same name (one writer per log
// dir, as in Kafka).
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

inline constexpr std::string_view recovery_point_checkpoint_file =
    "recovery-point-offset-checkpoint";
inline constexpr std::string_view log_start_offset_checkpoint_file = "log-start-offset-checkpoint";
inline constexpr std::string_view replication_offset_checkpoint_file =
    "replication-offset-checkpoint";
inline constexpr std::string_view cleaner_offset_checkpoint_file = "cleaner-offset-checkpoint";
inline constexpr std::string_view leader_epoch_checkpoint_file = "leader-epoch-checkpoint";

// Cap for reading a checkpoint at start-up. The longest offset line is 281
// bytes (249-byte topic + 10-digit partition + 19-digit offset + 2 spaces +
// '\n'), so 64 MiB holds over 238,000 partitions per log dir, well past the
// 10,000-100,000 a broker is built for; anything larger is not a checkpoint.
inline constexpr size_t checkpoint_bytes_max = 64 * 1024 * 1024;

struct checkpoint_entry {
  std::string topic;
  int32_t partition;
  int64_t offset;
  friend bool operator==(const checkpoint_entry&, const checkpoint_entry&) = default;
};

struct epoch_entry {
  int32_t epoch;
  int64_t start_offset;
  friend bool operator==(const epoch_entry&, const epoch_entry&) = default;
};

// The file contents for `entries`, in their order. Asserts each entry would
// parse back: a legal topic name, partition, epoch and offsets >= 0.
std::string format_offset_checkpoint(std::span<const checkpoint_entry> entries);
std::string format_leader_epoch_checkpoint(std::span<const epoch_entry> entries);

// Parses a checkpoint; errors read "<path>:<line>: <what is wrong>".
result<std::vector<checkpoint_entry>> parse_offset_checkpoint(std::string_view text,
                                                              std::string_view path_for_errors);
result<std::vector<epoch_entry>> parse_leader_epoch_checkpoint(std::string_view text,
                                                               std::string_view path_for_errors);

// Kafka's topic name rule: 1..249 characters of [a-zA-Z0-9._-].
bool is_legal_topic_name(std::string_view topic) noexcept;

// Replaces dir/name with `contents` so that after a crash at any point the
// file holds either its old or its new contents, in full: write dir/name.tmp
// (short writes looped), fsync it, rename it over dir/name, fsync dir (without
// that the rename itself may be lost). On failure the .tmp is removed
// (best effort) and the error names the operation and the path. Runs on the
// calling shard's ring.
task<status> write_file_atomically(std::string dir, std::string name, std::string contents);

// Reads a whole small file synchronously (start-up only). Larger than
// max_bytes: errc::file_too_large. A missing file is the system error ENOENT
// (error::sys_errno()), which callers usually treat as "no checkpoint yet".
result<std::string> read_small_file(const std::string& path, size_t max_bytes);

}  // namespace ringlog::storage
