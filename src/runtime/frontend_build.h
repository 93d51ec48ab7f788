#pragma once
// The parts of a runtime::Frontend (and the TLS of a runtime::Server) that take work to build:
// the TLS server context of a `tls` frontend, the routes of a `tls_passthrough` frontend, the TLS
// client context of a server with servers[].tls.

#include "corral/runtime/snapshot.h"

namespace corral::runtime {

/// Builds frontend.tls from frontend.config->tls; keeps `previous`'s context (and so its ticket
/// keys) when the settings and the certificate and key files are unchanged. Errors name the file.
Result<void> buildFrontendTls(Frontend& frontend, const Frontend* previous);

/// Resolves frontend.config->tls_passthrough into frontend.sni_routes and frontend.backend (the
/// default_backend, or Frontend::kNoBackend), by the backends' names.
Result<void> buildSniRoutes(Frontend& frontend, const std::vector<Backend>& backends);

/// Builds server.tls from servers[].tls.
/// With `health_check.tls`, also server.health_tls: the server's own context, or (without
/// servers[].tls, or with a health_check.sni of its own) one from the server's tls settings
/// (verify off when it has none: the check asks only that the server speaks TLS) and that sni.
Result<void> buildServerTls(Server& server, const config::ServerConfig& config,
                            const std::optional<config::HealthCheckConfig>& check);

} // namespace corral::runtime
