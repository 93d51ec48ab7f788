// floor-relay: the least work a TCP relay can do, as a floor for bench/compare.sh to measure
// corral, HAProxy and NGINX against. One thread, one epoll set, no library.
//
//   floor-relay [--splice] [--buffer BYTES] LISTEN_IP:PORT BACKEND_IP:PORT [BACKEND_IP:PORT...]
//
// Each client gets a connection to the next backend, round robin. Bytes move through one fixed
// buffer per direction (16 KiB, HAProxy's tune.bufsize), or with --splice through one pipe per
// direction (splice(2) socket -> pipe -> socket, no copy to user space). A direction takes its
// buffer or pipe from a pool when it has bytes to move and gives it back once they are written,
// as HAProxy does, so an idle connection holds neither: only its struct conn. A read EOF is passed
// on as shutdown(SHUT_WR) once what was read is written; the connection closes when both
// directions are shut, or on the first error either side. Port 0 lets the kernel choose; the
// bound address is printed as "listening on IP:PORT".
//
// Sockets are registered once, edge-triggered for input and output, and never modified, so the
// relay makes no epoll_ctl call per read or write. A short read means the socket was empty, so
// the relay waits for the next edge instead of reading again to get EAGAIN (nginx does the same),
// except once the peer has closed (EPOLLRDHUP): then it reads on until it sees the EOF.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kMaxBackends = 64, kMaxEvents = 256, kPipePoolMax = 1024, kBacklog = 4096 };

struct conn;
struct end { // epoll data of one socket; a NULL pointer is the listener
  struct conn* conn;
  int side;           // 0 client, 1 server
  int closed_by_peer; // EPOLLRDHUP seen: read until EOF, never stop at a short read
};
struct dir { // dir[0] moves client -> server, dir[1] server -> client
  char* buf;
  size_t start, end; // unsent bytes in buf, or (splice) bytes waiting in the pipe in end
  int pipe[2];
  int eof, shut;
};
struct conn {
  int fd[2];
  struct end ends[2];
  struct dir dir[2];
  int connecting, dead;
  struct conn* next_dead;
};

static size_t buffer_size = 16384;
static int use_splice;
static struct sockaddr_in backends[kMaxBackends];
static int backend_count, next_backend;
static int epoll_fd;
static int pipe_pool[kPipePoolMax][2];
static int pipe_pool_size;
static struct conn* dead_list;
static char* free_buffers; // each free buffer starts with the pointer to the next

static void fail(const char* what) {
  perror(what);
  exit(1);
}

static int parseAddress(const char* text, struct sockaddr_in* out) {
  char host[64];
  const char* colon = strrchr(text, ':');
  if (!colon || colon - text >= (long)sizeof host) {
    return -1;
  }
  memcpy(host, text, colon - text);
  host[colon - text] = '\0';
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons((unsigned short)atoi(colon + 1));
  return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void watch(int fd, void* data) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = data};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    fail("epoll_ctl");
  }
}

static int takeBuffer(struct dir* d) {
  if (free_buffers) {
    d->buf = free_buffers;
    memcpy(&free_buffers, d->buf, sizeof free_buffers);
    return 0;
  }
  d->buf = malloc(buffer_size);
  return d->buf ? 0 : -1;
}

static void dropBuffer(struct dir* d) {
  if (d->buf) {
    memcpy(d->buf, &free_buffers, sizeof free_buffers);
    free_buffers = d->buf;
    d->buf = NULL;
  }
}

static int takePipe(struct dir* d) {
  if (pipe_pool_size > 0) {
    --pipe_pool_size;
    d->pipe[0] = pipe_pool[pipe_pool_size][0];
    d->pipe[1] = pipe_pool[pipe_pool_size][1];
    return 0;
  }
  return pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC);
}

