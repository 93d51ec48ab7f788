#pragma once
// What the sticky tests share: a cookie key file, a client that keeps its cookie like a browser,
// and lookups in corral's access log and ready file.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "demo_backend.h"

#include "tests/support/corral_process.h"
#include "tests/support/http_client.h"

namespace corral::test {

/// Sticky cookie over four servers s0..s3; substitute ${workers}, ${secret} and ${s0}..${s3}.
inline constexpr std::string_view kStickyConfig = R"(
workers: ${workers}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: sticky_cookie
    sticky_cookie: {fallback: round_robin, max_age: 1h, secret_file: "${secret}"}
    servers: [{address: "${s0}", name: s0}, {address: "${s1}", name: s1},
              {address: "${s2}", name: s2}, {address: "${s3}", name: s3}]
)";

/// Writes a fresh random 32-character key to `path` with mode 0600 (corral refuses a key file that
/// group or others can read) and returns the path as a string.
std::string writeSecretFile(const std::filesystem::path& path);

/// {name: address} of the demo backends, for CorralProcess templates.
Substitutions addressesOf(const std::vector<const DemoBackend*>& backends);

/// A browser-like client of a sticky_cookie frontend: one connection per request, sends the
/// CORRAL cookie it holds and takes whatever cookie the response sets.
class StickyClient {
public:
  /// Each request comes from a fresh uniqueLoopbackAddress(), unless `source` is given.
  explicit StickyClient(std::string source = "") : source_(std::move(source)) {}

  HttpResponse get(std::string_view address);
  const std::string& cookie() const { return cookie_; }
  void setCookie(std::string value) { cookie_ = std::move(value); }
  /// servedBy() of every response so far, in order.
  const std::vector<std::string>& servers() const { return servers_; }

private:
  std::string source_;
  std::string cookie_; // the CORRAL value, without the name
  std::vector<std::string> servers_;
};

/// The access log line of the connection from `client` ("ADDRESS:PORT"); null when there is none.
nlohmann::json logLineFor(const std::vector<nlohmann::json>& log, const std::string& client);

/// Waits until corral has logged the connection from `client`; null if it does not in time.
nlohmann::json waitForLogLine(const CorralProcess& corral, const std::string& client,
                              std::chrono::milliseconds timeout = 5s);

/// How many clients each server has, from {client: server}.
std::map<std::string, int> clientsPerServer(const std::map<std::string, std::string>& placement);

} // namespace corral::test
