// Opening a partition log: find its segments, re-read what may not have been
// durable, cut a torn or corrupt tail, rebuild indexes that cannot be trusted.
//
// What is re-read: with a clean-shutdown marker, nothing but the tail of the
// last segment after its last index entry (to learn the log end offset).
// Otherwise every segment from the one holding the recovery point onwards:
// each batch is CRC-checked and fed to the indexes again. Start-up time thus
// grows with the data written since the last checkpoint, not with the log.
//
// A batch that fails (truncated by a crash mid-write, or corrupt) ends the
// log: the segment is truncated at its start and later segments are deleted.
// Under durable-by-default appends nothing acknowledged can be there: an
// acknowledged batch was fdatasync'd, so it reads back whole.
//
// Before any of that, a compaction the last run did not finish is rolled
// back or completed, as Kafka's LogLoader does (the swap protocol is in
// cleaner.h): `.cleaned` files are deleted, a `<base>.log.swap` replaces the
// segments it covers and takes its final name, and the indexes of such a
// segment are rebuilt from its .log.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>

#include "base/clock.h"
#include "base/log.h"
#include "engine/log/errc.h"
#include "engine/log/partition_log.h"
#include "engine/log/recovery.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/io.h"

namespace ringlog::storage {

namespace {

constexpr size_t k_scan_chunk_bytes = size_t{1} << 20;

// The base offset of any segment file name: 20 digits, then one of the
// segment extensions and nothing else (no temporary suffix); -1 otherwise.
int64_t segment_file_base(std::string_view name) {
  for (std::string_view ext : {".log", ".index", ".timeindex", ".txnindex"}) {
    const int64_t base = parse_segment_file_name(name, ext);
    if (base >= 0) return base;
  }
  return -1;
}

// The offset after the last batch of a whole segment file (its base offset
// when empty), from the batch headers. A file that does not end on a batch
// boundary is corrupt: a .swap was synced before it was renamed.
task<result<int64_t>> file_end_offset(const std::string& path, int64_t base) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) co_return error::from_errno(errno, "open", path);
  std::vector<std::byte> buf(k_scan_chunk_bytes);
  uint64_t pos = 0;  // file position of buf[0]
  size_t have = 0;
  int64_t end = base;
  for (;;) {
    auto n = co_await io::read(fd, std::span(buf.data() + have, buf.size() - have), pos + have);
    if (!n) {
      ::close(fd);
      co_return std::move(n).error();
    }
    have += *n;
    size_t off = 0;
    while (have - off >= record::k_log_overhead) {
      auto size = record::record_batch_view::peek_size(std::span(buf.data() + off, have - off));
      if (!size) {
        ::close(fd);
        co_return make_error(errc::corrupt_segment, "recover_swap",
                             fmt::format("{}: no batch at position {}", path, pos + off));
      }
      if (*size > have - off) {
        if (*size > buf.size()) buf.resize(*size);
        break;
      }
      if (*size < record::k_last_offset_delta_pos + 4) break;
      const auto batch_base = static_cast<int64_t>(load_be64(buf.data() + off));
      const auto delta =
          static_cast<int32_t>(load_be32(buf.data() + off + record::k_last_offset_delta_pos));
      end = batch_base + delta + 1;
      off += *size;
    }
    std::copy(buf.begin() + static_cast<ptrdiff_t>(off), buf.begin() + static_cast<ptrdiff_t>(have),
              buf.begin());
    have -= off;
    pos += off;
    if (*n == 0) break;
  }
  ::close(fd);
  if (have > 0) {
    co_return make_error(errc::corrupt_segment, "recover_swap",
                         fmt::format("{}: {} bytes at position {} are not a whole batch", path,
                                     have, pos));
  }
  co_return end;
}