static void dropPipe(struct dir* d) {
  if (d->pipe[0] < 0) {
    return;
  }
  if (d->end == 0 && pipe_pool_size < kPipePoolMax) { // empty: reusable as is
    pipe_pool[pipe_pool_size][0] = d->pipe[0];
    pipe_pool[pipe_pool_size][1] = d->pipe[1];
    ++pipe_pool_size;
  } else {
    close(d->pipe[0]);
    close(d->pipe[1]);
  }
  d->pipe[0] = d->pipe[1] = -1;
}

// Closes both sockets now; the memory waits until the current batch of events is handled, since
// the batch may still hold an event for the other socket.
static void closeConn(struct conn* c) {
  if (c->dead) {
    return;
  }
  c->dead = 1;
  for (int i = 0; i < 2; ++i) {
    if (c->fd[i] >= 0) {
      close(c->fd[i]);
    }
    dropBuffer(&c->dir[i]);
    dropPipe(&c->dir[i]);
  }
  c->next_dead = dead_list;
  dead_list = c;
}

// Moves what is buffered out to dst, then reads src until it is empty or dst is full.
// Returns -1 on an error that ends the connection.
static int pumpBuffer(struct conn* c, int i) {
  struct dir* d = &c->dir[i];
  int src = c->fd[i], dst = c->fd[1 - i];
  int more = 1; // src may hold more than the last read took
  for (;;) {
    if (d->end > d->start) {
      ssize_t n = send(dst, d->buf + d->start, d->end - d->start, MSG_NOSIGNAL);
      if (n < 0) {
        return errno == EAGAIN ? 0 : -1;
      }
      d->start += (size_t)n;
      if (d->start < d->end) {
        return 0; // dst is full; its EPOLLOUT edge resumes here
      }
      d->start = d->end = 0;
    }
    if (d->eof || !more) {
      return 0;
    }
    if (!d->buf && takeBuffer(d) < 0) {
      return -1;
    }
    ssize_t n = recv(src, d->buf, buffer_size, 0);
    if (n == 0) {
      d->eof = 1;
    } else if (n < 0) {
      return errno == EAGAIN ? 0 : -1;
    } else {
      d->end = (size_t)n;
      more = (size_t)n == buffer_size || c->ends[i].closed_by_peer;
    }
  }
}

// The same with the pipe in place of the buffer. splice() may stop short of what the socket
// holds when the pipe's slots fill, so a short splice does not mean the socket is empty: read
// until EAGAIN.
static int pumpSplice(struct conn* c, int i) {
  struct dir* d = &c->dir[i];
  int src = c->fd[i], dst = c->fd[1 - i];
  if (d->pipe[0] < 0 && takePipe(d) < 0) {
    return -1;
  }
  const unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
  for (;;) {
    while (d->end > 0) {
      ssize_t n = splice(d->pipe[0], NULL, dst, NULL, d->end, flags);
      if (n < 0) {
        return errno == EAGAIN ? 0 : -1;
      }
      d->end -= (size_t)n;
    }
    if (d->eof) {
      return 0;
    }
    ssize_t n = splice(src, NULL, d->pipe[1], NULL, 1 << 20, flags);
    if (n == 0) {
      d->eof = 1;
    } else if (n < 0) {
      return errno == EAGAIN ? 0 : -1;
    } else {
      d->end = (size_t)n;
    }
  }
}

// Runs direction i as far as it goes; shuts the writing side once the reading side's EOF is
// passed on, and closes the connection when both directions are shut.
static void pump(struct conn* c, int i) {
  struct dir* d = &c->dir[i];
  if (c->dead || c->connecting || d->shut) {
    return;
  }
  if ((use_splice ? pumpSplice(c, i) : pumpBuffer(c, i)) < 0) {
    closeConn(c);
    return;
  }
  if (d->end == d->start) { // nothing waits to be written
    if (use_splice) {
      dropPipe(d);
    } else {
      dropBuffer(d);
    }
  }
  if (d->eof && d->end == 0) {
    shutdown(c->fd[1 - i], SHUT_WR);
    d->shut = 1;
    if (c->dir[1 - i].shut) {
      closeConn(c);
    }
  }
}

