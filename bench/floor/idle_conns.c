// idle-conns: both ends of bench/compare.sh's idle workload, which asks what an open connection
// that carries nothing costs a proxy.
//
//   idle-conns hold LISTEN_IP:PORT
//       A backend that accepts every connection and holds it without a byte either way. Prints
//       "listening on IP:PORT", then "held N" (at most every 100 ms, when N changed).
//   idle-conns open IP:PORT COUNT SOURCES SECONDS [RATE]
//       Opens COUNT connections to IP:PORT, from 127.0.0.2 up to 127.0.0.(SOURCES + 1) in turn so
//       that no source address runs out of ports, at most 256 connecting at once and at most RATE
//       a second (default 4000; 0: no limit). The kernel completes the handshake before the proxy
//       accepts, so without a rate a proxy may accept thousands at once and connect them to its
//       backend in one burst, past the backend's listen queue (net.core.somaxconn). Prints
//       "connected N of COUNT" (within 30 s), then holds them for SECONDS, printing "open N" when
//       N changes, and exits; SIGTERM ends it sooner. Exit 1 when not all connected.
//
// Both raise their own open-file limit to the hard limit.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kMaxEvents = 256, kInFlight = 256, kConnectSeconds = 30 };

static void fail(const char* what) {
  perror(what);
  exit(1);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
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

static void raiseFileLimit(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// A peer that closes or resets shows as readable; an idle connection never sends.
static int peerClosed(int fd) {
  char byte;
  ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN);
}

static int hold(const char* address) {
  struct sockaddr_in listen_address;
  if (parseAddress(address, &listen_address) < 0) {
    fprintf(stderr, "bad address %s\n", address);
    return 2;
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, (struct sockaddr*)&listen_address, sizeof listen_address) < 0 ||
      listen(listener, 4096) < 0) {
    fail("listen");
  }
  socklen_t length = sizeof listen_address;
  getsockname(listener, (struct sockaddr*)&listen_address, &length);
  printf("listening on %s:%d\n", inet_ntoa(listen_address.sin_addr),
         ntohs(listen_address.sin_port));
  fflush(stdout);
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &ev);
  struct epoll_event events[kMaxEvents];
  long held = 0, reported = -1;
  for (;;) {
    int n = epoll_wait(epoll_fd, events, kMaxEvents, 100);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd != listener) {
        if (peerClosed(fd)) {
          close(fd);
          --held;
        }
        continue;
      }
      int client;
      while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct epoll_event client_ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = client};
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, client, &client_ev);
        ++held;
      }
    }
    if (held != reported) {
      printf("held %ld\n", held);
      fflush(stdout);
      reported = held;
    }
  }
}

// Starts one non-blocking connect from the k-th source address; returns the socket or -1.
static int startConnect(const struct sockaddr_in* target, long k, long sources, int epoll_fd) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one); // port at connect()
  struct sockaddr_in source = {.sin_family = AF_INET};
  source.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(k % sources));
  if (bind(fd, (struct sockaddr*)&source, sizeof source) < 0 ||
      (connect(fd, (const struct sockaddr*)target, sizeof *target) < 0 && errno != EINPROGRESS)) {
    close(fd);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  return fd;
}

static int openIdle(const char* address, long count, long sources, double seconds, double rate) {
  struct sockaddr_in target;
  if (parseAddress(address, &target) < 0 || count <= 0 || sources <= 0 || sources > 250) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event events[kMaxEvents];
  long started = 0, connecting = 0, connected = 0, failed = 0;
  double start = now(), deadline = start + kConnectSeconds;
  while (connected + failed < count && now() < deadline) {
    long allowed = rate > 0 ? (long)((now() - start) * rate) + 1 : count;
    while (started < count && started < allowed && connecting < kInFlight) {
      if (startConnect(&target, started++, sources, epoll_fd) < 0) {
        ++failed;
      } else {
        ++connecting;
      }
    }
    int n = epoll_wait(epoll_fd, events, kMaxEvents, rate > 0 ? 1 : 100);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd, error = 0;
      socklen_t length = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      --connecting;
      if (error != 0) {
        close(fd);
        ++failed;
        continue;
      }
      ++connected;
      struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
      epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev);
    }
  }
  printf("connected %ld of %ld\n", connected, count);
  fflush(stdout);
  long open = connected, reported = connected;
  double end = now() + seconds;
  while (now() < end) {
    int n = epoll_wait(epoll_fd, events, kMaxEvents, 100);
    for (int i = 0; i < n; ++i) {
      if (peerClosed(events[i].data.fd)) {
        close(events[i].data.fd);
        --open;
      }
    }
    if (open != reported) {
      printf("open %ld\n", open);
      fflush(stdout);
      reported = open;
    }
  }
  return connected == count ? 0 : 1;
}

int main(int argc, char** argv) {
  raiseFileLimit();
  if (argc == 3 && strcmp(argv[1], "hold") == 0) {
    return hold(argv[2]);
  }
  if ((argc == 6 || argc == 7) && strcmp(argv[1], "open") == 0) {
    return openIdle(argv[2], atol(argv[3]), atol(argv[4]), atof(argv[5]),
                    argc == 7 ? atof(argv[6]) : 4000);
  }
  fprintf(stderr,
          "usage: %s hold LISTEN_IP:PORT\n"
          "       %s open IP:PORT COUNT SOURCES SECONDS [RATE]\n",
          argv[0], argv[0]);
  return 2;
}
