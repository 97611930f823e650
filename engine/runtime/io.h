// Awaitable io_uring operations. Each call builds one operation; co_await
// submits it on the calling shard's ring (at the end of the loop turn) and
// resumes with its result:
//
//   auto n = co_await io::write(fd, bytes, offset);   // result<size_t>
//   if (!n) co_return n.error();                      // "write: No space left on device (errno 28)"
//
// Every completion's res is checked: a negative res becomes an error carrying
// the errno and the operation's name. A short read or write is not an error;
// callers loop where they need the whole buffer.
//
// Options, chained before co_await:
//   .with_timeout(d)   links an IORING_OP_LINK_TIMEOUT; expiry gives ETIMEDOUT
//   .with_cancel(src)  joins a cancel_source; its cancel() gives ECANCELED
//
// Lifetime: buffers, iovecs, paths and sockaddrs must stay valid until the
// co_await returns (they do when they live in the awaiting coroutine). An
// operation object is used once.
#pragma once

#include <linux/time_types.h>  // __kernel_timespec, used by liburing/io_uring.h
#include <liburing/io_uring.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/result.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/shard.h"

struct iovec;

namespace ringlog::io {

// The non-template core of every operation (io.cc).
class uring_op {
 public:
  explicit uring_op(const char* name) noexcept : _name(name) {}

  bool await_ready() noexcept;
  void await_suspend(std::coroutine_handle<> h) noexcept;

 protected:
  // The final res, with a linked timeout's ECANCELED turned into ETIMEDOUT.
  int32_t finish() noexcept;
  void set_timeout(std::chrono::nanoseconds d) noexcept;
  void set_cancel(cancel_source& s) noexcept { _cancel = &s; }
  error make_error(int32_t res) const;

 public:
  // The prototype SQE; the factories below fill it (io.cc).
  io_uring_sqe sqe{};

 protected:
  struct cancel_link : cancellable {
    completion* c = nullptr;
  };
  static void on_cancel(cancellable* l);

  completion _c;
  cancel_link _link;
  cancel_source* _cancel = nullptr;
  const char* _name;
  __kernel_timespec _timeout{};
  bool _has_timeout = false;
};

enum class result_kind { size, fd, none };

template <result_kind K>
class op final : public uring_op {
 public:
  using uring_op::uring_op;

  op with_timeout(std::chrono::nanoseconds d) && noexcept {
    set_timeout(d);
    return std::move(*this);
  }
  op with_cancel(cancel_source& s) && noexcept {
    set_cancel(s);
    return std::move(*this);
  }

  auto await_resume() noexcept {
    const int32_t res = finish();
    if constexpr (K == result_kind::size) {
      return res < 0 ? result<size_t>(make_error(res)) : result<size_t>(static_cast<size_t>(res));
    } else if constexpr (K == result_kind::fd) {
      return res < 0 ? result<int>(make_error(res)) : result<int>(res);
    } else {
      return res < 0 ? status(make_error(res)) : status();
    }
  }
};

using size_op = op<result_kind::size>;
using fd_op = op<result_kind::fd>;
using status_op = op<result_kind::none>;

// Files. Offsets are byte positions; -1 (as uint64_t) means the file position.
size_op read(int fd, std::span<std::byte> buf, uint64_t offset) noexcept;
size_op write(int fd, std::span<const std::byte> buf, uint64_t offset) noexcept;
size_op readv(int fd, std::span<const iovec> iov, uint64_t offset) noexcept;
size_op writev(int fd, std::span<const iovec> iov, uint64_t offset) noexcept;
status_op fsync(int fd) noexcept;
status_op fdatasync(int fd) noexcept;
// Syncs only [offset, offset + len) (IORING_FSYNC_DATASYNC semantics on a range).
status_op fdatasync_range(int fd, uint64_t offset, uint32_t len) noexcept;
// sync_file_range(2) on [offset, offset + len): with SYNC_FILE_RANGE_WRITE
// alone, starts writeback of those dirty pages without waiting for it and
// without making anything durable (no metadata, no cache flush).
status_op sync_file_range(int fd, uint64_t offset, uint32_t len, unsigned flags) noexcept;
status_op fallocate(int fd, int mode, uint64_t offset, uint64_t len) noexcept;
fd_op openat(int dirfd, const char* path, int flags, mode_t mode) noexcept;
status_op close(int fd) noexcept;
status_op renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                   unsigned flags = 0) noexcept;
status_op unlinkat(int dirfd, const char* path, int flags = 0) noexcept;
status_op mkdirat(int dirfd, const char* path, mode_t mode) noexcept;

// Sockets.
fd_op accept(int fd, sockaddr* addr, socklen_t* addrlen, int flags) noexcept;
status_op connect(int fd, const sockaddr* addr, socklen_t addrlen) noexcept;
size_op recv(int fd, std::span<std::byte> buf, int flags = 0) noexcept;
size_op send(int fd, std::span<const std::byte> buf, int flags = MSG_NOSIGNAL) noexcept;
size_op sendmsg(int fd, const msghdr* msg, int flags = MSG_NOSIGNAL) noexcept;
// Moves up to n bytes between fds without copying through user space (one
// side must be a pipe). An offset of -1 means "use and advance the file
// position" (and is required for pipes).
size_op splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, uint32_t n,
               unsigned flags = 0) noexcept;

// Completes at once with 0; a full round trip through the ring.
status_op nop() noexcept;

// Writes `buf` at `offset`, then fdatasyncs the file, as one linked chain:
// the kernel starts the sync the moment the write completes, on the same
// io-wq worker, so a durable write costs one trip through the shard instead
// of two. Returns the bytes written once they are durable; a failed or short
// write is an error (and the sync does not run).
class write_fdatasync_op {
 public:
  write_fdatasync_op(int fd, std::span<const std::byte> buf, uint64_t offset) noexcept;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept;
  result<size_t> await_resume() const;

 private:
  io_uring_sqe _write{};
  io_uring_sqe _sync{};
  completion _write_c;
  completion _sync_c;
  size_t _size;
};
inline write_fdatasync_op write_fdatasync(int fd, std::span<const std::byte> buf,
                                          uint64_t offset) noexcept {
  return write_fdatasync_op(fd, buf, offset);
}

}  // namespace ringlog::io
