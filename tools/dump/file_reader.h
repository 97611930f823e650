// Plain synchronous file reading for ringlog-dump: pread on a descriptor, no
// runtime, no io_uring (a tool reads one file front to back and exits).
//
// file_reader owns the descriptor and knows the size fstat reported at open;
// read_window serves byte ranges of it through one reused buffer, reading
// ahead in chunks, so a 1 GiB segment streams through a buffer of about
// max(chunk, largest batch) instead of being loaded whole.
//
// Thread safety: none; one thread per reader. Lifetime: a window refers to its
// reader, and a span it returns is valid until the next get().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace ringlog::dump {

class file_reader {
 public:
  // Opens `path` read-only. Errors: the open/fstat errno, or EISDIR / EINVAL
  // (detail "not a regular file") for anything but a regular file.
  static result<file_reader> open(const std::string& path);

  file_reader(file_reader&& other) noexcept;
  file_reader& operator=(file_reader&& other) noexcept;
  file_reader(const file_reader&) = delete;
  file_reader& operator=(const file_reader&) = delete;
  ~file_reader();

  const std::string& path() const noexcept { return _path; }
  uint64_t size() const noexcept { return _size; }

  // Fills `out` from position `pos`. A short read (the file shrank under us)
  // is an error (EIO, detail naming the position), as is any pread failure.
  status read_exact(uint64_t pos, std::span<std::byte> out) const;

 private:
  file_reader(int fd, std::string path, uint64_t size) noexcept
      : _fd(fd), _path(std::move(path)), _size(size) {}

  int _fd = -1;
  std::string _path;
  uint64_t _size = 0;
};

class read_window {
 public:
  // chunk_bytes: how much to read ahead at once (at least 1).
  read_window(const file_reader& file, size_t chunk_bytes) noexcept
      : _file(file), _chunk_bytes(chunk_bytes == 0 ? 1 : chunk_bytes) {}

  // Bytes [pos, pos + n) of the file. Precondition (asserted): pos + n <=
  // file size. The buffer grows to n when n exceeds the chunk size.
  result<std::span<const std::byte>> get(uint64_t pos, size_t n);

  // Bytes held right now (for tests of the memory bound).
  size_t buffer_bytes() const noexcept { return _buffer.size(); }

 private:
  const file_reader& _file;
  size_t _chunk_bytes;
  std::vector<std::byte> _buffer;
  uint64_t _start = 0;  // file position of _buffer[0]
  size_t _held = 0;     // valid bytes in _buffer
};

}  // namespace ringlog::dump
