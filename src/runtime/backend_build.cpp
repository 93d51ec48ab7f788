#include "backend_build.h"

#include <sys/stat.h>

#include <fstream>

#include <fmt/format.h>
#include <openssl/rand.h>

#include "corral/core/log.h"
#include "corral/runtime/placement.h"

namespace corral::runtime {
namespace {

constexpr size_t kMinKeyBytes = 16; // below 128 bits the HMAC key is the weak part

Result<std::pair<std::string, std::optional<std::string>>> readKeys(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return fail(ErrorCode::NotFound, fmt::format("secret_file {} cannot be read", path));
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(ErrorCode::BadConfig,
                fmt::format("secret_file {} is readable by group or others; chmod 600 it", path));
  }
  std::ifstream in(path);
  std::string current;
  std::string previous;
  std::getline(in, current);
  std::getline(in, previous);
  if (current.size() < kMinKeyBytes) {
    return fail(ErrorCode::BadConfig,
                fmt::format("secret_file {}: the key needs at least {} bytes", path, kMinKeyBytes));
  }
  if (previous.empty()) {
    return std::pair{current, std::optional<std::string>()};
  }
  return std::pair{current, std::optional<std::string>(previous)};
}

} // namespace

Result<void> buildMaglev(Backend& backend) {
  if (!backend.usesMaglev()) {
    return {};
  }
  // Effective weights, as the control plane's rebuilds use: a reload keeps a `ctl weight` override
  // and a slow-start ramp, whose state the new servers carry over.
  auto table = buildMaglevTable(backend, steadyMs());
  if (!table) {
    return std::unexpected(table.error());
  }
  backend.maglev = std::move(*table);
  return {};
}

Result<void> buildCookieSigner(Backend& backend, const Backend* previous) {
  if (backend.config->balance != config::Balance::StickyCookie) {
    return {};
  }
  const std::string& path = backend.config->sticky_cookie.secret_file;
  if (path.empty()) {
    if (previous != nullptr && previous->cookie_signer != nullptr &&
        previous->config->sticky_cookie.secret_file.empty()) {
      backend.cookie_signer = previous->cookie_signer;
      return {};
    }
    std::string key(32, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size()));
    log::config()->warn("backend {}: no sticky_cookie.secret_file; cookies are signed with a "
                        "random key and will not survive a restart or match another node",
                        backend.config->name);
    backend.cookie_signer = std::make_shared<protocol::CookieSigner>(std::move(key), std::nullopt);
    return {};
  }
  auto keys = readKeys(path);
  if (!keys) {
    return std::unexpected(keys.error());
  }
  backend.cookie_signer =
      std::make_shared<protocol::CookieSigner>(std::move(keys->first), std::move(keys->second));
  return {};
}

} // namespace corral::runtime
