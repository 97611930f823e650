#include "net/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/event.h"
#include "engine/runtime/io.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/timer.h"

namespace ringlog::net {
namespace {

std::atomic<uint64_t> g_next_connection_id{1};

std::string format_host(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, host, sizeof host);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    // A v4 client on a dual-stack socket: advertise the v4 form.
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], host, sizeof host);
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    }
  }
  return host;
}

std::string format_peer(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return fmt::format("{}:{}", host, port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
    return fmt::format("[{}]:{}", host, port);
  }
  return "unknown";
}

// Resolves a listener's host (empty: every interface, IPv6 and IPv4).
result<sockaddr_storage> resolve(const listener& l, socklen_t* len) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(l.port);
  const int rc = getaddrinfo(l.host.empty() ? nullptr : l.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return error(system_domain(), EINVAL, "getaddrinfo",
                 fmt::format("listener {}: host '{}': {}", l.name, l.host, gai_strerror(rc)));
  }
  // With no host, prefer IPv6 (a dual-stack socket also takes IPv4).
  const addrinfo* pick = found;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (l.host.empty() && a->ai_family == AF_INET6) {
      pick = a;
      break;
    }
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, pick->ai_addr, pick->ai_addrlen);
  *len = pick->ai_addrlen;
  freeaddrinfo(found);
  return addr;
}

