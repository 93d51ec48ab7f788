// balance: hash: the session finds its key (in the connection, the ClientHello, or the first
// request head read as sticky_cookie mode reads it) and routes it through the Maglev table with
// bounded loads. A connection without the key is placed by hash.fallback. Routing is per
// connection: later requests on a keep-alive connection follow the first.

#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "corral/balance/client_key.h"
#include "corral/balance/key_hash.h"
#include "corral/protocol/cookie.h"
#include "corral/runtime/placement.h"
#include "session.h"
#include "session_internal.h"
#include "worker.h"

namespace corral::proxy {
namespace {

std::string_view trimmed(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::optional<std::string_view> nonEmpty(std::optional<std::string_view> value) {
  return value && !value->empty() ? value : std::nullopt;
}

} // namespace

std::optional<std::string_view> requestKey(const config::HashConfig& hash,
                                           const protocol::RequestHead& head) {
  switch (hash.source) {
  case config::HashSource::Header: // the first such header, as NGINX's $http_NAME
    return head.header_values.empty() ? std::nullopt
                                      : nonEmpty(trimmed(head.header_values.front()));
  case config::HashSource::Cookie:
    return nonEmpty(protocol::findCookie(head.header_values, hash.name));
  case config::HashSource::Query:
    return protocol::queryParameter(head.target, hash.name);
  case config::HashSource::Path:
    return protocol::pathPrefix(head.target, hash.path_segments);
  case config::HashSource::Sni:
  case config::HashSource::ClientIp:
    break;
  }
  return std::nullopt;
}

bool Session::needsRequestHead() const {
  const config::BackendConfig& config = *backend_->config;
  return config.balance == config::Balance::StickyCookie ||
         (config.balance == config::Balance::Hash && config.hash.needsRequestHead());
}

// The header whose values parseRequestHead collects: the hash key's, or the sticky Cookie.
std::string_view Session::requestHeadHeader() const {
  const config::BackendConfig& config = *backend_->config;
  return config.balance == config::Balance::Hash && config.hash.source == config::HashSource::Header
             ? std::string_view(config.hash.name)
             : "Cookie";
}

// The key sources that need no request head: the client address, or the server name the client
// asked for (from the ClientHello on passthrough, from the handshake when TLS ends here).
void Session::keyFromConnection() {
  const config::BackendConfig& config = *backend_->config;
  if (config.balance != config::Balance::Hash) {
    return;
  }
  if (config.hash.source == config::HashSource::ClientIp) {
    setHashKey(balance::clientKey(client_address_, config.ip_hash.ipv4_prefix,
                                  config.ip_hash.ipv6_prefix));
    return;
  }
  std::string name = passthrough_sni_;
  if (client_.ssl != nullptr) {
    const char* sni = SSL_get_servername(client_.ssl, TLSEXT_NAMETYPE_host_name);
    name = sni != nullptr ? sni : "";
  }
  // DNS names are case-insensitive (RFC 4343): Example.com and example.com are one key.
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  setHashKey(name.empty() ? std::nullopt : std::optional(balance::applicationKey(name)));
}

// Once the first request head is in: route by the key it carries, or by the fallback.
void Session::placeByKey(std::optional<std::string_view> value) {
  setHashKey(value ? std::optional(balance::applicationKey(*value)) : std::nullopt);
  connectServer();
}

void Session::setHashKey(std::optional<uint64_t> key) {
  hash_key_ = key;
  if (key) {
    chosen_by_ = ChosenBy::Hash;
    return;
  }
  const auto fallback = static_cast<size_t>(runtime::HashResult::Fallback);
  backend_->stats->cells.at(worker_.id()).hash[fallback].add();
}

// The first try counts as a hit, or as bounded when the key's own server was over the bound;
// retries walk on from the key's slot past the servers already tried.
std::optional<size_t> Session::pickByKey() {
  auto& candidates = worker_.candidates();
  runtime::fillCandidates(*backend_, std::span(tried_.data(), attempts_), runtime::steadyMs(),
                          candidates);
  const balance::MaglevTable* table = worker_.maglev(backend_index_);
  const auto pick = balance::pickByKey(*table, candidates, *hash_key_,
                                       backend_->config->hash.bounded_load);
  if (attempts_ == 0 && pick.server) {
    const auto result = pick.skipped_for_load > 0 ? runtime::HashResult::Bounded
                                                  : runtime::HashResult::Hit;
    backend_->stats->cells.at(worker_.id()).hash[static_cast<size_t>(result)].add();
  }
  return pick.server;
}

} // namespace corral::proxy
