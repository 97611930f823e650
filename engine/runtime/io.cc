#include "engine/runtime/io.h"

#include <fmt/core.h>
#include <liburing.h>

#include <cerrno>

namespace ringlog::io {

bool uring_op::await_ready() noexcept {
  if (_cancel != nullptr && _cancel->cancelled()) {
    _c.res = -ECANCELED;
    return true;
  }
  return false;
}

void uring_op::await_suspend(std::coroutine_handle<> h) noexcept {
  shard* s = shard::current();
  RINGLOG_ASSERT(s != nullptr, "{} awaited outside a shard thread", _name);
  _c.waiter = h;
  if (_cancel != nullptr) {
    _link.c = &_c;
    _link.on_cancel = &uring_op::on_cancel;
    _cancel->link(&_link);
  }
  s->submit(sqe, &_c, _has_timeout ? &_timeout : nullptr);
}

void uring_op::on_cancel(cancellable* l) {
  shard::current()->cancel(static_cast<cancel_link*>(l)->c);
}

int32_t uring_op::finish() noexcept {
  if (_cancel != nullptr) _cancel->unlink(&_link);
  int32_t res = _c.res;
  if (res == -ECANCELED && _has_timeout && !(_cancel != nullptr && _cancel->cancelled())) {
    res = -ETIMEDOUT;
  }
  return res;
}

void uring_op::set_timeout(std::chrono::nanoseconds d) noexcept {
  const int64_t ns = d.count() < 0 ? 0 : d.count();
  _timeout.tv_sec = ns / 1'000'000'000;
  _timeout.tv_nsec = ns % 1'000'000'000;
  _has_timeout = true;
}

error uring_op::make_error(int32_t res) const { return error::from_errno(-res, _name); }

namespace {
template <class Op>
Op make(const char* name) {
  return Op(name);
}
}  // namespace

size_op read(int fd, std::span<std::byte> buf, uint64_t offset) noexcept {
  auto o = make<size_op>("read");
  io_uring_prep_read(&o.sqe, fd, buf.data(), static_cast<unsigned>(buf.size()), offset);
  return o;
}

size_op write(int fd, std::span<const std::byte> buf, uint64_t offset) noexcept {
  auto o = make<size_op>("write");
  io_uring_prep_write(&o.sqe, fd, buf.data(), static_cast<unsigned>(buf.size()), offset);
  return o;
}

size_op readv(int fd, std::span<const iovec> iov, uint64_t offset) noexcept {
  auto o = make<size_op>("readv");
  io_uring_prep_readv(&o.sqe, fd, iov.data(), static_cast<unsigned>(iov.size()), offset);
  return o;
}

size_op writev(int fd, std::span<const iovec> iov, uint64_t offset) noexcept {
  auto o = make<size_op>("writev");
  io_uring_prep_writev(&o.sqe, fd, iov.data(), static_cast<unsigned>(iov.size()), offset);
  return o;
}

status_op fsync(int fd) noexcept {
  auto o = make<status_op>("fsync");
  io_uring_prep_fsync(&o.sqe, fd, 0);
  return o;
}

status_op fdatasync(int fd) noexcept {
  auto o = make<status_op>("fdatasync");
  io_uring_prep_fsync(&o.sqe, fd, IORING_FSYNC_DATASYNC);
  return o;
}

status_op sync_file_range(int fd, uint64_t offset, uint32_t len, unsigned flags) noexcept {
  auto o = make<status_op>("sync_file_range");
  io_uring_prep_sync_file_range(&o.sqe, fd, len, offset, static_cast<int>(flags));
  return o;
}

status_op fdatasync_range(int fd, uint64_t offset, uint32_t len) noexcept {
  auto o = make<status_op>("fdatasync");
  io_uring_prep_fsync(&o.sqe, fd, IORING_FSYNC_DATASYNC);
  o.sqe.off = offset;
  o.sqe.len = len;
  return o;
}

status_op fallocate(int fd, int mode, uint64_t offset, uint64_t len) noexcept {
  auto o = make<status_op>("fallocate");
  io_uring_prep_fallocate(&o.sqe, fd, mode, static_cast<off_t>(offset), static_cast<off_t>(len));
  return o;
}

fd_op openat(int dirfd, const char* path, int flags, mode_t mode) noexcept {
  auto o = make<fd_op>("openat");
  io_uring_prep_openat(&o.sqe, dirfd, path, flags, mode);
  return o;
}

status_op close(int fd) noexcept {
  auto o = make<status_op>("close");
  io_uring_prep_close(&o.sqe, fd);
  return o;
}

status_op renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                   unsigned flags) noexcept {
  auto o = make<status_op>("renameat");
  io_uring_prep_renameat(&o.sqe, olddirfd, oldpath, newdirfd, newpath, flags);
  return o;
}

