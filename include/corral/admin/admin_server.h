#pragma once
// The JSON admin API of DESIGN.md ("Admin API") on libevent's evhttp, served on the control
// thread's event_base:
//
//   GET  /api/v1/status                                  Status as JSON (control.h toJson)
//   POST /api/v1/servers/BACKEND/SERVER/{drain,disable,enable}
//   POST /api/v1/servers/BACKEND/SERVER/weight           body {"weight": N}, N in 1..256
//   POST /api/v1/backends/BACKEND/restart                202: the roll has started
//   POST /api/v1/backends/BACKEND/scale                  body {"instances": N}, N in 1..1024
//   POST /api/v1/reload
//   GET  /api/v1/route?backend=B&client=IP[&cookie=V]    {"backend","client","server","reason"}
//   GET  /api/v1/logs/BACKEND/N                          {"backend","instance","lines":[...]}
//   GET  /api/v1/logs/BACKEND/N?follow=1                 text/plain, chunked: the lines so far,
//                                                        then each new line until the client goes
//   GET  /ready                                          200 "ready" or 503 "starting"
//
// Names in paths are percent-encoded (app%230 is app#0). Errors are {"error": "..."} with 400 (bad
// input), 401 (token missing or wrong, with WWW-Authenticate: Bearer), 404 (unknown path, backend
// or server), 405 (wrong method, with Allow), 422 (reload: the file has errors) or 500. With a
// token_file, every request, /ready included, needs `Authorization: Bearer TOKEN`. No CORS headers:
// a browser page on another origin cannot read the answers or send JSON bodies.

#include <memory>

#include "corral/admin/control.h"
#include "corral/config/config.h"
#include "corral/core/address.h"
#include "corral/core/error.h"

struct event_base;

namespace corral::admin {

class AdminServer {
public:
  /// Binds `config.listen` (port 0 picks a free port) and reads the token file once. Fails on a
  /// bind error, an unreadable or empty token file, or a non-loopback address without a token.
  /// `base` and `control` must outlive the server.
  /// `inherited_fd`: a listening socket handed over by `ctl upgrade`, used instead of binding.
  static Result<std::unique_ptr<AdminServer>> create(event_base* base,
                                                     const config::AdminConfig& config,
                                                     Control& control, int inherited_fd = -1);
  /// Ends open `logs --follow` streams and closes the listener and every connection.
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// The address actually bound, with the kernel's port when the configuration said 0.
  SocketAddress boundAddress() const;
  /// The listening socket (for an upgrade handover), -1 once stopAccepting() ran.
  int listenerFd() const;
  /// Closes the listener; requests on open connections are still answered.
  void stopAccepting();
  /// A reload moves admin.listen in two steps: listenAlso() binds the new address beside the
  /// current one (failing with "ADDR is in use" and changing nothing), then settleListener()
  /// closes the old one (keep_new) or the new one (the rest of the reload failed). Connections
  /// open on the old address are still answered.
  Result<void> listenAlso(const HostPort& listen);
  void settleListener(bool keep_new);

  class Impl;

private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace corral::admin