// Rolls back or completes the cleaner's swaps (cleaner.h): deletes `.cleaned`
// files and index `.swap` files; for each `<base>.log.swap`, deletes the
// segment files it replaces (base offsets in [base, the swap's end offset))
// and renames it `<base>.log`. Returns the base offsets whose indexes must be
// rebuilt. Kafka deletes the segments between the lowest and highest swap of
// the directory at once; each swap here covers only its own range.
task<result<std::vector<int64_t>>> complete_interrupted_swaps(const std::string& dir) {
  std::vector<int64_t> rebuild;
  std::vector<std::string> names;
  {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) co_return error::from_errno(errno, "opendir", dir);
    while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
  }
  std::vector<int64_t> swaps;
  bool changed = false;
  for (const std::string& name : names) {
    const bool cleaned = name.ends_with(".cleaned");
    const bool swap = name.ends_with(".swap");
    if (!cleaned && !swap) continue;
    const std::string_view stem = std::string_view(name).substr(0, name.rfind('.'));
    const int64_t base = segment_file_base(stem);
    if (swap && parse_segment_file_name(stem, ".log") >= 0) {
      swaps.push_back(base);
      continue;
    }
    const std::string path = dir + "/" + name;
    RINGLOG_WARN("{}: removing {} left by an unfinished compaction", dir, name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      co_return error::from_errno(errno, "unlink", path);
    }
    changed = true;
    if (swap && base >= 0) rebuild.push_back(base);
  }
  std::sort(swaps.begin(), swaps.end());
  for (int64_t base : swaps) {
    const std::string swap_path = dir + "/" + segment_file_name(base, ".log") + ".swap";
    auto end = co_await file_end_offset(swap_path, base);
    if (!end) co_return std::move(end).error();
    for (const std::string& name : names) {
      const int64_t b = segment_file_base(name);
      if (b < base || b >= *end) continue;
      const std::string path = dir + "/" + name;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        co_return error::from_errno(errno, "unlink", path);
      }
    }
    const std::string final_path = dir + "/" + segment_file_name(base, ".log");
    if (::rename(swap_path.c_str(), final_path.c_str()) != 0) {
      co_return error::from_errno(errno, "rename", swap_path);
    }
    RINGLOG_WARN("{}: finished the compaction of offsets [{}, {}) interrupted by the last stop", dir,
                 base, *end);
    rebuild.push_back(base);
    changed = true;
  }
  if (changed) {
    if (auto st = co_await fsync_dir_async(dir); !st) co_return st.error();
  }
  co_return rebuild;
}

result<std::vector<int64_t>> list_segments(const std::string& dir) {
  std::vector<int64_t> bases;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return error::from_errno(errno, "opendir", dir);
  while (dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    const int64_t base = parse_segment_file_name(name, ".log");
    if (base >= 0) {
      bases.push_back(base);
    } else if (name.ends_with(".deleted")) {
      // A deletion the last run scheduled but did not finish (Kafka's way).
      const std::string path = dir + "/" + std::string(name);
      if (::unlink(path.c_str()) != 0) RINGLOG_WARN("cannot remove {}: {}", path, strerrordesc_np(errno));
    }
  }
  ::closedir(d);
  std::sort(bases.begin(), bases.end());
  return bases;
}

}  // namespace

