// The relay's per-worker pools: buffers and pipes come back for reuse (LIFO), a pipe moves bytes
// with splice(2), and the free lists are bounded.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/endpoint.h"
#include "proxy/pools.h"

namespace corral::proxy {
namespace {

TEST(BufferPoolTest, AGivenBackBufferIsTheNextTakenAndStartsEmpty) {
  BufferPool pool;
  Buffer* first = pool.take();
  first->commit(100);
  first->consume(40);
  EXPECT_EQ(first->size(), 60u);
  pool.give(first);
  EXPECT_EQ(pool.inUse(), 0u);
  Buffer* again = pool.take();
  EXPECT_EQ(again, first);
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(again->room(), Buffer::kCapacity);
  pool.give(again);
}

TEST(BufferPoolTest, ConsumingEverythingRewindsTheBuffer) {
  Buffer buffer;
  buffer.commit(10);
  buffer.consume(10);
  EXPECT_EQ(buffer.begin, 0u);
  EXPECT_EQ(buffer.room(), Buffer::kCapacity);
}

TEST(BufferPoolTest, ManyBuffersInUseAtOnceAllComeBack) {
  BufferPool pool;
  std::vector<Buffer*> taken;
  for (int i = 0; i < 200; ++i) {
    taken.push_back(pool.take());
  }
  EXPECT_EQ(pool.inUse(), 200u);
  for (Buffer* buffer : taken) {
    pool.give(buffer);
  }
  EXPECT_EQ(pool.inUse(), 0u);
}

TEST(PipePoolTest, APipeMovesBytesBetweenSocketsAndIsReused) {
  PipePool pool;
  Pipe pipe = pool.take();
  ASSERT_TRUE(pipe);
  int in[2];
  int out[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, in), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, out), 0);
  const std::string message = "spliced without a copy";
  ASSERT_EQ(::write(in[1], message.data(), message.size()), static_cast<ssize_t>(message.size()));
  Endpoint from{.fd = in[0]};
  Endpoint to{.fd = out[0]};
  from.readable = to.writable = true;
  const Io read = from.spliceIn(pipe.write_fd, PipePool::kPipeSize);
  ASSERT_EQ(read.status, IoStatus::Ok);
  EXPECT_EQ(read.bytes, message.size());
  const Io written = to.spliceOut(pipe.read_fd, read.bytes);
  ASSERT_EQ(written.status, IoStatus::Ok);
  std::string received(message.size(), '\0');
  ASSERT_EQ(::read(out[1], received.data(), received.size()), static_cast<ssize_t>(message.size()));
  EXPECT_EQ(received, message);
  EXPECT_EQ(from.spliceIn(pipe.write_fd, PipePool::kPipeSize).status, IoStatus::Blocked);
  EXPECT_FALSE(from.readable) << "EAGAIN clears readiness until the next edge";
  const int read_fd = pipe.read_fd;
  pool.give(pipe);
  EXPECT_FALSE(pipe) << "given back: the caller holds it no more";
  EXPECT_EQ(pool.take().read_fd, read_fd);
  for (int fd : {in[0], in[1], out[0], out[1]}) {
    ::close(fd);
  }
}

// A short read means the socket is drained (the next bytes bring an edge), unless the peer's FIN
// or an error was flagged: that may sit behind the data, so reading goes on until recv says so.
TEST(EndpointTest, AShortReadClearsReadinessUnlessThePeerHasHungUp) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  Endpoint endpoint{.fd = pair[0]};
  endpoint.onEdge(EPOLLIN | EPOLLOUT);
  ASSERT_EQ(::write(pair[1], "abc", 3), 3);
  char buffer[16];
  Io io = endpoint.receive(buffer, sizeof(buffer));
  EXPECT_EQ(io.status, IoStatus::Ok);
  EXPECT_EQ(io.bytes, 3u);
  EXPECT_FALSE(endpoint.readable);
  ASSERT_EQ(::write(pair[1], "de", 2), 2);
  ::shutdown(pair[1], SHUT_WR);
  endpoint.onEdge(EPOLLIN | EPOLLRDHUP);
  io = endpoint.receive(buffer, sizeof(buffer));
  EXPECT_EQ(io.bytes, 2u);
  EXPECT_TRUE(endpoint.readable) << "the FIN is still to be read";
  EXPECT_EQ(endpoint.receive(buffer, sizeof(buffer)).status, IoStatus::Closed);
  endpoint.close();
  ::close(pair[1]);
}

TEST(EndpointTest, AnErrorEdgeCountsAsReadableWritableAndHungUp) {
  Endpoint endpoint;
  endpoint.onEdge(EPOLLERR);
  EXPECT_TRUE(endpoint.readable);
  EXPECT_TRUE(endpoint.writable);
  EXPECT_TRUE(endpoint.hung_up);
}

} // namespace
} // namespace corral::proxy
