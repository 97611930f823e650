// segment: one `<20-digit base offset>.log` file and its two indexes. The
// .log holds v2 record batches back to back, exactly as Kafka writes them.
//
// A segment does no I/O of its own on the data path: partition_log reserves
// room with reserve() (which also feeds the indexes) and writes the bytes
// through the runtime. Opening and creating files is synchronous (open,
// ftruncate, mmap): it happens at start-up and on roll, never per append.
//
// Thread safety: owned by the shard of its partition. The .log descriptor is
// shared (segment_file) so a read in flight keeps it open after the segment
// is rolled away or deleted.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "engine/log/log_config.h"
#include "engine/log/offset_index.h"
#include "engine/log/time_index.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {

// An open .log file; closed when the last holder lets go.
struct segment_file {
  segment_file(int fd_, std::string path_) noexcept : fd(fd_), path(std::move(path_)) {}
  ~segment_file();
  segment_file(const segment_file&) = delete;
  segment_file& operator=(const segment_file&) = delete;

  const int fd;
  // Changes only when the cleaner renames the file (segment::rename_log).
  std::string path;
};

// "00000000000000000042" + suffix (".log", ".index", ".timeindex", ...).
std::string segment_file_name(int64_t base_offset, std::string_view suffix);
// Unlinks a segment's .log, .index and .timeindex (missing ones are fine;
// other failures are logged: the files are garbage either way).
void remove_segment_files(const std::string& dir, int64_t base_offset);
// fsync of a directory (a new, renamed or removed file's entry durable),
// opened for the call: a descriptor per partition directory held open would
// cost as many as the partitions.
task<status> fsync_dir_async(std::string dir);
// The base offset of a file named by segment_file_name, or -1.
int64_t parse_segment_file_name(std::string_view name, std::string_view suffix) noexcept;

class segment {
 public:
  // Creates the files of a new segment in `dir` (an existing .log is an error:
  // EEXIST). Its indexes are appendable, with room for config.index_max_bytes
  // each (index_file.h: in memory until the segment is sealed). A suffix
  // (".cleaned") is appended to every file name: the cleaner writes its
  // output under temporary names and renames them (rename_indexes, rename_log).
  static result<std::unique_ptr<segment>> create(const std::string& dir, int64_t base_offset,
                                                 const log_config& config, int64_t now_ms,
                                                 std::string_view suffix = {});
  // Opens an existing segment. Its size is the .log's size on disk; its
  // indexes are sealed (mapped read-only; created empty when absent) until
  // make_appendable().
  static result<std::unique_ptr<segment>> open(const std::string& dir, int64_t base_offset,
                                               const log_config& config);

  int64_t base_offset() const noexcept { return _base_offset; }
  const std::shared_ptr<segment_file>& file() const noexcept { return _file; }
  int fd() const noexcept { return _file->fd; }
  // Bytes reserved in the .log (writes in flight included).
  uint64_t size() const noexcept { return _size; }
  // The max timestamp of the first batch, or -1 when not known (a segment
  // opened from disk learns it from note_first_batch_timestamp).
  int64_t first_batch_timestamp() const noexcept { return _first_batch_timestamp; }
  void note_first_batch_timestamp(int64_t timestamp) noexcept {
    if (_size > 0) _first_batch_timestamp = timestamp;
  }
  // Largest batch max timestamp seen, and the last offset of its batch.
  int64_t max_timestamp() const noexcept { return _max_timestamp; }
  int64_t offset_of_max_timestamp() const noexcept { return _offset_of_max_timestamp; }
  // What time-based retention ages the segment by (Kafka's largestTimestamp):
  // its max timestamp, or when no batch carried one (all NO_TIMESTAMP, as
  // clients that set none send) the time of its last write, so such a
  // segment lives retention.ms past its last write instead of going at once.
  int64_t largest_timestamp() const noexcept {
    return _max_timestamp >= 0 ? _max_timestamp : _modified_ms;
  }
  // An append at now_ms: the segment's modification time moves with it.
  void note_write(int64_t now_ms) noexcept {
    if (now_ms > _modified_ms) _modified_ms = now_ms;
  }