task<result<uint64_t>> scan_segment(segment& seg, uint64_t file_size, int64_t& next_offset,
                                    recovery_report& report) {
  if (auto st = seg.reset_for_rebuild(); !st) co_return std::move(st).error();
  std::vector<std::byte> buf(
      std::min<uint64_t>(k_scan_chunk_bytes, std::max<uint64_t>(file_size, 1)));
  uint64_t pos = 0;  // file position of buf[0]
  int64_t expected = next_offset;
  while (pos < file_size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), file_size - pos));
    size_t have = 0;
    while (have < want) {
      auto n = co_await io::read(seg.fd(), std::span(buf.data() + have, want - have), pos + have);
      if (!n) co_return std::move(n).error();
      if (*n == 0) break;
      have += *n;
    }
    report.bytes_scanned += have;
    size_t off = 0;
    for (;;) {
      std::span<const std::byte> rest(buf.data() + off, have - off);
      if (rest.size() < record::k_log_overhead) break;
      auto size = record::record_batch_view::peek_size(rest);
      if (!size) co_return pos + off;  // not a batch: the log ends here
      if (*size > rest.size()) {
        if (pos + off + *size > file_size) co_return pos + off;  // torn: cut by the crash
        if (*size > buf.size()) buf.resize(*size);               // one batch larger than a chunk
        break;
      }
      auto batch = record::record_batch_view::parse(rest.first(*size), {.allow_offset_gaps = true});
      if (!batch || batch->base_offset() < expected) {
        RINGLOG_WARN(
            "{}: invalid batch at position {}: {}", seg.file()->path, pos + off,
            batch ? fmt::format("offset {} below the expected {}", batch->base_offset(), expected)
                  : batch.error().message());
        co_return pos + off;
      }
      seg.reserve(*size, batch->last_offset(), batch->max_timestamp());
      expected = batch->last_offset() + 1;
      next_offset = expected;
      off += *size;
    }
    if (off == 0 && have < record::k_log_overhead) co_return pos;  // a few stray bytes at the end
    pos += off;
  }
  co_return pos;
}

task<result<int64_t>> segment_end_offset(segment& seg) {
  int64_t next = seg.base_offset();
  uint64_t pos = 0;
  if (seg.offsets().entries() > 0) pos = seg.offsets().last_entry().position;
  std::byte header[record::k_last_offset_delta_pos + 4];
  while (pos + sizeof header <= seg.size()) {
    auto n = co_await io::read(seg.fd(), header, pos);
    if (!n) co_return std::move(n).error();
    if (*n < sizeof header) break;
    auto size = record::record_batch_view::peek_size(header);
    if (!size) co_return std::move(size).error();
    const int64_t base = static_cast<int64_t>(load_be64(header));
    const int32_t delta = static_cast<int32_t>(load_be32(header + record::k_last_offset_delta_pos));
    next = base + delta + 1;
    pos += *size;
  }
  co_return next;
}

