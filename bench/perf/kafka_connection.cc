#include "bench/perf/kafka_connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "base/bytes.h"
#include "engine/runtime/io.h"

namespace ringlog::perf {
namespace {

std::string_view describe_perf(int code) noexcept { return code == 1 ? "protocol error" : "error"; }
const error_domain k_perf_domain{"perf", &describe_perf};

// A response larger than this is a broken frame, not data (Fetch responses
// are bounded by fetch max bytes, at most 2 GiB; we allow 1 GiB + slack).
constexpr uint32_t k_max_frame_bytes = (1u << 30) + (1u << 20);
constexpr size_t k_read_chunk = 256 * 1024;

}  // namespace

error perf_error(std::string_view op, std::string detail) {
  return error(k_perf_domain, 1, op, std::move(detail));
}

kafka_connection::~kafka_connection() { close(); }

void kafka_connection::close() noexcept {
  if (_fd >= 0) ::close(_fd);
  _fd = -1;
}

void kafka_connection::shutdown() noexcept {
  if (_fd >= 0) ::shutdown(_fd, SHUT_RDWR);
}

task<status> kafka_connection::connect(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    co_return perf_error("getaddrinfo", host + ": " + gai_strerror(rc));
  }
  status last = perf_error("connect", host + ": no address");
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = error::from_errno(errno, "socket");
      continue;
    }
    auto c = co_await io::connect(fd, a->ai_addr, a->ai_addrlen);
    if (!c) {
      last = c;
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    _fd = fd;
    last = ok();
    break;
  }
  ::freeaddrinfo(found);
  co_return last;
}

task<status> kafka_connection::send_all(std::span<const std::byte> frame) {
  RINGLOG_ASSERT(_fd >= 0, "send on a closed connection");
  while (!frame.empty()) {
    auto n = co_await io::send(_fd, frame);
    if (!n) co_return n.error();
    if (*n == 0) co_return perf_error("send", "connection closed");
    frame = frame.subspan(*n);
  }
  co_return ok();
}

task<result<std::span<std::byte>>> kafka_connection::receive(int32_t timeout_ms) {
  RINGLOG_ASSERT(_fd >= 0, "receive on a closed connection");
  size_t need = 4;
  bool have_size = false;
  for (;;) {
    const size_t have = _end - _begin;
    if (!have_size && have >= 4) {
      const uint32_t size = load_be32(_buf.data() + _begin);
      if (size > k_max_frame_bytes || size < 4) {
        co_return perf_error("receive", "bad frame size " + std::to_string(size));
      }
      need = 4 + size;
      have_size = true;
    }
    if (have_size && have >= need) {
      std::span<std::byte> frame(_buf.data() + _begin + 4, need - 4);
      _begin += need;
      co_return frame;
    }
    // Make room: move the partial frame to the front, grow to fit it.
    if (_begin > 0) {
      std::memmove(_buf.data(), _buf.data() + _begin, have);
      _end = have;
      _begin = 0;
    }
    const size_t want = std::max(need, _end + k_read_chunk);
    if (_buf.size() < want) _buf.resize(want);
    std::span<std::byte> space(_buf.data() + _end, _buf.size() - _end);
    // "Forever" is a day: the runtime's timeouts are links, always present here.
    const auto timeout = timeout_ms > 0 ? std::chrono::milliseconds(timeout_ms)
                                        : std::chrono::milliseconds(86'400'000);
    result<size_t> n = co_await io::recv(_fd, space).with_timeout(timeout);
    if (!n) co_return n.error();
    if (*n == 0) co_return perf_error("receive", "connection closed by the broker");
    _end += *n;
  }
}

}  // namespace ringlog::perf
