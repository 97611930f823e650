// Every awaitable operation of engine/runtime/io.h does what its syscall does:
// sockets (connect, accept, send, recv, sendmsg), vectored and plain file I/O,
// fallocate, splice through a pipe, and directory operations.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/runtime/io.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/when_all.h"

namespace ringlog {
namespace {

std::span<const std::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

class IoOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt = std::make_unique<runtime>(runtime_options{.shards = 1, .pin_threads = false});
    ASSERT_TRUE(rt->start());
    dir = ::testing::TempDir() + "ringlog-io-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override {
    rt->stop();
    std::filesystem::remove_all(dir);
  }
  std::unique_ptr<runtime> rt;
  std::string dir;
};

task<std::string> accept_and_echo(int listen_fd) {
  auto fd = co_await io::accept(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (!fd) co_return "accept: " + fd.error().message();
  std::string got;
  std::byte buf[64];
  while (got.size() < 11) {
    auto n = co_await io::recv(*fd, buf);
    if (!n || *n == 0) break;
    got.append(reinterpret_cast<const char*>(buf), *n);
  }
  // Answer with sendmsg: two iovecs, one message.
  std::string a = "ECHO:", b = got;
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  auto sent = co_await io::sendmsg(*fd, &msg);
  (void)co_await io::close(*fd);
  co_return sent ? got : "sendmsg: " + sent.error().message();
}

task<std::string> connect_and_send(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (auto c = co_await io::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr); !c) {
    co_return "connect: " + c.error().message();
  }
  if (auto s = co_await io::send(fd, bytes_of("hello")); !s) co_return "send: " + s.error().message();
  if (auto s = co_await io::send(fd, bytes_of(" world")); !s) co_return "send: " + s.error().message();
  std::string reply;
  std::byte buf[64];
  for (;;) {
    auto n = co_await io::recv(fd, buf);
    if (!n || *n == 0) break;
    reply.append(reinterpret_cast<const char*>(buf), *n);
  }
  (void)co_await io::close(fd);
  co_return reply;
}

task<std::vector<std::string>> socket_round_trip(int listen_fd, uint16_t port) {
  auto [server, client] = co_await when_all(accept_and_echo(listen_fd), connect_and_send(port));
  co_return std::vector<std::string>{server, client};
}

TEST_F(IoOpsTest, SocketsConnectAcceptSendRecvSendmsg) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto out = rt->block_on(0, socket_round_trip(lfd, ntohs(addr.sin_port)));
  EXPECT_EQ(out[0], "hello world");
  EXPECT_EQ(out[1], "ECHO:hello world");
  ::close(lfd);
}

task<std::vector<std::string>> file_ops(std::string dir) {
  std::vector<std::string> out;
  const std::string sub = dir + "/sub";
  if (auto m = co_await io::mkdirat(AT_FDCWD, sub.c_str(), 0755); !m) out.push_back(m.error().message());
  const std::string path = sub + "/f";
  auto fd = co_await io::openat(AT_FDCWD, path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (!fd) co_return std::vector<std::string>{fd.error().message()};
  // fallocate then writev two pieces, readv them back.
  if (auto f = co_await io::fallocate(*fd, 0, 0, 1 << 20); !f) out.push_back(f.error().message());
  std::string a = "abc", b = "defgh";
  iovec w[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  auto wn = co_await io::writev(*fd, w, 100);
  out.push_back(wn ? std::to_string(*wn) : wn.error().message());
  char r1[4] = {}, r2[5] = {};
  iovec r[2] = {{r1, 4}, {r2, 4}};
  auto rn = co_await io::readv(*fd, r, 100);
  out.push_back(rn ? std::string(r1, 4) + "|" + std::string(r2, 4) : rn.error().message());
  struct stat st;
  ::fstat(*fd, &st);
  out.push_back(std::to_string(st.st_size));
  if (auto s = co_await io::fsync(*fd); !s) out.push_back(s.error().message());
  if (auto s = co_await io::fdatasync_range(*fd, 0, 4096); !s) out.push_back(s.error().message());
  // splice 8 bytes file -> pipe -> another file, never through user memory.
  int p[2];
  (void)::pipe(p);
  const std::string copy = sub + "/copy";
  auto cfd = co_await io::openat(AT_FDCWD, copy.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  auto in = co_await io::splice(*fd, 100, p[1], -1, 8);
  auto outn = co_await io::splice(p[0], -1, *cfd, 0, 8);
  out.push_back(in && outn ? std::to_string(*in) + "," + std::to_string(*outn) : "splice failed");
  char copied[9] = {};
  (void)::pread(*cfd, copied, 8, 0);
  out.push_back(copied);
  ::close(p[0]);
  ::close(p[1]);
  (void)co_await io::close(*cfd);
  (void)co_await io::close(*fd);
  // rename, unlink, rmdir.
  const std::string moved = sub + "/g";
  if (auto m = co_await io::renameat(AT_FDCWD, path.c_str(), AT_FDCWD, moved.c_str()); !m) {
    out.push_back(m.error().message());
  }
  out.push_back(::access(moved.c_str(), F_OK) == 0 && ::access(path.c_str(), F_OK) != 0 ? "renamed" : "not renamed");
  (void)co_await io::unlinkat(AT_FDCWD, moved.c_str());
  (void)co_await io::unlinkat(AT_FDCWD, copy.c_str());
  auto rm = co_await io::unlinkat(AT_FDCWD, sub.c_str(), AT_REMOVEDIR);
  out.push_back(rm ? "removed" : rm.error().message());
  auto again = co_await io::unlinkat(AT_FDCWD, sub.c_str(), AT_REMOVEDIR);
  out.push_back(again ? "removed twice?" : again.error().message());
  co_return out;
}

TEST_F(IoOpsTest, FileAndDirectoryOperations) {
  auto out = rt->block_on(0, file_ops(dir));
  EXPECT_EQ(out, (std::vector<std::string>{"8", "abcd|efgh", "1048576", "8,8", "abcdefgh", "renamed",
                                           "removed", "unlinkat: No such file or directory (errno 2)"}));
}

task<std::vector<std::string>> linked_write_sync(std::string path) {
  std::vector<std::string> out;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  auto ok_write = co_await io::write_fdatasync(fd, bytes_of("durable"), 10);
  out.push_back(ok_write ? std::to_string(*ok_write) : ok_write.error().message());
  char back[8] = {};
  (void)::pread(fd, back, 7, 10);
  out.push_back(back);
  ::close(fd);
  const int ro = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  auto bad = co_await io::write_fdatasync(ro, bytes_of("x"), 0);
  out.push_back(bad ? "ok" : bad.error().message());
  ::close(ro);
  co_return out;
}

TEST_F(IoOpsTest, WriteFdatasyncChainsAndReportsTheWritesError) {
  auto out = rt->block_on(0, linked_write_sync(dir + "/linked"));
  EXPECT_EQ(out, (std::vector<std::string>{"7", "durable", "write: Bad file descriptor (errno 9)"}));
}

}  // namespace
}  // namespace ringlog
