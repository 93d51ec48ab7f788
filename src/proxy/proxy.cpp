#include "corral/proxy/proxy.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "access_log.h"
#include "corral/core/log.h"
#include "listener.h"
#include "worker.h"

namespace corral::proxy {
namespace {

void closeAll(const std::vector<std::vector<int>>& fds) {
  for (const auto& per_frontend : fds) {
    for (int fd : per_frontend) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
}

bool sameListen(const HostPort& a, const HostPort& b) { return a.host == b.host && a.port == b.port; }

// The sockets handed over for `frontend`: by name (an upgrade; the port may have been 0), else by
// address (systemd, or a renamed frontend).
std::optional<std::vector<int>> takeInherited(std::vector<InheritedListener>* inherited,
                                              const runtime::Frontend& frontend,
                                              const SocketAddress& address) {
  if (inherited == nullptr) {
    return std::nullopt;
  }
  const HostPort& listen = frontend.config->listen;
  for (auto& entry : *inherited) {
    const bool by_name = !entry.frontend.empty() && entry.frontend == frontend.config->name &&
                         (listen.port == 0 || entry.address.toString() == address.toString());
    const bool by_address = listen.port != 0 && entry.address.toString() == address.toString();
    if (!entry.fds.empty() && (by_name || by_address)) {
      return std::exchange(entry.fds, {});
    }
  }
  return std::nullopt;
}

// As many sockets as workers: dup()s share one when fewer were handed over (every worker then
// accepts from the same queue); a surplus is closed (net.ipv4.tcp_migrate_req=1 moves what waits
// in its queue to the sockets that stay).
std::vector<int> fitToWorkers(std::vector<int> fds, size_t workers) {
  for (size_t i = fds.size(); i < workers; ++i) {
    fds.push_back(::fcntl(fds[i % fds.size()], F_DUPFD_CLOEXEC, 0));
  }
  while (fds.size() > workers) {
    ::close(fds.back());
    fds.pop_back();
  }
  return fds;
}

} // namespace

// Port 0 is resolved by the first bind and reused by the other workers' sockets, so that all
// workers share one address.
Result<std::vector<int>> Proxy::bindFrontend(const runtime::Frontend& frontend, size_t workers,
                                             SocketAddress& bound,
                                             std::vector<InheritedListener>* inherited) {
  auto address = SocketAddress::fromHostPort(frontend.config->listen);
  if (!address) {
    return std::unexpected(address.error());
  }
  if (auto handed = takeInherited(inherited, frontend, *address)) {
    bound = boundAddress(handed->front());
    return fitToWorkers(std::move(*handed), workers);
  }
  if (auto free = checkNotInUse(*address); !free) {
    free.error().message = fmt::format("frontend {}: {}", frontend.config->name, free.error().message);
    return std::unexpected(free.error());
  }
  std::vector<int> fds;
  for (size_t w = 0; w < workers; ++w) {
    auto fd = openListener(*address);
    if (!fd) {
      closeAll({fds});
      fd.error().message = fmt::format("frontend {}: {}", frontend.config->name, fd.error().message);
      return std::unexpected(fd.error());
    }
    fds.push_back(*fd);
    if (w == 0) {
      *address = boundAddress(*fd);
    }
  }
  bound = *address;
  return fds;
}

Result<std::unique_ptr<Proxy>> Proxy::create(runtime::SnapshotPtr snapshot,
                                             std::vector<InheritedListener> inherited) {
  std::unique_ptr<Proxy> proxy(new Proxy());
  const size_t workers = snapshot->workers;
  std::vector<std::vector<int>> per_frontend;
  for (const runtime::Frontend& frontend : snapshot->frontends) {
    SocketAddress bound;
    auto fds = bindFrontend(frontend, workers, bound, &inherited);
    if (!fds) {
      closeAll(per_frontend);
      for (const auto& entry : inherited) {
        closeAll({entry.fds});
      }
      return std::unexpected(fds.error());
    }
    per_frontend.push_back(std::move(*fds));
    proxy->bound_.emplace_back(frontend.config->name, bound);
    proxy->configured_.push_back(frontend.config->listen);
  }
  for (const auto& entry : inherited) {
    if (!entry.fds.empty()) {
      log::proxy()->warn("a listening socket on {} was handed over, but no frontend listens "
                         "there now; closing it", entry.address.toString());
      closeAll({entry.fds});
    }
  }
  proxy->fds_ = per_frontend;
  auto access_log = AccessLog::open(snapshot->config.access_log, workers);
  if (!access_log) {
    closeAll(per_frontend);
    return std::unexpected(access_log.error());
  }
  proxy->access_log_ = std::move(*access_log);
  for (size_t w = 0; w < workers; ++w) {
    std::vector<int> fds;
    for (const auto& frontend_fds : per_frontend) {
      fds.push_back(frontend_fds[w]);
    }
    proxy->workers_.push_back(
        std::make_unique<Worker>(w, snapshot, std::move(fds), *proxy->access_log_));
  }
  proxy->snapshot_ = std::move(snapshot);
  return proxy;
}

Result<void> Proxy::update(runtime::SnapshotPtr next) {
  if (draining_) {
    return fail(ErrorCode::BadConfig, "draining: configuration changes are not taken");
  }
  // -1 in fds[f] means "keep this worker's listener for the frontend of the same name".
  std::vector<std::vector<int>> fds;
  std::vector<std::pair<std::string, SocketAddress>> bound;
  std::vector<HostPort> configured;
  std::vector<std::vector<int>> kept_fds;
  for (const runtime::Frontend& frontend : next->frontends) {
    size_t old = 0;
    while (old < bound_.size() && bound_[old].first != frontend.config->name) {
      ++old;
    }
    if (old < bound_.size() && sameListen(configured_[old], frontend.config->listen)) {
      fds.emplace_back(workers_.size(), -1);
      bound.push_back(bound_[old]);
      kept_fds.push_back(fds_[old]);
    } else {
      SocketAddress address;
      auto opened = bindFrontend(frontend, workers_.size(), address);
      if (!opened) {
        closeAll(fds);
        return std::unexpected(opened.error());
      }
      kept_fds.push_back(*opened);
      fds.push_back(std::move(*opened));
      bound.emplace_back(frontend.config->name, address);
      log::proxy()->info("frontend {} listening on {}", frontend.config->name,
                         address.toString());
    }
    configured.push_back(frontend.config->listen);
  }
  for (size_t w = 0; w < workers_.size(); ++w) {
    std::vector<int> worker_fds;
    for (const auto& frontend_fds : fds) {
      worker_fds.push_back(frontend_fds[w]);
    }
    workers_[w]->post([worker = workers_[w].get(), next, worker_fds = std::move(worker_fds)] {
      worker->adopt(next, worker_fds);
    });
  }
  bound_ = std::move(bound);
  configured_ = std::move(configured);
  fds_ = std::move(kept_fds);
  snapshot_ = std::move(next);
  return {};
}

void Proxy::publishMaglev(const runtime::Snapshot* snapshot, size_t backend,
                          std::shared_ptr<const balance::MaglevTable> table) {
  for (auto& worker : workers_) {
    worker->post([worker = worker.get(), snapshot, backend, table] {
      worker->replaceMaglev(snapshot, backend, table);
    });
  }
}

Proxy::NextPick Proxy::peekPick(size_t worker, const runtime::Snapshot* snapshot, size_t backend,
                                std::span<const balance::Candidate> candidates,
                                uint64_t client_key) const {
  const auto balancers = workers_.at(worker)->balancers();
  if (balancers->snapshot.get() != snapshot || backend >= balancers->by_backend.size()) {
    return {};
  }
  return {.known = true, .server = balancers->by_backend[backend]->peek(candidates, client_key)};
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
  draining_ = true;
  for (auto& worker : workers_) {
    worker->drain();
  }
}

bool Proxy::drained() const {
  return std::all_of(workers_.begin(), workers_.end(),
                     [](const auto& worker) { return worker->finished(); });
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

Result<void> Proxy::retargetAccessLog(const std::string& target) {
  if (auto opened = access_log_->retarget(target); !opened) {
    return opened;
  }
  for (size_t w = 0; w < workers_.size(); ++w) {
    AccessLog::Buffer* buffer = access_log_->enabled() ? &access_log_->buffer(w) : nullptr;
    Worker* worker = workers_[w].get();
    worker->post([worker, buffer] { worker->useAccessLog(buffer); });
  }
  return {};
}

std::vector<std::pair<std::string, SocketAddress>> Proxy::boundAddresses() const {
  return bound_;
}

std::vector<InheritedListener> Proxy::listeners() const {
  std::vector<InheritedListener> result;
  for (size_t f = 0; f < bound_.size(); ++f) {
    result.push_back({.frontend = bound_[f].first, .address = bound_[f].second, .fds = fds_[f]});
  }
  return result;
}

} // namespace corral::proxy
