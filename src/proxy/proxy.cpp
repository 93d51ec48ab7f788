#include "corral/proxy/proxy.h"

#include <unistd.h>

#include "access_log.h"
#include "corral/core/log.h"
#include "listener.h"
#include "worker.h"

namespace corral::proxy {
namespace {

void closeAll(std::vector<std::vector<int>>& fds) {
  for (auto& per_worker : fds) {
    for (int fd : per_worker) {
      ::close(fd);
    }
  }
}

} // namespace

// Binds every frontend once per worker. Port 0 is resolved by the first bind and reused by the
// others, so that all workers share one address.
Result<std::unique_ptr<Proxy>> Proxy::create(runtime::SnapshotPtr snapshot) {
  std::unique_ptr<Proxy> proxy(new Proxy());
  const size_t workers = snapshot->workers;
  std::vector<std::vector<int>> fds(workers);
  for (const runtime::Frontend& frontend : snapshot->frontends) {
    auto address = SocketAddress::fromHostPort(frontend.config->listen);
    for (size_t w = 0; address && w < workers; ++w) {
      auto fd = openListener(*address);
      if (!fd) {
        closeAll(fds);
        fd.error().message = fmt::format("frontend {}: {}", frontend.config->name,
                                         fd.error().message);
        return std::unexpected(fd.error());
      }
      fds[w].push_back(*fd);
      if (w == 0) {
        *address = boundAddress(*fd);
        proxy->bound_.emplace_back(frontend.config->name, *address);
      }
    }
    if (!address) {
      closeAll(fds);
      return std::unexpected(address.error());
    }
  }
  auto access_log = AccessLog::open(snapshot->config.access_log, workers);
  if (!access_log) {
    closeAll(fds);
    return std::unexpected(access_log.error());
  }
  proxy->access_log_ = std::move(*access_log);
  for (size_t w = 0; w < workers; ++w) {
    proxy->workers_.push_back(
        std::make_unique<Worker>(w, snapshot, std::move(fds[w]), *proxy->access_log_));
  }
  proxy->snapshot_ = std::move(snapshot);
  return proxy;
}

Proxy::~Proxy() {
  drain();
  join();
  workers_.clear();
}

void Proxy::start() {
  for (auto& worker : workers_) {
    worker->start();
  }
  for (const auto& [name, address] : bound_) {
    log::proxy()->info("frontend {} listening on {} ({} workers)", name, address.toString(),
                       workers_.size());
  }
}

void Proxy::drain() {
  for (auto& worker : workers_) {
    worker->drain();
  }
}

void Proxy::join() {
  for (auto& worker : workers_) {
    worker->join();
  }
  if (access_log_) {
    access_log_->finish();
  }
}

void Proxy::reopenAccessLog() {
  if (access_log_) {
    access_log_->reopen();
  }
}

std::vector<std::pair<std::string, SocketAddress>> Proxy::boundAddresses() const {
  return bound_;
}

} // namespace corral::proxy