status_op unlinkat(int dirfd, const char* path, int flags) noexcept {
  auto o = make<status_op>("unlinkat");
  io_uring_prep_unlinkat(&o.sqe, dirfd, path, flags);
  return o;
}

status_op mkdirat(int dirfd, const char* path, mode_t mode) noexcept {
  auto o = make<status_op>("mkdirat");
  io_uring_prep_mkdirat(&o.sqe, dirfd, path, mode);
  return o;
}

fd_op accept(int fd, sockaddr* addr, socklen_t* addrlen, int flags) noexcept {
  auto o = make<fd_op>("accept");
  io_uring_prep_accept(&o.sqe, fd, addr, addrlen, flags);
  return o;
}

status_op connect(int fd, const sockaddr* addr, socklen_t addrlen) noexcept {
  auto o = make<status_op>("connect");
  io_uring_prep_connect(&o.sqe, fd, addr, addrlen);
  return o;
}

size_op recv(int fd, std::span<std::byte> buf, int flags) noexcept {
  auto o = make<size_op>("recv");
  io_uring_prep_recv(&o.sqe, fd, buf.data(), buf.size(), flags);
  return o;
}

size_op send(int fd, std::span<const std::byte> buf, int flags) noexcept {
  auto o = make<size_op>("send");
  io_uring_prep_send(&o.sqe, fd, buf.data(), buf.size(), flags);
  return o;
}

size_op sendmsg(int fd, const msghdr* msg, int flags) noexcept {
  auto o = make<size_op>("sendmsg");
  io_uring_prep_sendmsg(&o.sqe, fd, msg, static_cast<unsigned>(flags));
  return o;
}

size_op splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, uint32_t n,
               unsigned flags) noexcept {
  auto o = make<size_op>("splice");
  io_uring_prep_splice(&o.sqe, fd_in, off_in, fd_out, off_out, n, flags);
  return o;
}

status_op nop() noexcept {
  auto o = make<status_op>("nop");
  io_uring_prep_nop(&o.sqe);
  return o;
}

write_fdatasync_op::write_fdatasync_op(int fd, std::span<const std::byte> buf,
                                       uint64_t offset) noexcept
    : _size(buf.size()) {
  io_uring_prep_write(&_write, fd, buf.data(), static_cast<unsigned>(buf.size()), offset);
  io_uring_prep_fsync(&_sync, fd, IORING_FSYNC_DATASYNC);
}

void write_fdatasync_op::await_suspend(std::coroutine_handle<> h) noexcept {
  shard* s = shard::current();
  RINGLOG_ASSERT(s != nullptr, "write_fdatasync awaited outside a shard thread");
  // The write's completion is posted before the sync's (the chain's order),
  // so resuming on the sync's sees both.
  _write_c.waiter = std::noop_coroutine();
  _sync_c.waiter = h;
  s->submit_chain(_write, &_write_c, _sync, &_sync_c);
}

result<size_t> write_fdatasync_op::await_resume() const {
  if (_write_c.res < 0) return error::from_errno(-_write_c.res, "write");
  if (static_cast<size_t>(_write_c.res) != _size) {
    return error::from_errno(EIO, "write",
                             fmt::format("short write of {} of {} bytes; not synced", _write_c.res, _size));
  }
  if (_sync_c.res < 0) return error::from_errno(-_sync_c.res, "fdatasync");
  return _size;
}

}  // namespace ringlog::io
