// The server and its connections over real loopback sockets: pipelined
// requests answered in request order however their handlers finish, file
// ranges sent zero-copy, oversized and malformed frames closing only their
// own connection, idle connections closed, and a stop that ends parked
// handlers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "engine/runtime/event.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/timer.h"
#include "net/protocol/api/request_header.h"
#include "net/server.h"

namespace ringlog::net {
namespace {

using namespace std::chrono_literals;

// Test protocol inside an ApiVersions v0 frame: the body's first byte says
// what the handler does.
//   'e' u32 delay_ms payload...  echo payload after the delay
//   'f' path                     answer with the whole file as a file range
//   'c'                          reply::close
//   'w'                          wait until the connection is cancelled
//   'g' padding...               wait until the test opens the gate
class test_handler final : public request_handler {
 public:
  task<reply> handle(request_context& ctx, protocol::wire_writer& out) override {
    ++started;
    const auto body = ctx.body;
    if (body.empty()) co_return reply::close;
    const char cmd = static_cast<char>(body[0]);
    protocol::encode_response_header(out, ctx.header.correlation_id, ctx.header.api_key, 0);
    if (cmd == 'e') {
      const uint32_t delay = load_be32(body.data() + 1);
      if (delay > 0) co_await sleep_for(std::chrono::milliseconds(delay));
      for (size_t i = 5; i < body.size(); ++i) out.write_int8(static_cast<int8_t>(body[i]));
      co_return reply::send;
    }
    if (cmd == 'f') {
      std::string path(reinterpret_cast<const char*>(body.data() + 1), body.size() - 1);
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) co_return reply::close;
      const off_t size = ::lseek(fd, 0, SEEK_END);
      auto owner = std::shared_ptr<const void>(nullptr, [fd](const void*) { ::close(fd); });
      out.write_int8('<');
      out.append_file(protocol::file_range{fd, 0, static_cast<uint32_t>(size), owner});
      out.write_int8('>');
      co_return reply::send;
    }
    if (cmd == 'g') {
      while (!gate_open.load()) co_await sleep_for(1ms);
      out.write_int8('g');
      co_return reply::send;
    }
    if (cmd == 'w') {
      event never;
      (void)co_await never.wait(ctx.cancel);
      ++cancelled;
      co_return reply::none;
    }
    co_return reply::close;
  }
  std::atomic<int> started{0};
  std::atomic<int> cancelled{0};
  std::atomic<bool> gate_open{false};  // 'g' requests wait for it
};

std::vector<std::byte> request_frame(int32_t correlation_id, const std::string& body) {
  protocol::wire_writer w(true);
  protocol::request_header h;
  h.api_key = 18;
  h.api_version = 0;
  h.correlation_id = correlation_id;
  h.client_id = "server-test";
  protocol::encode_request_header(w, h);
  for (char c : body) w.write_int8(static_cast<int8_t>(c));
  w.finish();
  return w.memory();
}

std::string echo_body(uint32_t delay_ms, const std::string& payload) {
  std::string b = "e";
  b.resize(5);
  store_be32(reinterpret_cast<std::byte*>(b.data() + 1), delay_ms);
  return b + payload;
}

class client {
 public:
  explicit client(uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~client() { ::close(fd); }
  void send(const std::vector<std::byte>& bytes) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  void send_raw(const std::string& bytes) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  // One response frame: correlation id and the rest; nullopt when closed.
  std::optional<std::pair<int32_t, std::string>> receive() {
    std::string size_bytes = read_exactly(4);
    if (size_bytes.size() < 4) return std::nullopt;
    const uint32_t size = load_be32(reinterpret_cast<const std::byte*>(size_bytes.data()));
    std::string frame = read_exactly(size);
    if (frame.size() < size || size < 4) return std::nullopt;
    const int32_t id = static_cast<int32_t>(load_be32(reinterpret_cast<const std::byte*>(frame.data())));
    return std::make_pair(id, frame.substr(4));
  }
  // True when the server closed the connection (EOF) within the timeout.
  bool closed_by_server() {
    char c;
    return ::recv(fd, &c, 1, 0) == 0;
  }
  int fd;

 private:
  std::string read_exactly(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void start(connection_limits limits = {}, int64_t queued_max_request_bytes = -1) {
    rt = std::make_unique<runtime>(runtime_options{.shards = 2, .ring_entries = 256});
    ASSERT_TRUE(rt->start());
    server_config config;
    config.listeners.push_back(listener{"PLAINTEXT", "127.0.0.1", 0});
    config.limits = limits;
    config.queued_max_request_bytes = queued_max_request_bytes;
    srv = std::make_unique<server>(*rt, config, handler);
    status st = srv->start();
    ASSERT_TRUE(st) << st.error().message();
    port = srv->bound().at(0).port;
    ASSERT_NE(port, 0);
  }
  void TearDown() override {
    if (srv) srv->stop();
    if (rt) rt->stop();
  }
  test_handler handler;
  std::unique_ptr<runtime> rt;
  std::unique_ptr<server> srv;
  uint16_t port = 0;
};

TEST_F(ServerTest, PipelinedResponsesComeBackInRequestOrder) {
  start();
  client c(port);
  // Earlier requests take longer: handlers finish in reverse order.
  std::vector<std::byte> all;
  for (int i = 0; i < 20; ++i) {
    auto f = request_frame(i, echo_body(static_cast<uint32_t>((20 - i) * 2), "r" + std::to_string(i)));
    all.insert(all.end(), f.begin(), f.end());
  }
  c.send(all);
  for (int i = 0; i < 20; ++i) {
    auto r = c.receive();
    ASSERT_TRUE(r.has_value()) << "response " << i;
    EXPECT_EQ(r->first, i);
    EXPECT_EQ(r->second, "r" + std::to_string(i));
  }
}

// Two 2,500-byte requests where the first one fills the bound: the second is
// read only once the first's response has gone.
void second_request_waits_for_the_first(test_handler& handler, uint16_t port) {
  client c(port);
  c.send(request_frame(1, "g" + std::string(2'500, 'p')));
  c.send(request_frame(2, echo_body(0, std::string(2'500, 'q'))));
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (handler.started.load() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(handler.started.load(), 1);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(handler.started.load(), 1) << "the second request was read past the bound";
  handler.gate_open = true;
  auto first = c.receive();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->first, 1);
  auto second = c.receive();
  ASSERT_TRUE(second.has_value()) << "the waiting request is read once the first is answered";
  EXPECT_EQ(second->first, 2);
  EXPECT_EQ(handler.started.load(), 2);
}

TEST_F(ServerTest, AConnectionHoldsAtMostSocketRequestMaxBytesOfRequests) {
  start(connection_limits{.max_request_bytes = 3'000});
  second_request_waits_for_the_first(handler, port);
}

TEST_F(ServerTest, AShardStartsNoFrameWhileItsShareOfQueuedMaxRequestBytesIsHeld) {
  start({}, 4'000);  // 2 shards: 2,000 bytes each, which the first request passes
  second_request_waits_for_the_first(handler, port);
}

TEST_F(ServerTest, SizePrefixesAloneHoldNoBudgetAndAHalfSentRequestIdlesOut) {
  start(connection_limits{.idle_ms = 200}, 4'000);
  // Size prefixes of large requests, and nothing more: they cost nothing.
  std::vector<std::unique_ptr<client>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<client>(port));
    held.back()->send_raw(std::string("\x00\x10\x00\x00", 4));
  }
  client c(port);
  c.send(request_frame(5, echo_body(0, std::string(1'500, 'z'))));
  auto r = c.receive();
  ASSERT_TRUE(r.has_value()) << "a request is served beside stalled size prefixes";
  EXPECT_EQ(r->first, 5);
  // The stalled ones are idle connections: closed after idle_ms.
  for (auto& h : held) EXPECT_TRUE(h->closed_by_server());
}

TEST_F(ServerTest, FileRangesAreSentBetweenMemoryBytes) {
  start();
  const std::string path = ::testing::TempDir() + "ringlog_server_file";
  std::string content;
  for (int i = 0; i < 300'000; ++i) content.push_back(static_cast<char>('a' + i % 26));
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::close(fd);
  }
  client c(port);
  c.send(request_frame(7, "f" + path));
  c.send(request_frame(8, echo_body(0, "after")));
  auto r = c.receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 7);
  EXPECT_EQ(r->second, "<" + content + ">");
  auto next = c.receive();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->second, "after");
  ::unlink(path.c_str());
}

TEST_F(ServerTest, OversizedFrameClosesOnlyThatConnection) {
  connection_limits limits;
  limits.max_request_bytes = 1024;
  start(limits);
  client bad(port);
  std::string frame(4, '\0');
  store_be32(reinterpret_cast<std::byte*>(frame.data()), 4096);
  bad.send_raw(frame);
  EXPECT_TRUE(bad.closed_by_server());
  client good(port);
  good.send(request_frame(1, echo_body(0, "ok")));
  auto r = good.receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->second, "ok");
}

TEST_F(ServerTest, MalformedHeaderOrHandlerRefusalClosesTheConnection) {
  start();
  client garbage(port);
  garbage.send_raw(std::string("\0\0\0\x03\x01\x02\x03", 7));
  EXPECT_TRUE(garbage.closed_by_server());
  client refused(port);
  refused.send(request_frame(1, "c"));
  EXPECT_TRUE(refused.closed_by_server());
  EXPECT_EQ(handler.started.load(), 1);
}

TEST_F(ServerTest, IdleConnectionIsClosed) {
  connection_limits limits;
  limits.idle_ms = 100;
  start(limits);
  client c(port);
  c.send(request_frame(1, echo_body(0, "x")));
  ASSERT_TRUE(c.receive().has_value());
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(ServerTest, StopEndsParkedHandlersAndClosesConnections) {
  start();
  client c(port);
  c.send(request_frame(1, "w"));
  for (int i = 0; i < 200 && handler.started.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(handler.started.load(), 1);
  EXPECT_EQ(srv->connections(), 1u);
  srv->stop();
  EXPECT_EQ(handler.cancelled.load(), 1);
  EXPECT_EQ(srv->connections(), 0u);
  EXPECT_TRUE(c.closed_by_server());
  srv.reset();
}

}  // namespace
}  // namespace ringlog::net
