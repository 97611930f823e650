// The seam between the server (framing, connections, ordering) and the broker
// (what each API does). The server decodes the frame's size and request
// header, hands the request to a request_handler on the connection's shard,
// and sends whatever the handler wrote, in request order.
//
// Ordering contract: the server starts request N+1's handle() only after
// request N's handle() has reached its first suspension. A handler that does
// its order-sensitive work (dispatching appends to partitions) before it first
// suspends therefore keeps a connection's requests in order per partition,
// while later requests still run while earlier ones wait for their fsync.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "engine/runtime/cancel.h"
#include "engine/runtime/task.h"
#include "net/protocol/api/request_header.h"
#include "net/protocol/wire.h"

namespace ringlog::net {

// Who is on the other end of a connection; stable for its lifetime.
struct connection_info {
  uint64_t id = 0;
  std::string peer;      // "127.0.0.1:51234"
  std::string listener;  // the listener's name, e.g. PLAINTEXT
  // The address the client connected to (no port): what Metadata advertises
  // when a listener binds every interface.
  std::string local_host;
  unsigned shard = 0;
};

struct request_context {
  protocol::request_header header;
  // The request body after the header: a view into the frame, which lives
  // until handle() finishes. Handlers may rewrite it in place (offsets).
  std::span<std::byte> body;
  const connection_info* connection = nullptr;
  // Cancelled when the connection closes or the server stops: long waits
  // (fetch long polls) join it.
  cancel_source* cancel = nullptr;
};

enum class reply {
  send,   // `out` holds a whole response frame (size, header, body)
  none,   // no response (Produce with acks=0)
  close,  // the request was malformed: close the connection (logged by the handler)
};

class request_handler {
 public:
  virtual ~request_handler() = default;
  // Runs on the connection's shard. Writes a framed response into `out`
  // (a framed wire_writer, already cleared) when it returns reply::send.
  virtual task<reply> handle(request_context& request, protocol::wire_writer& out) = 0;
};

}  // namespace ringlog::net
