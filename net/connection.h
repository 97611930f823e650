// connection: one client socket on the shard that accepted it.
//
// A reader loop takes frames off the socket (4-byte size, then the request),
// decodes the request header and starts the request's handler at once, so a
// client may pipeline up to max_in_flight requests; a writer loop sends the
// responses strictly in request order as they complete. Consecutive ready
// responses leave in one sendmsg; a response carrying file ranges (fetched
// record bytes) sends them with splice through a per-connection pipe, so those
// bytes never enter user space.
//
// Memory: the frames of the requests in flight total at most
// max_request_bytes per connection (one request may be that large), and a
// new frame is started only while the shard is under its request_budget;
// past either, the reader waits for responses to go out. A request half
// sent and then silent for idle_ms closes the connection.
//
// A frame larger than max_request_bytes, a header that does not decode, a
// handler asking to close, a peer that hangs up or a socket error each close
// this connection only, with a logged reason. An idle connection (no request
// in flight and nothing received for idle_ms) is closed, as Kafka's
// connections.max.idle.ms does.
//
// Lifetime: run() owns the socket and returns only after every handler it
// started has finished and the socket is closed. Shard-local.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/runtime/cancel.h"
#include "engine/runtime/event.h"
#include "engine/runtime/task.h"
#include "net/request_budget.h"
#include "net/request_handler.h"

struct iovec;

namespace ringlog::net {

struct connection_limits {
  uint32_t max_request_bytes = 104'857'600;  // socket.request.max.bytes
  int64_t idle_ms = 600'000;                 // connections.max.idle.ms; -1 never
  uint32_t max_in_flight = 64;               // requests decoded but not yet answered
};

class connection {
 public:
  // `budget`: the shard's bytes of requests in flight (queued.max.request.bytes),
  // outliving the connection; nullptr for none.
  connection(int fd, connection_info info, connection_limits limits, request_handler& handler,
             request_budget* budget = nullptr);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  task<void> run();
  // Stops reading, cancels waiting handlers and closes once they finish.
  void shutdown() noexcept;

  const connection_info& info() const noexcept { return _info; }

  // Intrusive list of a shard's connections (owned by the server).
  connection* prev = nullptr;
  connection* next = nullptr;

 private:
  // A frame as counted by the connection (its whole size, from the size
  // prefix on) and by the shard's budget (the bytes received so far): given
  // back when the request leaves the queue (its response sent).
  struct reservation {
    request_budget* budget = nullptr;
    uint64_t* queued = nullptr;
    uint64_t frame_bytes = 0;
    uint64_t received = 0;
    reservation() = default;
    reservation(const reservation&) = delete;
    reservation& operator=(const reservation&) = delete;
    void take(uint64_t bytes) noexcept {
      received += bytes;
      if (budget != nullptr) budget->take(bytes);
    }
    ~reservation() {
      if (budget != nullptr) budget->release(received);
      if (queued != nullptr) *queued -= frame_bytes;
    }
  };

  struct in_flight {
    reservation held;
    // The request frame, left uninitialised until received (a zero-filled
    // vector cost a memset of every produced byte: 6% of a produce profile).
    std::unique_ptr<std::byte[]> frame_bytes;
    std::span<std::byte> frame;
    request_context context;
    protocol::wire_writer out;
    reply action = reply::none;
    bool done = false;
  };

  task<void> read_loop();
  task<void> write_loop();
  task<void> serve(in_flight* request);
  // Receives into _in until at least `want` unread bytes are buffered.
  task<bool> fill(size_t want);
  task<bool> send_ready();
  task<bool> send_all(const ::iovec* iov, size_t count, bool more);
  task<bool> send_file(const protocol::file_range& range, bool more);
  void close_with(std::string reason);

  int _fd;
  connection_info _info;
  connection_limits _limits;
  request_handler& _handler;
  request_budget* _budget;
  uint64_t _queued_bytes = 0;  // frames of the requests in _queue

  std::vector<std::byte> _in;  // receive buffer: bytes [_in_begin, _in_end) are unread
  size_t _in_begin = 0;
  size_t _in_end = 0;

  std::deque<std::unique_ptr<in_flight>> _queue;  // request order
  size_t _handlers_running = 0;
  event _changed;  // a response completed, a slot freed, or the connection is closing
  cancel_source _cancel;
  bool _closing = false;
  bool _reader_done = false;
  std::string _close_reason;

  int _pipe[2] = {-1, -1};  // for splice, created on the first file range
};

}  // namespace ringlog::net
