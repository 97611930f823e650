// The output of ringlog-dump: every line it prints goes through a reporter,
// which renders each event either as a text line or as one JSON object per
// line (--json). The field names are shared by both forms and documented in
// docs/tools/ringlog-dump.md; changing one is a change to a user interface.
//
// Text lines start with their type ("file", "batch", "  record", "entry",
// "problem", "note", "summary") so `grep '^problem'` finds every problem;
// JSON objects carry it in "type".
//
// The reporter also counts problems, which decide the exit status.
//
// Thread safety: none; one reporter per run.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "engine/record/record.h"
#include "tools/dump/render.h"

namespace ringlog::dump {

// What a problem is about; its name is the "kind" field of a JSON problem.
enum class problem_kind {
  unreadable,               // the file cannot be opened or read (exit status 2)
  trailing_bytes,           // fewer bytes left than a batch's 12-byte framing
  zero_tail,                // the rest of the log is zeros (preallocated or unflushed)
  bad_batch_length,         // batchLength below the smallest possible batch
  torn_batch,               // a batch runs past the end of the file
  bad_magic,                // magic byte neither 2 nor a legacy 0/1
  legacy_message,           // a magic 0/1 message, skipped by its length
  crc_mismatch,             // stored CRC-32C differs from the computed one
  invalid_batch,            // header checks of record_batch_view::parse
  offset_order,             // baseOffset not above the previous batch / below the segment
  offset_overflow,          // lastOffset too far above the segment base for the indexes
  invalid_records,          // a record, or the compressed stream, does not decode
  invalid_control,          // a control record whose key or value does not decode
  bad_base_offset,          // the base offset in the file name cannot index
  index_size,               // index size not a whole number of entries
  index_order,              // index entry not increasing from its predecessor
  index_garbage,            // non-zero bytes after the entries (past the first zero slot)
  index_mid_batch,          // offset index position inside a batch, not at its start
  index_past_end,           // offset index position at or past the end of the log
  index_unreadable_region,  // position past the last readable batch, within the file
  index_offset_mismatch,    // the offset is not in the batch(es) the entry points at
  time_index_offset,        // time index offset outside the log
  time_index_timestamp,     // timestamp above every batch max timestamp up to its offset
  checkpoint,               // a checkpoint file that does not parse
};

std::string_view to_string(problem_kind kind) noexcept;

struct problem {
  problem_kind kind;
  std::string file;
  // Byte position in `file`, where there is one.
  std::optional<uint64_t> position{};
  // Index entry number (index problems) or line number (checkpoints).
  std::optional<uint64_t> entry{};
  std::optional<uint64_t> line{};
  std::string message;
};

// The decoded 61-byte header of one batch, read from the raw bytes so that a
// batch with a bad CRC can still be shown.
struct batch_info {
  uint64_t position = 0;
  uint64_t size = 0;
  int64_t base_offset = 0;
  int32_t last_offset_delta = 0;
  int32_t partition_leader_epoch = 0;
  int8_t magic = 0;
  uint32_t crc = 0;
  uint32_t computed_crc = 0;
  uint16_t attributes = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = 0;
  int16_t producer_epoch = 0;
  int32_t base_sequence = 0;
  int32_t records_count = 0;

  int64_t last_offset() const noexcept {
    return static_cast<int64_t>(static_cast<uint64_t>(base_offset) +
                                static_cast<uint64_t>(static_cast<int64_t>(last_offset_delta)));
  }
  bool crc_valid() const noexcept { return crc == computed_crc; }
};

// A decoded control record (the key, and the marker value for COMMIT/ABORT).
struct control_info {
  int16_t key_version = 0;
  int16_t type = 0;
  std::optional<int16_t> marker_version{};
  std::optional<int32_t> coordinator_epoch{};
};

struct record_info {
  uint64_t batch_position = 0;
  const record::record_view* record = nullptr;
  int32_t sequence = -1;
  std::optional<control_info> control{};
};

enum class file_kind {
  segment,
  offset_index,
  time_index,
  offset_checkpoint,
  leader_epoch_checkpoint,
};

std::string_view to_string(file_kind kind) noexcept;

// The end-of-file line: counts relevant to the file's kind.
struct file_summary {
  std::string file;
  file_kind kind = file_kind::segment;
  bool verified = false;                           // --verify-index ran for this file
  uint64_t batches = 0;                            // segment
  uint64_t records = 0;                            // segment: sum of recordsCount
  uint64_t valid_bytes = 0;                        // segment: bytes up to where reading stopped
  uint64_t size = 0;                               // bytes in the file
  uint64_t entries = 0;                            // index or checkpoint entries
  std::optional<uint64_t> offset_index_entries{};  // verified against the log
  std::optional<uint64_t> time_index_entries{};
  uint64_t problems = 0;
};

// The control type's name: COMMIT, ABORT, ..., or UNKNOWN(n).
std::string control_type_name(int16_t type);

struct render_options {
  bool json = false;
  bool print_values = false;
  value_encoding encoding = value_encoding::utf8;
  size_t max_bytes = 256;
};

class reporter {
 public:
  reporter(std::ostream& out, const render_options& options) : _out(out), _options(options) {}

  void file_start(std::string_view file, file_kind kind, std::optional<int64_t> base_offset,
                  uint64_t size);
  void file_end(const file_summary& summary);
  void batch(std::string_view file, const batch_info& batch);
  void record(std::string_view file, const record_info& record);
  void offset_entry(std::string_view file, uint64_t entry, int64_t offset, uint32_t position);
  void time_entry(std::string_view file, uint64_t entry, int64_t timestamp, int64_t offset);
  void checkpoint_entry(std::string_view file, std::string_view topic, int32_t partition,
                        int64_t offset);
  void epoch_entry(std::string_view file, int32_t epoch, int64_t start_offset);
  void note(std::string_view file, std::optional<uint64_t> position, std::string_view message);
  void report(const problem& p);

  // Problems reported so far, in total.
  uint64_t problems() const noexcept { return _problems; }

 private:
  void line(const std::string& text);

  std::ostream& _out;
  render_options _options;
  uint64_t _problems = 0;
};

}  // namespace ringlog::dump
