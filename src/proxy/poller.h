#pragma once
// The worker's epoll instance for session sockets, nested in its libevent loop (an epoll file
// descriptor is itself pollable). Sessions register each socket once, edge-triggered, and get the
// raw epoll flags back: libevent reports a reset or a hang-up as "readable and writable", like
// plain data on a writable socket, so behind libevent a short read could not be trusted to mean
// "drained". With the flags, a short read ends the reading until the next edge (one recv per
// request instead of two), and closing a socket needs no epoll_ctl at all.

#include <event2/event.h>
#include <event2/event_struct.h>
#include <sys/epoll.h>

#include <array>
#include <cstdint>
#include <vector>

namespace corral::proxy {

class Poller {
public:
  /// Called for each event: `token` as registered, `events` the epoll flags (or 0 for a token
  /// queued with again()).
  using Handler = void (*)(void* context, uint64_t token, uint32_t events);
  /// Called once a batch has been handed out.
  using Finish = void (*)(void* context);

  Poller(event_base* base, Handler handler, Finish finish, void* context);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  /// Registers `fd` for reads, writes and the peer's FIN, edge-triggered. Closing the socket
  /// unregisters it. False when epoll refuses (out of memory, or the limit of watches).
  bool add(int fd, uint64_t token);
  /// Calls the handler for `token` once more on a later loop turn, after the other ready events:
  /// for a session that stopped early to let others run.
  void again(uint64_t token);
  /// Forgets `token` in again()'s queue (its session is ending).
  void forget(uint64_t token);
  /// True while events are being handed out: a session that closes then must not be destroyed
  /// before the batch is over, since later events of the batch may name it.
  bool dispatching() const { return dispatching_; }

private:
  static constexpr int kBatch = 256;

  void dispatch();

  int fd_ = -1;
  event event_{};
  Handler handler_;
  Finish finish_;
  void* context_;
  bool dispatching_ = false;
  std::vector<uint64_t> again_;
  std::vector<uint64_t> now_; // again_'s tokens being run
  std::array<epoll_event, kBatch> events_{};
};

} // namespace corral::proxy
