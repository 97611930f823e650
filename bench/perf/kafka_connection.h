// kafka_connection: one client TCP connection speaking Kafka framing on the
// calling shard's io_uring: sends whole request frames and reads whole
// response frames, so requests can be pipelined (responses come back in
// request order on one connection, as Kafka guarantees).
//
// Thread safety: a connection belongs to the shard that connected it. At most
// one coroutine sends and at most one receives at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/runtime/task.h"
#include "net/protocol/api/request_header.h"
#include "net/protocol/wire.h"

namespace ringlog::perf {

// An error of ringlog-perf's own (not from the OS): protocol and broker errors.
error perf_error(std::string_view op, std::string detail);

class kafka_connection {
 public:
  kafka_connection() = default;
  kafka_connection(const kafka_connection&) = delete;
  kafka_connection& operator=(const kafka_connection&) = delete;
  ~kafka_connection();

  // Resolves host (getaddrinfo, blocking: done once at start-up) and connects.
  task<status> connect(const std::string& host, uint16_t port);
  void close() noexcept;
  // Ends both directions now (a pending receive or send returns); close() later.
  void shutdown() noexcept;
  bool is_open() const noexcept { return _fd >= 0; }

  // Frames a request: header (version from the API), then the body.
  template <class Request>
  int32_t encode(protocol::wire_writer& w, const Request& req, int16_t version,
                 const std::string& client_id) {
    protocol::request_header h;
    h.api_key = Request::api_key;
    h.api_version = version;
    h.correlation_id = _next_correlation++;
    h.client_id = client_id;
    w.clear();
    protocol::encode_request_header(w, h);
    req.encode(w, version);
    w.finish();
    return h.correlation_id;
  }

  // Sends every byte of `frame`.
  task<status> send_all(std::span<const std::byte> frame);
  // Reads the next response frame (without its size prefix). The span stays
  // valid until the next receive; timeout_ms <= 0 waits forever.
  task<result<std::span<std::byte>>> receive(int32_t timeout_ms);

 private:
  int _fd = -1;
  int32_t _next_correlation = 1;
  std::vector<std::byte> _buf;
  size_t _begin = 0;  // unread bytes are _buf[_begin, _end)
  size_t _end = 0;
};

// Decodes a response frame: checks the correlation id, skips the header's
// tagged fields when the header is v1, then decodes the body.
template <class Response>
status decode_response(std::span<std::byte> frame, int32_t correlation_id, int16_t version,
                       Response& out) {
  protocol::wire_reader r(frame);
  const int32_t got = r.read_int32();
  if (r.ok() && got != correlation_id) {
    return perf_error("response", "correlation id " + std::to_string(got) + ", expected " +
                                      std::to_string(correlation_id));
  }
  if (protocol::response_header_version(Response::api_key, version) >= 1) r.skip_tagged_fields();
  out.decode(r, version);
  if (!r.ok()) return perf_error("decode", r.error_message());
  return ok();
}

// How long a one-off request (start-up, admin) waits for its response.
inline constexpr int32_t k_request_timeout_ms = 30000;

// One request, one response, on an otherwise idle connection.
template <class Request, class Response>
task<status> round_trip(const char* api, kafka_connection& c, const Request& req, int16_t version,
                        const std::string& client_id, Response& resp,
                        int32_t wait_ms = k_request_timeout_ms) {
  protocol::wire_writer w;
  const int32_t id = c.encode(w, req, version, client_id);
  if (auto s = co_await c.send_all(w.memory()); !s) co_return perf_error(api, s.error().message());
  auto frame = co_await c.receive(wait_ms);
  if (!frame) co_return perf_error(api, frame.error().message());
  auto decoded = decode_response(*frame, id, version, resp);
  if (!decoded) co_return perf_error(api, decoded.error().message());
  co_return ok();
}

// "NOT_COORDINATOR (16)": a Kafka error code as error messages show it.
std::string kafka_error_text(int16_t code);

}  // namespace ringlog::perf
