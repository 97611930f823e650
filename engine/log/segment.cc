#include "engine/log/segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <limits>

#include "base/assert.h"
#include "base/log.h"
#include "engine/runtime/io.h"

namespace ringlog::storage {

segment_file::~segment_file() {
  if (fd >= 0) ::close(fd);
}

std::string segment_file_name(int64_t base_offset, std::string_view suffix) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(base_offset));
  std::string out(digits);
  out.append(suffix);
  return out;
}

void remove_segment_files(const std::string& dir, int64_t base_offset) {
  for (const char* suffix : {".log", ".index", ".timeindex"}) {
    const std::string path = dir + "/" + segment_file_name(base_offset, suffix);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      RINGLOG_WARN("cannot remove {}: {}", path, strerrordesc_np(errno));
    }
  }
}

int64_t parse_segment_file_name(std::string_view name, std::string_view suffix) noexcept {
  if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return -1;
    if (v > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

segment::segment(std::string dir, int64_t base_offset, std::shared_ptr<segment_file> file,
                 offset_index o, time_index t, const log_config& config,
                 int64_t created_ms) noexcept
    : _dir(std::move(dir)),
      _base_offset(base_offset),
      _file(std::move(file)),
      _offsets(std::move(o)),
      _times(std::move(t)),
      _segment_bytes(config.segment_bytes),
      _segment_ms(config.roll_ms()),
      _index_interval_bytes(config.index_interval_bytes),
      _index_max_bytes(static_cast<size_t>(config.index_max_bytes)),
      _created_ms(created_ms),
      _modified_ms(created_ms) {}

task<status> fsync_dir_async(std::string dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) co_return error::from_errno(errno, "open", dir);
  auto file = std::make_shared<segment_file>(fd, dir);  // closes it
  co_return co_await io::fsync(file->fd);
}

namespace {

result<std::shared_ptr<segment_file>> open_log_file(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return error::from_errno(errno, "open_segment", path);
  return std::make_shared<segment_file>(fd, path);
}

}  // namespace

result<std::unique_ptr<segment>> segment::open_files(const std::string& dir, int64_t base_offset,
                                                     const log_config& config, int log_flags,
                                                     index_access indexes, int64_t created_ms,
                                                     std::string_view suffix) {
  auto path = [&](const char* ext) {
    return dir + "/" + segment_file_name(base_offset, ext) + std::string(suffix);
  };
  auto file = open_log_file(path(".log"), log_flags);
  if (!file) return std::move(file).error();
  const auto index_bytes = static_cast<size_t>(config.index_max_bytes);
  auto o = offset_index::open(path(".index"), base_offset, index_bytes, indexes);
  if (!o) return std::move(o).error();
  auto t = time_index::open(path(".timeindex"), base_offset, index_bytes, indexes);
  if (!t) return std::move(t).error();
  return std::unique_ptr<segment>(new segment(dir, base_offset, std::move(*file), std::move(*o),
                                              std::move(*t), config, created_ms));
}

result<std::unique_ptr<segment>> segment::create(const std::string& dir, int64_t base_offset,
                                                 const log_config& config, int64_t now_ms,
                                                 std::string_view suffix) {
  auto s = open_files(dir, base_offset, config, O_CREAT | O_EXCL, index_access::read_write, now_ms,
                      suffix);
  if (!s) return s;
  // A fresh segment may find index files left by a crash between creating
  // them and the .log: they describe nothing.
  (*s)->_offsets.truncate_to(base_offset);
  (*s)->_times.truncate_to(base_offset);
  return s;
}

result<std::unique_ptr<segment>> segment::open(const std::string& dir, int64_t base_offset,
                                               const log_config& config) {
  auto opened = open_files(dir, base_offset, config, 0, index_access::sealed, 0, {});
  if (!opened) return opened;
  std::unique_ptr<segment> s = std::move(*opened);
  struct stat st;
  if (::fstat(s->fd(), &st) != 0) return error::from_errno(errno, "fstat", s->file()->path);
  s->_created_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
  s->_modified_ms = s->_created_ms;
  s->_size = static_cast<uint64_t>(st.st_size);
  if (s->_times.entries() > 0) {
    const auto last = s->_times.last_entry();
    s->_max_timestamp = last.timestamp;
    s->_offset_of_max_timestamp = last.offset;
  }
  if (s->_offsets.entries() > 0) {
    const uint64_t pos = s->_offsets.last_entry().position;
    s->_bytes_since_index = s->_size > pos ? s->_size - pos : 0;
  } else {
    s->_bytes_since_index = s->_size;
  }
  return s;
}

bool segment::can_fit(uint64_t bytes, int64_t last_offset, int64_t now_ms) const noexcept {
  if (!appendable()) return false;
  if (_size == 0) return last_offset - _base_offset <= std::numeric_limits<int32_t>::max();
  if (_size + bytes > static_cast<uint64_t>(_segment_bytes)) return false;
  if (last_offset - _base_offset > std::numeric_limits<int32_t>::max()) return false;
  if (_offsets.is_full() || _times.is_full()) return false;
  // Kafka times a segment from its first batch's timestamp when it has one.
  const int64_t since = _first_batch_timestamp >= 0 ? _first_batch_timestamp : _created_ms;
  return now_ms - since < _segment_ms;
}

uint64_t segment::reserve(uint64_t bytes, int64_t last_offset, int64_t max_timestamp) noexcept {
  RINGLOG_ASSERT(_size + bytes <= std::numeric_limits<int32_t>::max(),
                 "segment {} would pass 2 GiB", _base_offset);
  const uint64_t position = _size;
  if (_size == 0 && _first_batch_timestamp < 0) _first_batch_timestamp = max_timestamp;
  if (max_timestamp > _max_timestamp) {
    _max_timestamp = max_timestamp;
    _offset_of_max_timestamp = last_offset;
  }
  if (_bytes_since_index > static_cast<uint64_t>(_index_interval_bytes)) {
    // Batches without timestamps (max timestamp -1) add no time index entry,
    // as in Kafka; until one with a timestamp comes there is nothing to add.
    if (_offsets.append(last_offset, static_cast<uint32_t>(position)) && _max_timestamp >= 0) {
      (void)_times.maybe_append(_max_timestamp, _offset_of_max_timestamp);
    }
    _bytes_since_index = 0;
  }
  _bytes_since_index += bytes;
  _size += bytes;
  return position;
}

void segment::truncate_to(uint64_t position, int64_t offset) noexcept {
  _offsets.truncate_to(offset);
  _times.truncate_to(offset);
  _size = position;
  if (_times.entries() > 0) {
    const auto last = _times.last_entry();
    _max_timestamp = last.timestamp;
    _offset_of_max_timestamp = last.offset;
  } else {
    _max_timestamp = -1;
    _offset_of_max_timestamp = -1;
  }
  const uint64_t indexed = _offsets.entries() > 0 ? _offsets.last_entry().position : 0;
  _bytes_since_index = _size > indexed ? _size - indexed : 0;
  if (_size == 0) _first_batch_timestamp = -1;
}

status segment::make_appendable() {
  if (auto st = _offsets.make_appendable(_index_max_bytes); !st) return st;
  return _times.make_appendable(_index_max_bytes);
}

result<std::array<std::shared_ptr<segment_file>, 2>> segment::open_indexes_for_sync() const {
  auto o = _offsets.open_for_sync();
  if (!o) return std::move(o).error();
  auto index = std::make_shared<segment_file>(*o, _offsets.path());
  auto t = _times.open_for_sync();
  if (!t) return std::move(t).error();
  auto times = std::make_shared<segment_file>(*t, _times.path());
  return std::array<std::shared_ptr<segment_file>, 2>{std::move(index), std::move(times)};
}

status segment::persist_indexes() {
  if (auto st = _offsets.persist(); !st) return st;
  return _times.persist();
}

status segment::reset_for_rebuild() {
  if (auto st = make_appendable(); !st) return st;
  _offsets.truncate_to(_base_offset);
  _times.truncate_to(_base_offset);
  _size = 0;
  _bytes_since_index = 0;
  _first_batch_timestamp = -1;
  _max_timestamp = -1;
  _offset_of_max_timestamp = -1;
  return ok();
}

namespace {

// Renames dir/<name(base, ext)><from> to ...<to>; returns the new path.
result<std::string> rename_segment_file(const std::string& dir, int64_t base, const char* ext,
                                        std::string_view from, std::string_view to) {
  const std::string stem = dir + "/" + segment_file_name(base, ext);
  const std::string old_path = stem + std::string(from);
  std::string new_path = stem + std::string(to);
  if (::rename(old_path.c_str(), new_path.c_str()) != 0) {
    return error::from_errno(errno, "rename", old_path + " -> " + new_path);
  }
  return new_path;
}

}  // namespace

status segment::rename_indexes(std::string_view from, std::string_view to) {
  auto index = rename_segment_file(_dir, _base_offset, ".index", from, to);
  if (!index) return std::move(index).error();
  _offsets.set_path(std::move(*index));
  auto times = rename_segment_file(_dir, _base_offset, ".timeindex", from, to);
  if (!times) return std::move(times).error();
  _times.set_path(std::move(*times));
  return ok();
}

status segment::rename_log(std::string_view from, std::string_view to) {
  auto log = rename_segment_file(_dir, _base_offset, ".log", from, to);
  if (!log) return std::move(log).error();
  _file->path = std::move(*log);
  return ok();
}

bool segment::has_final_names() const {
  return _file->path == _dir + "/" + segment_file_name(_base_offset, ".log");
}

status segment::seal() {
  if (!appendable()) return ok();
  if (_max_timestamp >= 0) (void)_times.append_final(_max_timestamp, _offset_of_max_timestamp);
  if (auto st = _offsets.trim(); !st) return st;
  return _times.trim();
}

}  // namespace ringlog::storage