void set_port(sockaddr_storage& addr, uint16_t port) {
  if (addr.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
  else reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
}

enum class port_sharing { exclusive, shards };

// A bound socket (listening unless `sharing` is exclusive: that one only
// probes whether the port is free).
result<int> open_listen_socket(const listener& l, sockaddr_storage addr, socklen_t len, int backlog,
                               port_sharing sharing = port_sharing::shards) {
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return error::from_errno(errno, "socket", l.name);
  const int one = 1;
  // SO_REUSEADDR: connections of an earlier process in TIME_WAIT do not
  // hold the port (they never take new connections).
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (sharing == port_sharing::shards &&
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    const int err = errno;
    ::close(fd);
    return error::from_errno(err, "setsockopt", "SO_REUSEPORT");
  }
  if (addr.ss_family == AF_INET6 && l.host.empty()) {
    const int zero = 0;
    (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    ::close(fd);
    return error::from_errno(err, "bind",
                             fmt::format("listener {}://{}:{}", l.name, l.host, l.port));
  }
  if (sharing == port_sharing::exclusive) return fd;
  if (::listen(fd, backlog) != 0) {
    const int err = errno;
    ::close(fd);
    return error::from_errno(err, "listen", l.name);
  }
  return fd;
}

// Waits until no other socket holds the listener's port. SO_REUSEPORT lets
// any process of the same user bind beside sockets that are still there,
// and the kernel then hashes some new connections to them: the listening
// sockets of a broker that was just SIGKILLed outlive it by tens of
// milliseconds while the kernel tears its io_uring down (seen with ss -ltn
// after the process was reaped), and connections hashed to them are reset;
// a second broker started on the same port would silently take half the
// clients of the first. A probe bound without SO_REUSEPORT fails while any
// such socket exists, so the port is ours once the probe binds.
status wait_for_free_port(const listener& l, const sockaddr_storage& addr, socklen_t len,
                          std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool warned = false;
  for (;;) {
    auto probe = open_listen_socket(l, addr, len, 0, port_sharing::exclusive);
    if (probe) {
      ::close(*probe);
      if (warned) RINGLOG_INFO("listener {}: port {} is free now", l.name, l.port);
      return ok();
    }
    if (probe.error().sys_errno() != EADDRINUSE || std::chrono::steady_clock::now() >= deadline) {
      if (probe.error().sys_errno() != EADDRINUSE) return probe.error();
      return error::from_errno(EADDRINUSE, "bind",
                               fmt::format("listener {}://{}:{}: the port is in use by another process "
                                           "(waited {} ms for it to close)",
                                           l.name, l.host, l.port, wait.count()));
    }
    if (!warned) {
      RINGLOG_WARN("listener {}://{}:{}: the port is still held by another socket (a broker "
                   "that just exited?); waiting up to {} ms for it to close",
                   l.name, l.host, l.port, wait.count());
      warned = true;
    }
    // Start-up, before any shard runs: a short blocking sleep is the wait.
    ::usleep(10'000);
  }
}

void log_accept_failure(const std::string& listener, const error& e) {
  const int err = e.sys_errno();
  if (err == EMFILE || err == ENFILE) {
    rlimit limit{};
    (void)::getrlimit(RLIMIT_NOFILE, &limit);
    RINGLOG_WARN("accept on {}: out of file descriptors ({}; the open-files limit is {}): new "
                 "connections wait until descriptors free up. Each partition holds one open "
                 "file and each client a socket: raise the limit (ulimit -n, LimitNOFILE= "
                 "under systemd)",
                 listener, e.message(), static_cast<uint64_t>(limit.rlim_cur));
    return;
  }
  RINGLOG_WARN("accept on {}: {}: new connections wait and accept is retried", listener,
               e.message());
}

}  // namespace

struct server::shard_state {
  explicit shard_state(int64_t budget_bytes) : budget(budget_bytes) {}
  request_budget budget;  // outlives the connections (declared before them)
  std::vector<int> listen_fds;  // one per listener
  cancel_source stop_accepting;
  connection* connections = nullptr;  // intrusive list
  uint64_t open = 0;
  size_t accept_loops = 0;
  event changed;  // a connection closed or an accept loop ended
  std::atomic<uint64_t> open_count{0};
};

server::server(runtime& rt, server_config config, request_handler& handler)
    : _rt(rt), _config(std::move(config)), _handler(handler) {}

server::~server() {
  RINGLOG_ASSERT(!_started, "server destroyed while running: call stop()");
  for (auto& s : _shards) {
    for (int fd : s->listen_fds) {
      if (fd >= 0) ::close(fd);
    }
  }
}

uint64_t server::connections() const noexcept {
  uint64_t n = 0;
  for (const auto& s : _shards) n += s->open_count.load(std::memory_order_relaxed);
  return n;
}

status server::start() {
  RINGLOG_ASSERT(!_started, "server started twice");
  // Each shard's share of queued.max.request.bytes (at least 1 byte, so a
  // tiny setting still lets one request at a time through per shard).
  const int64_t share =
      _config.queued_max_request_bytes < 0
          ? -1
          : std::max<int64_t>(1, _config.queued_max_request_bytes / static_cast<int64_t>(_rt.size()));
  for (unsigned i = 0; i < _rt.size(); ++i) _shards.push_back(std::make_unique<shard_state>(share));
  for (const listener& l : _config.listeners) {
    socklen_t len = 0;
    auto addr = resolve(l, &len);
    if (!addr) return addr.error();
    if (l.port != 0) {
      if (auto st = wait_for_free_port(l, *addr, len, _config.port_wait); !st) return st;
    }
    uint16_t port = l.port;
    for (unsigned i = 0; i < _rt.size(); ++i) {
      set_port(*addr, port);
      auto fd = open_listen_socket(l, *addr, len, _config.backlog);
      if (!fd) return fd.error();
      _shards[i]->listen_fds.push_back(*fd);
      if (port == 0) {
        sockaddr_storage bound{};
        socklen_t blen = sizeof bound;
        ::getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &blen);
        port = ntohs(bound.ss_family == AF_INET
                         ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                         : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
      }
    }
    _bound.push_back({l.name, l.host, port});
    RINGLOG_INFO("listening on {}://{}:{} ({} shards)", l.name, l.host, port, _rt.size());
  }
  _started = true;
  for (unsigned i = 0; i < _rt.size(); ++i) {
    _rt.block_on(i, [](server* self, unsigned shard) -> task<void> {
      for (size_t l = 0; l < self->_config.listeners.size(); ++l) {
        ++self->_shards[shard]->accept_loops;
        spawn(self->accept_loop(shard, l), "accept");
      }
      co_return;
    }(this, i));
  }
  return ok();
}

task<void> server::accept_loop(unsigned shard_id, size_t listener_index) {
  shard_state* state = _shards[shard_id].get();
  const int listen_fd = state->listen_fds[listener_index];
  const std::string& name = _config.listeners[listener_index].name;
  log_limiter limiter(10'000'000'000);
  int64_t failing_since_ns = 0;
  uint64_t failed = 0;
  while (!state->stop_accepting.cancelled()) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    auto fd = co_await io::accept(listen_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                                  SOCK_CLOEXEC)
                  .with_cancel(state->stop_accepting);
    if (!fd) {
      if (fd.error().sys_errno() == ECANCELED) break;
      // Out of descriptors or memory: say so (once per episode and then
      // every 10 s) and back off rather than spin; new connections wait in
      // the listen backlog. A connection closing frees a descriptor, so that
      // wakes the retry early.
      if (failing_since_ns == 0) failing_since_ns = monotonic_ns();
      ++failed;
      if (limiter.allow(monotonic_ns())) log_accept_failure(name, fd.error());
      (void)co_await state->changed.wait_until(monotonic_ns() + 100'000'000, &state->stop_accepting);
      continue;
    }
    if (failing_since_ns != 0) {
      RINGLOG_INFO("accept on {}: accepting again after {} ms ({} accepts failed)", name,
                   (monotonic_ns() - failing_since_ns) / 1'000'000, failed);
      failing_since_ns = 0;
      failed = 0;
    }
    const int one = 1;
    (void)::setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connection_info info;
    info.id = g_next_connection_id.fetch_add(1, std::memory_order_relaxed);
    info.peer = format_peer(peer);
    info.listener = name;
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    if (::getsockname(*fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
      info.local_host = format_host(local);
    }
    info.shard = shard_id;
    auto c = std::make_unique<connection>(*fd, std::move(info), _config.limits, _handler,
                                          &state->budget);
    spawn(serve_connection(state, std::move(c)), "connection");
  }
  --state->accept_loops;
  state->changed.notify_all();
}

task<void> server::serve_connection(shard_state* state, std::unique_ptr<connection> c) {
  connection* self = c.get();
  self->next = state->connections;
  if (state->connections != nullptr) state->connections->prev = self;
  state->connections = self;
  ++state->open;
  state->open_count.store(state->open, std::memory_order_relaxed);

  co_await self->run();

  if (self->prev != nullptr) self->prev->next = self->next;
  else state->connections = self->next;
  if (self->next != nullptr) self->next->prev = self->prev;
  --state->open;
  state->open_count.store(state->open, std::memory_order_relaxed);
  state->changed.notify_all();
}

task<void> server::stop_shard() {
  shard_state* state = _shards[shard::current()->id()].get();
  state->stop_accepting.cancel();
  for (connection* c = state->connections; c != nullptr; c = c->next) c->shutdown();
  while (state->open > 0 || state->accept_loops > 0) co_await state->changed.wait();
}

void server::stop() {
  if (!_started) return;
  for (unsigned i = 0; i < _rt.size(); ++i) _rt.block_on(i, stop_shard());
  _started = false;
}

}  // namespace ringlog::net