  offset_index& offsets() noexcept { return _offsets; }
  time_index& times() noexcept { return _times; }
  const offset_index& offsets() const noexcept { return _offsets; }
  const time_index& times() const noexcept { return _times; }

  // Whether both indexes take appends (a created segment, or one given
  // make_appendable); a sealed segment takes no more batches.
  bool appendable() const noexcept { return _offsets.appendable() && _times.appendable(); }
  // Makes a sealed segment's indexes appendable again (the last segment at
  // start-up, a rebuild, a truncation).
  status make_appendable();
  // Writes an appendable segment's index entries to their files (no fdatasync).
  status persist_indexes();

  // Whether a batch of `bytes` ending at `last_offset` may still go into this
  // segment; false means roll first (sealed, size, age, full index, or a
  // relative offset that no longer fits in 32 bits).
  bool can_fit(uint64_t bytes, int64_t last_offset, int64_t now_ms) const noexcept;
  // A topic's segment.bytes / segment.ms changed: the active segment rolls by
  // the new limits from its next append on, as in Kafka.
  void set_roll_limits(int64_t segment_bytes, int64_t segment_ms) noexcept {
    _segment_bytes = segment_bytes;
    _segment_ms = segment_ms;
  }

  // Reserves the next `bytes` of the .log for a batch ending at last_offset
  // with the given max timestamp, adding index entries as Kafka does (one
  // every index_interval_bytes); returns the batch's file position.
  uint64_t reserve(uint64_t bytes, int64_t last_offset, int64_t max_timestamp) noexcept;

  // Cuts the segment at `position`, the start of the first batch holding an
  // offset >= `offset`: index entries at or past `offset` go, and the max
  // timestamp falls back to the time index's last entry (as Kafka does).
  // The caller truncates the file itself. Appendable segments only.
  void truncate_to(uint64_t position, int64_t offset) noexcept;

  // Resets the segment to empty, appendable indexes and 0 bytes (recovery
  // rebuilds the indexes by feeding reserve() every valid batch from
  // position 0).
  status reset_for_rebuild();

  // Closes the active role: the final time index entry, indexes written to
  // their files and sealed (on roll, on clean close, after a rebuild). The
  // caller fdatasyncs index_fds() when it needs them durable. A no-op on a
  // sealed segment.
  status seal();
  // New descriptors of the .index and .timeindex, for an fdatasync after
  // seal (closed when the last holder lets go).
  result<std::array<std::shared_ptr<segment_file>, 2>> open_indexes_for_sync() const;

  // Rename the segment's files from `<name><from>` to `<name><to>` (suffixes
  // such as ".cleaned", ".swap", or "" for the final names): the .index and
  // .timeindex, or the .log. Two calls because the cleaner's swap protocol
  // orders them (see cleaner.h). Open descriptors and mappings stay valid;
  // the paths they report follow. On failure the files already renamed keep
  // their new names.
  status rename_indexes(std::string_view from, std::string_view to);
  status rename_log(std::string_view from, std::string_view to);
  // The files have their final names (no temporary suffix).
  bool has_final_names() const;

  const std::string& dir() const noexcept { return _dir; }

 private:
  static result<std::unique_ptr<segment>> open_files(const std::string& dir, int64_t base_offset,
                                                     const log_config& config, int log_flags,
                                                     index_access indexes, int64_t created_ms,
                                                     std::string_view suffix);
  segment(std::string dir, int64_t base_offset, std::shared_ptr<segment_file> file, offset_index o,
          time_index t, const log_config& config, int64_t created_ms) noexcept;

  std::string _dir;
  int64_t _base_offset;
  std::shared_ptr<segment_file> _file;
  offset_index _offsets;
  time_index _times;
  int64_t _segment_bytes;
  int64_t _segment_ms;
  int32_t _index_interval_bytes;
  size_t _index_max_bytes;
  int64_t _created_ms;
  int64_t _modified_ms;  // the .log's mtime when opened, then the last append
  uint64_t _size = 0;
  uint64_t _bytes_since_index = 0;
  int64_t _first_batch_timestamp = -1;
  int64_t _max_timestamp = -1;
  int64_t _offset_of_max_timestamp = -1;
};

}  // namespace ringlog::storage
