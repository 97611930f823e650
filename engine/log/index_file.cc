#include "engine/log/index_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "engine/log/errc.h"

namespace ringlog::storage {
namespace {

bool all_zero(const std::byte* p, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != std::byte{0}) return false;
  }
  return true;
}

}  // namespace

result<index_file> index_file::open(std::string path, size_t entry_bytes, size_t max_bytes,
                                    index_access access) {
  RINGLOG_ASSERT(entry_bytes > 0, "index entry size 0");
  index_file f(std::move(path), entry_bytes, access);
  const bool writable = access == index_access::read_write;
  const int flags = writable ? (O_RDWR | O_CREAT | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC);

  const int fd = ::open(f._path.c_str(), flags, 0644);
  if (fd < 0) return error::from_errno(errno, "open", f._path);
  bool created = false;  // zero bytes before we extended it: no entries
  if (writable) {
    // Check the size before extending: a torn file must not be padded into a
    // plausible one.
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return error::from_errno(err, "fstat", f._path);
    }
    const auto size = static_cast<size_t>(st.st_size);
    created = size == 0;
    const size_t cap = max_bytes / entry_bytes * entry_bytes;
    RINGLOG_ASSERT(cap > 0, "{}: max_bytes {} holds no {}-byte entry", f._path, max_bytes,
                   entry_bytes);
    if (size % entry_bytes == 0 && size < cap && ::ftruncate(fd, static_cast<off_t>(cap)) != 0) {
      const int err = errno;
      ::close(fd);
      return error::from_errno(err, "ftruncate", f._path);
    }
  }
  if (auto mapped = f.map_fd(fd); !mapped) return std::move(mapped).error();
  // Counting probes log2(slots) pages of the mapping; in a new sparse file
  // each probe faults in a zero page (measured: 14% of a 1,000-partition
  // CreateTopics was that memset), so a file that was empty is known empty.
  f._entries = created ? 0 : f.count_entries();
  RINGLOG_ASSERT(f._entries <= f.max_entries(), "{}: {} entries in {} slots", f._path, f._entries,
                 f.max_entries());
  return f;
}

index_file::index_file(index_file&& other) noexcept
    : _path(std::move(other._path)),
      _entry_bytes(other._entry_bytes),
      _access(other._access),
      _fd(std::exchange(other._fd, -1)),
      _data(std::exchange(other._data, nullptr)),
      _file_bytes(std::exchange(other._file_bytes, 0)),
      _entries(std::exchange(other._entries, 0)) {}

index_file& index_file::operator=(index_file&& other) noexcept {
  if (this != &other) {
    close();
    _path = std::move(other._path);
    _entry_bytes = other._entry_bytes;
    _access = other._access;
    _fd = std::exchange(other._fd, -1);
    _data = std::exchange(other._data, nullptr);
    _file_bytes = std::exchange(other._file_bytes, 0);
    _entries = std::exchange(other._entries, 0);
  }
  return *this;
}

index_file::~index_file() { close(); }

status index_file::map_fd(int fd) {
  RINGLOG_ASSERT(_fd < 0 && _data == nullptr, "{}: mapped twice", _path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return error::from_errno(err, "fstat", _path);
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size % _entry_bytes != 0) {
    ::close(fd);
    return make_error(errc::corrupt_index, "open_index",
                      fmt::format("{}: size {} is not a multiple of the {}-byte entry", _path, size,
                                  _entry_bytes));
  }
  // mmap of length 0 is EINVAL; an empty index simply has no mapping.
  if (size > 0) {
    const int prot = _access == index_access::read_write ? (PROT_READ | PROT_WRITE) : PROT_READ;
    void* p = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return error::from_errno(err, "mmap", _path);
    }
    _data = static_cast<std::byte*>(p);
  }
  _fd = fd;
  _file_bytes = size;
  return ok();
}