task<result<std::unique_ptr<partition_log>>> partition_log::open(std::string dir, log_config config,
                                                                 flusher& flusher,
                                                                 recovery_state state) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) co_return error::from_errno(ec.value(), "mkdir", dir);
  std::unique_ptr<partition_log> log(new partition_log(dir, config, flusher));
  struct stat dir_stat {};
  if (::stat(dir.c_str(), &dir_stat) != 0) co_return error::from_errno(errno, "stat", dir);
  log->_dev = static_cast<uint64_t>(dir_stat.st_dev);

  auto rebuild = co_await complete_interrupted_swaps(dir);
  if (!rebuild) co_return std::move(rebuild).error();
  auto bases = list_segments(dir);
  if (!bases) co_return std::move(bases).error();
  recovery_report& report = log->_recovery;

  if (bases->empty()) {
    auto s = segment::create(dir, state.log_start_offset, config, wall_ms());
    if (!s) co_return std::move(s).error();
    log->_segments.push_back(std::move(*s));
    log->_dir_dirty = true;
    log->_log_start_offset = state.log_start_offset;
    log->_next_offset = state.log_start_offset;
  } else {
    for (int64_t base : *bases) {
      auto s = segment::open(dir, base, config);
      if (!s) co_return std::move(s).error();
      log->_segments.push_back(std::move(*s));
    }
    // The first segment that may hold data not known to be durable.
    size_t first_dirty = log->_segments.size();
    if (!state.clean_shutdown) {
      first_dirty = 0;
      for (size_t i = 0; i < log->_segments.size(); ++i) {
        if (log->_segments[i]->base_offset() <= state.recovery_point) first_dirty = i;
      }
    }
    int64_t next = log->_segments.front()->base_offset();
    for (size_t i = 0; i < log->_segments.size(); ++i) {
      segment& seg = *log->_segments[i];
      // A segment a compaction swap finished just now has fresh, empty indexes.
      const bool swapped = std::find(rebuild->begin(), rebuild->end(), seg.base_offset()) !=
                           rebuild->end();
      const bool trusted = i < first_dirty && !swapped &&
                           !seg.offsets().sanity_check().has_value() &&
                           !seg.times().sanity_check().has_value();
      if (trusted) {
        next = i + 1 < log->_segments.size() ? log->_segments[i + 1]->base_offset() : next;
        continue;
      }
      if (i < first_dirty) ++report.indexes_rebuilt;
      const uint64_t file_size = seg.size();
      next = std::max(next, seg.base_offset());
      auto valid = co_await scan_segment(seg, file_size, next, report);
      if (!valid) co_return std::move(valid).error();
      ++report.segments_scanned;
      if (*valid < file_size) {
        RINGLOG_WARN("{}: truncating {} bytes of torn or corrupt data at position {} of {}", dir,
                     file_size - *valid, *valid, seg.file()->path);
        if (::ftruncate(seg.fd(), static_cast<off_t>(*valid)) != 0) {
          co_return error::from_errno(errno, "ftruncate", seg.file()->path);
        }
        report.bytes_truncated += file_size - *valid;
      }
      // Whatever follows a cut, or a hole, cannot be trusted to be contiguous.
      const bool cut = *valid < file_size;
      if (i + 1 < log->_segments.size() && (cut || next < log->_segments[i + 1]->base_offset())) {
        // A hole: the next segment starts past this one's last batch. Appends
        // overlap, so a crash can leave a later batch (in a segment rolled to
        // meanwhile) on disk while an earlier one never reached the file. The
        // later batches were never acknowledged (durability moves over a
        // contiguous prefix only): they go, as a torn tail would.
        RINGLOG_WARN("{}: segment {} ends at offset {} and the next starts at {}; dropping the "
                     "segments after it",
                     dir, seg.base_offset(), next, log->_segments[i + 1]->base_offset());
        while (log->_segments.size() > i + 1) {
          const int64_t dead = log->_segments.back()->base_offset();
          RINGLOG_WARN("{}: deleting segment {}", dir, dead);
          log->_segments.pop_back();
          remove_segment_files(dir, dead);
          ++report.segments_deleted;
        }
      }
      if (auto st = co_await io::fdatasync(seg.fd()); !st) co_return st.error();
    }
    // The last segment: its end offset comes from the scan, or from a walk of
    // the headers after its last index entry when it was trusted.
    segment& last = *log->_segments.back();
    if (first_dirty >= log->_segments.size()) {
      auto end = co_await segment_end_offset(last);
      if (!end) co_return std::move(end).error();
      next = *end;
    }
    log->_next_offset = std::max(next, last.base_offset());
    log->_log_start_offset =
        std::max(state.log_start_offset, log->_segments.front()->base_offset());
    // Segments rebuilt above hold their new indexes in memory: every one but
    // the last is sealed now, its index files written and made durable.
    for (size_t i = 0; i + 1 < log->_segments.size(); ++i) {
      segment& seg = *log->_segments[i];
      if (!seg.appendable()) continue;
      if (auto st = seg.seal(); !st) co_return std::move(st).error();
      auto indexes = seg.open_indexes_for_sync();
      if (!indexes) co_return std::move(indexes).error();
      for (auto& f : *indexes) {
        if (auto st = co_await io::fdatasync(f->fd); !st) co_return st.error();
      }
    }
    // The last segment takes the appends.
    if (auto st = last.make_appendable(); !st) co_return std::move(st).error();
  }
  report.segments = log->_segments.size();
  segment& last = *log->_segments.back();
  log->_written = position{log->_next_offset, last.base_offset(), last.size()};
  log->_durable = log->_written;
  co_return log;
}

}  // namespace ringlog::storage