static void acceptClients(int listener) {
  for (;;) {
    int client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      if (errno != EAGAIN && errno != ECONNABORTED) {
        perror("accept4");
      }
      return;
    }
    const struct sockaddr_in* backend = &backends[next_backend];
    next_backend = (next_backend + 1) % backend_count;
    int server = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (server < 0 || (connect(server, (const struct sockaddr*)backend, sizeof *backend) < 0 &&
                       errno != EINPROGRESS)) {
      close(client);
      if (server >= 0) {
        close(server);
      }
      continue;
    }
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn* c = calloc(1, sizeof *c);
    if (!c) {
      fail("calloc");
    }
    c->fd[0] = client;
    c->fd[1] = server;
    c->connecting = 1;
    for (int i = 0; i < 2; ++i) {
      c->ends[i] = (struct end){.conn = c, .side = i};
      c->dir[i].pipe[0] = c->dir[i].pipe[1] = -1;
      watch(c->fd[i], &c->ends[i]);
    }
  }
}

static void onEvent(struct end* e, uint32_t events) {
  struct conn* c = e->conn;
  if (c->dead) {
    return;
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    e->closed_by_peer = 1;
  }
  if (c->connecting) {
    if (e->side == 0) {
      return; // client bytes wait in the socket; the connect completion reads them
    }
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      closeConn(c);
      return;
    }
    c->connecting = 0;
    pump(c, 0);
    pump(c, 1);
    return;
  }
  // Input on a socket feeds the direction that reads it; room on a socket lets the direction
  // that writes to it go on, if it has bytes waiting. Anything else would cost a read that finds
  // nothing.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    pump(c, e->side);
  }
  const struct dir* writer = &c->dir[1 - e->side];
  if ((events & EPOLLOUT) && writer->end > writer->start) {
    pump(c, 1 - e->side);
  }
}

int main(int argc, char** argv) {
  int arg = 1;
  for (; arg < argc && strncmp(argv[arg], "--", 2) == 0; ++arg) {
    if (strcmp(argv[arg], "--splice") == 0) {
      use_splice = 1;
    } else if (strcmp(argv[arg], "--buffer") == 0 && arg + 1 < argc) {
      buffer_size = strtoul(argv[++arg], NULL, 10);
      buffer_size = buffer_size < sizeof(char*) ? 0 : buffer_size;
    } else {
      break;
    }
  }
  struct sockaddr_in listen_address;
  if (argc - arg < 2 || buffer_size == 0 || parseAddress(argv[arg], &listen_address) < 0) {
    fprintf(stderr, "usage: %s [--splice] [--buffer BYTES] LISTEN_IP:PORT BACKEND_IP:PORT...\n",
            argv[0]);
    return 2;
  }
  for (++arg; arg < argc && backend_count < kMaxBackends; ++arg) {
    if (parseAddress(argv[arg], &backends[backend_count++]) < 0) {
      fprintf(stderr, "bad backend address %s\n", argv[arg]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, (struct sockaddr*)&listen_address, sizeof listen_address) < 0 ||
      listen(listener, kBacklog) < 0) {
    fail("listen");
  }
  socklen_t length = sizeof listen_address;
  getsockname(listener, (struct sockaddr*)&listen_address, &length);
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &listen_address.sin_addr, host, sizeof host);
  printf("listening on %s:%d (%s)\n", host, ntohs(listen_address.sin_port),
         use_splice ? "splice" : "buffer");
  fflush(stdout);

  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &ev) < 0) {
    fail("epoll");
  }
  struct epoll_event events[kMaxEvents];
  for (;;) {
    int n = epoll_wait(epoll_fd, events, kMaxEvents, -1);
    if (n < 0 && errno != EINTR) {
      fail("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == NULL) {
        acceptClients(listener);
      } else {
        onEvent(events[i].data.ptr, events[i].events);
      }
    }
    while (dead_list) {
      struct conn* c = dead_list;
      dead_list = c->next_dead;
      free(c);
    }
  }
}
