#include "net/connection.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <optional>

#include <fmt/format.h>

#include "base/bytes.h"
#include "base/log.h"
#include "engine/runtime/io.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/when_all.h"

namespace ringlog::net {
namespace {

// Receive buffer per connection: big enough that a pipelining producer's
// requests arrive several per recv, small enough for thousands of connections.
constexpr size_t k_receive_buffer_bytes = 64 * 1024;
// Responses gathered into one sendmsg. IOV_MAX is 1024; 64 covers any burst a
// pipelining client has in flight.
constexpr size_t k_max_iovecs = 64;
// Pipe capacity for splice: 1 MiB (the default pipe-max-size) moves a typical
// fetch in one pair of splices; if the kernel refuses, the 64 KiB default works.
constexpr int k_pipe_bytes = 1 << 20;

bool is_quiet_close(const error& e) {
  const int err = e.sys_errno();
  return err == ECANCELED || err == ECONNRESET || err == EPIPE;
}

}  // namespace

connection::connection(int fd, connection_info info, connection_limits limits,
                       request_handler& handler, request_budget* budget)
    : _fd(fd), _info(std::move(info)), _limits(limits), _handler(handler), _budget(budget) {
  _in.resize(k_receive_buffer_bytes);
}

connection::~connection() {
  RINGLOG_ASSERT(_handlers_running == 0, "connection {} destroyed with {} handlers running",
                 _info.id, _handlers_running);
  if (_pipe[0] >= 0) ::close(_pipe[0]);
  if (_pipe[1] >= 0) ::close(_pipe[1]);
  if (_fd >= 0) ::close(_fd);
}

void connection::shutdown() noexcept { close_with("server stopping"); }

void connection::close_with(std::string reason) {
  if (_closing) return;
  _closing = true;
  _close_reason = std::move(reason);
  _cancel.cancel();
  _changed.notify_all();
}

task<void> connection::run() {
  RINGLOG_DEBUG("connection {} from {} on {}", _info.id, _info.peer, _info.listener);
  std::vector<task<void>> loops;
  loops.push_back(read_loop());
  loops.push_back(write_loop());
  co_await when_all(std::move(loops));
  RINGLOG_DEBUG("connection {} from {} closed: {}", _info.id, _info.peer, _close_reason);
  auto closed = co_await io::close(_fd);
  _fd = -1;
  if (!closed) RINGLOG_WARN("connection {}: {}", _info.id, closed.error().message());
}

task<bool> connection::fill(size_t want) {
  for (;;) {
    if (_in_end - _in_begin >= want) co_return true;
    if (_in_begin == _in_end) {
      _in_begin = _in_end = 0;
    } else if (_in.size() - _in_begin < want) {
      std::memmove(_in.data(), _in.data() + _in_begin, _in_end - _in_begin);
      _in_end -= _in_begin;
      _in_begin = 0;
    }
    std::span<std::byte> space(_in.data() + _in_end, _in.size() - _in_end);
    std::optional<result<size_t>> n;
    if (_limits.idle_ms >= 0) {
      const std::chrono::milliseconds idle(_limits.idle_ms);
      n.emplace(co_await io::recv(_fd, space).with_cancel(_cancel).with_timeout(idle));
    } else {
      n.emplace(co_await io::recv(_fd, space).with_cancel(_cancel));
    }
    if (!*n) {
      if (n->error().sys_errno() == ETIMEDOUT) {
        if (!_queue.empty()) continue;  // a long poll is not idleness
        close_with(fmt::format("idle for {} ms (connections.max.idle.ms)", _limits.idle_ms));
      } else if (is_quiet_close(n->error())) {
        close_with(n->error().message());
      } else {
        RINGLOG_WARN("connection {} from {}: {}", _info.id, _info.peer, n->error().message());
        close_with(n->error().message());
      }
      co_return false;
    }
    if (**n == 0) {
      close_with("closed by the client");
      co_return false;
    }
    _in_end += **n;
  }
}

task<void> connection::read_loop() {
  while (!_closing) {
    while (_queue.size() >= _limits.max_in_flight && !_closing) {
      co_await _changed.wait(&_cancel);
    }
    if (_closing) break;
    const bool have_size = co_await fill(4);
    if (!have_size) break;
    const int32_t size = static_cast<int32_t>(load_be32(_in.data() + _in_begin));
    if (size < 0 || static_cast<uint32_t>(size) > _limits.max_request_bytes) {
      RINGLOG_WARN("connection {} from {}: request of {} bytes exceeds socket.request.max.bytes {}; closing",
                   _info.id, _info.peer, size, _limits.max_request_bytes);
      close_with("request too large");
      break;
    }
    _in_begin += 4;

    // Memory for the frame before it is allocated: this connection's
    // requests in flight stay within socket.request.max.bytes, the shard's
    // within its budget.
    const uint64_t frame_bytes = static_cast<uint64_t>(size);
    while (_queued_bytes > 0 && _queued_bytes + frame_bytes > _limits.max_request_bytes &&
           !_closing) {
      co_await _changed.wait(&_cancel);
    }
    if (_closing) break;
    if (_budget != nullptr) {
      const bool room = co_await _budget->wait_for_room(&_cancel, _info.id, _info.peer);
      if (!room) break;
    }
    auto request = std::make_unique<in_flight>();
    request->held.budget = _budget;
    request->held.queued = &_queued_bytes;
    request->held.frame_bytes = frame_bytes;
    _queued_bytes += frame_bytes;
    // nothrow: out of memory (or address space, under ulimit -v) for a frame
    // closes this connection, never the broker.
    request->frame_bytes.reset(new (std::nothrow) std::byte[static_cast<size_t>(size)]);
    if (request->frame_bytes == nullptr) {
      RINGLOG_WARN("connection {} from {}: no memory for a request of {} bytes; closing", _info.id,
                   _info.peer, size);
      close_with("out of memory for the request");
      break;
    }
    request->frame = std::span<std::byte>(request->frame_bytes.get(), static_cast<size_t>(size));
    const size_t buffered = std::min(request->frame.size(), _in_end - _in_begin);
    std::memcpy(request->frame.data(), _in.data() + _in_begin, buffered);
    _in_begin += buffered;
    request->held.take(buffered);
    size_t received = buffered;
    bool complete = true;
    while (received < request->frame.size()) {
      std::span<std::byte> rest(request->frame.data() + received, request->frame.size() - received);
      // A half-sent request with nothing more for idle_ms is an idle
      // connection, as in Kafka: it must not hold its memory for ever.
      std::optional<result<size_t>> n;
      if (_limits.idle_ms >= 0) {
        const std::chrono::milliseconds idle(_limits.idle_ms);
        n.emplace(co_await io::recv(_fd, rest).with_cancel(_cancel).with_timeout(idle));
      } else {
        n.emplace(co_await io::recv(_fd, rest).with_cancel(_cancel));
      }
      if (!*n || **n == 0) {
        std::string why = !*n ? n->error().message() : std::string("closed by the client mid-request");
        if (!*n && n->error().sys_errno() == ETIMEDOUT) {
          why = fmt::format("idle for {} ms in the middle of a {}-byte request "
                            "(connections.max.idle.ms)",
                            _limits.idle_ms, request->frame.size());
        }
        close_with(std::move(why));
        complete = false;
        break;
      }
      received += **n;
      request->held.take(**n);
    }
    if (!complete) break;

    protocol::wire_reader reader(request->frame);
    if (!protocol::decode_request_header(reader, request->context.header)) {
      RINGLOG_WARN("connection {} from {}: malformed request header ({}); closing", _info.id,
                   _info.peer, reader.error_message());
      close_with("malformed request header");
      break;
    }
    request->context.body = request->frame.subspan(reader.position());
    request->context.connection = &_info;
    request->context.cancel = &_cancel;

    in_flight* started = request.get();
    _queue.push_back(std::move(request));
    ++_handlers_running;
    // Runs the handler until its first suspension before the next frame is
    // read: the ordering contract of request_handler.h.
    spawn(serve(started), "request");
  }
  _reader_done = true;
  _changed.notify_all();
}

task<void> connection::serve(in_flight* request) {
  reply action = reply::close;
  try {
    action = co_await _handler.handle(request->context, request->out);
  } catch (const std::exception& e) {
    RINGLOG_ERROR("connection {}: handler for api {} v{} threw: {}", _info.id,
                  request->context.header.api_key, request->context.header.api_version, e.what());
  }
  if (action == reply::close) close_with("malformed request");
  if (action == reply::send) request->out.finish();
  request->action = action;
  request->done = true;
  --_handlers_running;
  _changed.notify_all();
}

task<void> connection::write_loop() {
  for (;;) {
    if (!_queue.empty() && _queue.front()->done) {
      if (_closing) {
        _queue.pop_front();
        continue;
      }
      const bool sent = co_await send_ready();
      if (!sent && !_closing) close_with("send failed");
      _changed.notify_all();  // slots freed for the reader
      continue;
    }
    if (_reader_done && _handlers_running == 0 && _queue.empty()) break;
    if (_closing && _handlers_running == 0) {
      _queue.clear();
      if (_reader_done) break;
    }
    co_await _changed.wait();
  }
}

// Sends the completed responses at the front of the queue: the memory-only
// ones together in one sendmsg, one with file ranges chunk by chunk.
task<bool> connection::send_ready() {
  std::vector<iovec> iov;
  size_t take = 0;
  for (const auto& r : _queue) {
    if (!r->done || iov.size() >= k_max_iovecs) break;
    if (r->action != reply::send) {
      ++take;
      continue;
    }
    const auto chunks = r->out.chunks();
    const bool has_files = std::any_of(chunks.begin(), chunks.end(),
                                       [](const auto& c) { return c.file.bytes > 0; });
    if (has_files) {
      if (take > 0) break;  // send what is gathered first
      const auto& memory = r->out.memory();
      for (size_t i = 0; i < chunks.size(); ++i) {
        const bool more = i + 1 < chunks.size();
        const auto& c = chunks[i];
        bool ok;
        if (c.file.bytes > 0) {
          ok = co_await send_file(c.file, more);
        } else {
          iovec one{const_cast<std::byte*>(memory.data() + c.memory_offset), c.memory_bytes};
          ok = co_await send_all(&one, 1, more);
        }
        if (!ok) co_return false;
      }
      _queue.pop_front();
      co_return true;
    }
    const auto& memory = r->out.memory();
    for (const auto& c : chunks) {
      if (c.memory_bytes > 0) {
        iov.push_back({const_cast<std::byte*>(memory.data() + c.memory_offset), c.memory_bytes});
      }
    }
    ++take;
  }
  bool ok = true;
  if (!iov.empty()) ok = co_await send_all(iov.data(), iov.size(), false);
  for (size_t i = 0; i < take; ++i) _queue.pop_front();
  co_return ok;
}

task<bool> connection::send_all(const iovec* iov_in, size_t count, bool more) {
  std::vector<iovec> iov(iov_in, iov_in + count);
  size_t first = 0;
  while (first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = iov.size() - first;
    auto n = co_await io::sendmsg(_fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0)).with_cancel(_cancel);
    if (!n) {
      if (!is_quiet_close(n.error())) {
        RINGLOG_WARN("connection {} from {}: {}", _info.id, _info.peer, n.error().message());
      }
      close_with(n.error().message());
      co_return false;
    }
    size_t sent = *n;
    while (first < iov.size() && sent >= iov[first].iov_len) {
      sent -= iov[first].iov_len;
      ++first;
    }
    if (first < iov.size() && sent > 0) {
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + sent;
      iov[first].iov_len -= sent;
    }
  }
  co_return true;
}