void index_file::unmap() noexcept {
  if (_data != nullptr) {
    // munmap only fails for a bad range, which would be our bug.
    const int rc = ::munmap(_data, _file_bytes);
    RINGLOG_ASSERT(rc == 0, "{}: munmap: {}", _path, std::strerror(errno));
    _data = nullptr;
  }
}

size_t index_file::count_entries() const noexcept {
  const size_t n = max_entries();
  if (n == 0) return 0;
  // First all-zero slot at index >= 1; zeros form a suffix in a sound file.
  size_t lo = 1;
  size_t hi = n;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (all_zero(_data + mid * _entry_bytes, _entry_bytes)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (lo == 1 && n > 1 && all_zero(_data, _entry_bytes)) return 0;
  return lo;
}

bool index_file::append(std::span<const std::byte> entry) noexcept {
  RINGLOG_ASSERT(_access == index_access::read_write, "{}: append to a read-only index", _path);
  RINGLOG_ASSERT(is_open(), "{}: append to a closed index", _path);
  RINGLOG_ASSERT(entry.size() == _entry_bytes, "{}: entry of {} bytes, expected {}", _path,
                 entry.size(), _entry_bytes);
  if (is_full()) return false;
  std::memcpy(_data + _entries * _entry_bytes, entry.data(), _entry_bytes);
  ++_entries;
  return true;
}

void index_file::truncate_entries(size_t n) noexcept {
  RINGLOG_ASSERT(n <= _entries, "{}: truncate to {} entries of {}", _path, n, _entries);
  if (n == _entries) return;
  RINGLOG_ASSERT(_access == index_access::read_write, "{}: truncate a read-only index", _path);
  RINGLOG_ASSERT(is_open(), "{}: truncate a closed index", _path);
  // Zeroed, not just forgotten: after a crash the entry count is found again
  // from the first all-zero slot, and stale entries there would come back.
  std::memset(_data + n * _entry_bytes, 0, (_entries - n) * _entry_bytes);
  _entries = n;
}

status index_file::trim() {
  RINGLOG_ASSERT(_access == index_access::read_write, "{}: trim a read-only index", _path);
  RINGLOG_ASSERT(is_open(), "{}: trim a closed index", _path);
  const size_t bytes = _entries * _entry_bytes;
  if (bytes == _file_bytes) return ok();
  // Unmap before shrinking: pages past the new end would SIGBUS if touched.
  unmap();
  const int fd = std::exchange(_fd, -1);
  _file_bytes = 0;
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int err = errno;
    // Map the untouched file again so the index stays usable.
    if (auto st = map_fd(fd); !st) return st;
    return error::from_errno(err, "ftruncate", _path);
  }
  return map_fd(fd);
}

status index_file::flush() const {
  RINGLOG_ASSERT(is_open(), "{}: flush a closed index", _path);
  if (_data == nullptr || _access == index_access::read_only) return ok();
  if (::msync(_data, _file_bytes, MS_SYNC) != 0) return error::from_errno(errno, "msync", _path);
  return ok();
}

void index_file::close() noexcept {
  unmap();
  if (_fd >= 0) {
    // close(2) errors on a regular file opened for mmap carry no lost data
    // (writes went through the mapping), so there is nothing to report.
    ::close(std::exchange(_fd, -1));
  }
}

status index_file::reopen() {
  if (is_open()) return ok();
  const size_t expected = _file_bytes;
  const int flags =
      _access == index_access::read_write ? (O_RDWR | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC);
  const int fd = ::open(_path.c_str(), flags);
  if (fd < 0) return error::from_errno(errno, "open", _path);
  if (auto st = map_fd(fd); !st) return st;
  if (_file_bytes != expected) {
    const size_t found = _file_bytes;
    close();
    _file_bytes = expected;
    return make_error(errc::corrupt_index, "reopen_index",
                      fmt::format("{}: size {} while closed, expected {}", _path, found, expected));
  }
  return ok();
}

}  // namespace ringlog::storage
