#include "engine/log/index_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
  if (auto mapped = f.map_file(access != index_access::read_only); !mapped) {
    return std::move(mapped).error();
  }
  f._entries = f.count_entries();
  if (access == index_access::read_write) {
    f._access = index_access::sealed;  // make_appendable turns it read_write
    if (auto st = f.make_appendable(max_bytes); !st) return std::move(st).error();
  }
  RINGLOG_ASSERT(f._entries <= f.max_entries(), "{}: {} entries in {} slots", f._path, f._entries,
                 f.max_entries());
  return f;
}

index_file::index_file(index_file&& other) noexcept
    : _path(std::move(other._path)),
      _entry_bytes(other._entry_bytes),
      _access(other._access),
      _data(std::exchange(other._data, nullptr)),
      _file_bytes(std::exchange(other._file_bytes, 0)),
      _entries(std::exchange(other._entries, 0)),
      _open(std::exchange(other._open, false)) {}

index_file& index_file::operator=(index_file&& other) noexcept {
  if (this != &other) {
    unmap();
    _path = std::move(other._path);
    _entry_bytes = other._entry_bytes;
    _access = other._access;
    _open = std::exchange(other._open, false);
    _data = std::exchange(other._data, nullptr);
    _file_bytes = std::exchange(other._file_bytes, 0);
    _entries = std::exchange(other._entries, 0);
  }
  return *this;
}

index_file::~index_file() { unmap(); }

status index_file::map_file(bool create) {
  RINGLOG_ASSERT(!_open && _data == nullptr, "{}: mapped twice", _path);
  const int flags = create ? (O_RDWR | O_CREAT | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC);
  const int fd = ::open(_path.c_str(), flags, 0644);
  if (fd < 0) return error::from_errno(errno, "open", _path);
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
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return error::from_errno(err, "mmap", _path);
    }
    _data = static_cast<std::byte*>(p);
  }
  // The mapping keeps the file; a descriptor per index would cap the number
  // of partitions at a third of RLIMIT_NOFILE.
  ::close(fd);
  _file_bytes = size;
  _open = true;
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

status index_file::load_anon(size_t cap_bytes, const std::byte* from, size_t copy_bytes) {
  RINGLOG_ASSERT(copy_bytes <= cap_bytes && cap_bytes > 0, "{}: {} bytes into {}", _path,
                 copy_bytes, cap_bytes);
  // NORESERVE: an index has room for max_bytes (10 MiB by default) but uses a
  // page per 512 offset entries written; untouched pages cost nothing.
  void* p = ::mmap(nullptr, cap_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return error::from_errno(errno, "mmap", _path);
  auto* anon = static_cast<std::byte*>(p);
  if (copy_bytes > 0) std::memcpy(anon, from, copy_bytes);
  unmap();
  _data = anon;
  _file_bytes = cap_bytes;
  _open = true;
  return ok();
}

status index_file::make_appendable(size_t max_bytes) {
  RINGLOG_ASSERT(_access != index_access::read_only, "{}: make a read-only index appendable",
                 _path);
  RINGLOG_ASSERT(is_open(), "{}: make a closed index appendable", _path);
  if (appendable()) return ok();
  const size_t used = _entries * _entry_bytes;
  const size_t cap = std::max({max_bytes / _entry_bytes * _entry_bytes, used, _entry_bytes});
  if (auto st = load_anon(cap, _data, used); !st) return st;
  _access = index_access::read_write;
  return ok();
}

status index_file::persist() {
  RINGLOG_ASSERT(appendable(), "{}: persist of an index that is not appendable", _path);
  const int fd = ::open(_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return error::from_errno(errno, "open", _path);
  const size_t bytes = _entries * _entry_bytes;
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pwrite(fd, _data + done, bytes - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return error::from_errno(err, "pwrite", _path);
    }
    done += static_cast<size_t>(n);
  }
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int err = errno;
    ::close(fd);
    return error::from_errno(err, "ftruncate", _path);
  }
  ::close(fd);
  return ok();
}

result<int> index_file::open_for_sync() const {
  const int fd = ::open(_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error::from_errno(errno, "open", _path);
  return fd;
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
  RINGLOG_ASSERT(appendable(), "{}: append to an index that is not appendable", _path);
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
  RINGLOG_ASSERT(appendable(), "{}: truncate an index that is not appendable", _path);
  // Zeroed, not just forgotten: the memory is the source of the next append
  // and of count_entries' rule if it is ever persisted short.
  std::memset(_data + n * _entry_bytes, 0, (_entries - n) * _entry_bytes);
  _entries = n;
}

status index_file::trim() {
  RINGLOG_ASSERT(is_open(), "{}: trim a closed index", _path);
  if (!appendable()) return ok();
  if (auto st = persist(); !st) return st;
  unmap();
  _open = false;
  _file_bytes = 0;
  _access = index_access::sealed;
  return map_file(false);
}

status index_file::flush() {
  RINGLOG_ASSERT(is_open(), "{}: flush a closed index", _path);
  if (!appendable()) return ok();
  if (auto st = persist(); !st) return st;
  auto fd = open_for_sync();
  if (!fd) return std::move(fd).error();
  const int rc = ::fdatasync(*fd);
  const int err = errno;
  ::close(*fd);
  if (rc != 0) return error::from_errno(err, "fdatasync", _path);
  return ok();
}

void index_file::close() noexcept {
  RINGLOG_ASSERT(!appendable(), "{}: close() of an appendable index would drop its entries", _path);
  unmap();
  _open = false;
}

status index_file::reopen() {
  if (is_open()) return ok();
  const size_t expected = _file_bytes;
  _file_bytes = 0;
  if (auto st = map_file(false); !st) {
    _file_bytes = expected;
    return st;
  }
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