task<bool> connection::send_file(const protocol::file_range& range, bool more) {
  if (_pipe[0] < 0) {
    if (::pipe2(_pipe, O_CLOEXEC) != 0) {
      RINGLOG_ERROR("connection {}: pipe2: {}", _info.id, std::strerror(errno));
      co_return false;
    }
    (void)::fcntl(_pipe[1], F_SETPIPE_SZ, k_pipe_bytes);
  }
  const int pipe_bytes = std::max(::fcntl(_pipe[1], F_GETPIPE_SZ), 4096);
  uint64_t offset = range.offset;
  uint32_t left = range.bytes;
  while (left > 0) {
    const uint32_t want = std::min<uint32_t>(left, static_cast<uint32_t>(pipe_bytes));
    auto in = co_await io::splice(range.fd, static_cast<int64_t>(offset), _pipe[1], -1, want,
                                  SPLICE_F_MOVE)
                  .with_cancel(_cancel);
    if (!in || *in == 0) {
      // The file shrank under the read (truncation): the promised length can
      // no longer be met, so the frame is broken; the client reconnects.
      RINGLOG_WARN("connection {}: sending {} bytes at {} of a segment: {}", _info.id, left, offset,
                   !in ? in.error().message() : std::string("the file ended early"));
      co_return false;
    }
    offset += *in;
    left -= static_cast<uint32_t>(*in);
    size_t in_pipe = *in;
    while (in_pipe > 0) {
      const unsigned flags = SPLICE_F_MOVE | ((more || left > 0) ? SPLICE_F_MORE : 0);
      auto out = co_await io::splice(_pipe[0], -1, _fd, -1, static_cast<uint32_t>(in_pipe), flags)
                     .with_cancel(_cancel);
      if (!out || *out == 0) {
        if (!out && !is_quiet_close(out.error())) {
          RINGLOG_WARN("connection {} from {}: {}", _info.id, _info.peer, out.error().message());
        }
        close_with(!out ? out.error().message() : std::string("socket closed"));
        co_return false;
      }
      in_pipe -= *out;
    }
  }
  co_return true;
}

}  // namespace ringlog::net
