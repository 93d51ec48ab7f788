#include "poller.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "corral/core/log.h"

namespace corral::proxy {

Poller::Poller(event_base* base, Handler handler, Finish finish, void* context)
    : handler_(handler), finish_(finish), context_(context) {
  fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd_ < 0) {
    log::proxy()->critical("cannot create an epoll instance");
    std::abort();
  }
  event_assign(&event_, base, fd_, EV_READ | EV_PERSIST,
               [](evutil_socket_t, short, void* self) { static_cast<Poller*>(self)->dispatch(); },
               this);
  event_add(&event_, nullptr);
}

Poller::~Poller() {
  event_del(&event_);
  ::close(fd_);
}

bool Poller::add(int fd, uint64_t token) {
  epoll_event interest{.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data = {.u64 = token}};
  return ::epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &interest) == 0;
}

void Poller::again(uint64_t token) {
  if (again_.empty()) {
    event_active(&event_, EV_READ, 0); // come back on the next loop turn even if nothing is ready
  }
  again_.push_back(token);
}

void Poller::forget(uint64_t token) {
  std::erase(again_, token);
  std::replace(now_.begin(), now_.end(), token, uint64_t{0});
}

// The ready sockets first, then the sessions that asked to come back: those had their turn already.
void Poller::dispatch() {
  now_.swap(again_);
  dispatching_ = true;
  const int count = ::epoll_wait(fd_, events_.data(), kBatch, 0);
  for (int i = 0; i < count; ++i) {
    handler_(context_, events_[i].data.u64, events_[i].events);
  }
  for (const uint64_t token : now_) {
    if (token != 0) {
      handler_(context_, token, 0);
    }
  }
  now_.clear();
  dispatching_ = false;
  finish_(context_);
}

} // namespace corral::proxy
