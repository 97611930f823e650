#include "tools/dump/file_reader.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "base/assert.h"

namespace ringlog::dump {

result<file_reader> file_reader::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error::from_errno(errno, "open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return error::from_errno(err, "fstat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error::from_errno(S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "open",
                             path + ": not a regular file");
  }
  return file_reader(fd, path, static_cast<uint64_t>(st.st_size));
}

file_reader::file_reader(file_reader&& other) noexcept
    : _fd(std::exchange(other._fd, -1)), _path(std::move(other._path)), _size(other._size) {}

file_reader& file_reader::operator=(file_reader&& other) noexcept {
  if (this != &other) {
    if (_fd >= 0) ::close(_fd);
    _fd = std::exchange(other._fd, -1);
    _path = std::move(other._path);
    _size = other._size;
  }
  return *this;
}

file_reader::~file_reader() {
  if (_fd >= 0) ::close(_fd);
}

status file_reader::read_exact(uint64_t pos, std::span<std::byte> out) const {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(_fd, out.data() + done, out.size() - done, static_cast<off_t>(pos + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return error::from_errno(errno, "pread", fmt::format("{} at position {}", _path, pos + done));
    }
    if (n == 0) {
      return error::from_errno(EIO, "pread",
                               fmt::format("{}: file ends at position {}, {} bytes expected (did "
                                           "it shrink while being read?)",
                                           _path, pos + done, out.size() - done));
    }
    done += static_cast<size_t>(n);
  }
  return ok();
}

result<std::span<const std::byte>> read_window::get(uint64_t pos, size_t n) {
  RINGLOG_ASSERT(pos <= _file.size() && n <= _file.size() - pos,
                 "{}: read of {} bytes at {} past the size {}", _file.path(), n, pos, _file.size());
  if (pos >= _start && pos - _start <= _held && n <= _held - (pos - _start)) {
    return std::span<const std::byte>(_buffer.data() + (pos - _start), n);
  }
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(std::max(n, _chunk_bytes), _file.size() - pos));
  if (_buffer.size() < want) _buffer.resize(want);
  _held = 0;
  if (auto st = _file.read_exact(pos, std::span(_buffer.data(), want)); !st) return st.error();
  _start = pos;
  _held = want;
  return std::span<const std::byte>(_buffer.data(), n);
}

}  // namespace ringlog::dump
