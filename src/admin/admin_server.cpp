#include "corral/admin/admin_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <event2/buffer.h>
#include <event2/http.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin/head_guard.h"
#include "bearer_token.h"
#include "corral/core/log.h"
#include "corral/core/timer.h"
#include "history.h"
#include "log_streams.h"
#include "page_assets.h"
#include "reply.h"
#include "request_path.h"

namespace corral::admin {
namespace {

using nlohmann::json;

// The largest body any endpoint takes is {"weight": 256}; anything much bigger is not ours.
constexpr ev_ssize_t kMaxBodySize = 4096;
constexpr ev_ssize_t kMaxHeadersSize = 16 * 1024;
// An idle or stalled admin connection is closed after this long (not `logs --follow`).
constexpr int kIdleTimeoutSeconds = 30;
// How often the history takes a sample of every server.
constexpr std::chrono::seconds kHistoryInterval{1};
// The page may load only itself: no other origin, no inline script or style, no plugins, no
// frames around it (clickjacking the drain buttons). data: only for the empty favicon.
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

double epochSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

// Outside the anonymous namespace because AdminServer::Impl's routes hold them (GCC warns about a
// named class with members of internal-linkage types once a unity build merges the files).
enum class Method { Get, Post };

// One parsed request, as the handlers see it.
struct Call {
  evhttp_request* request;
  std::vector<std::string> captures; // the path segments that matched "*", decoded
  std::map<std::string, std::string> query;
};

namespace {

std::optional<Method> methodOf(evhttp_request* request) {
  switch (evhttp_request_get_command(request)) {
  case EVHTTP_REQ_GET: return Method::Get;
  case EVHTTP_REQ_POST: return Method::Post;
  default: return std::nullopt;
  }
}

bool isIpLiteral(const std::string& text) {
  std::array<unsigned char, sizeof(in6_addr)> bytes{};
  return ::inet_pton(AF_INET, text.c_str(), bytes.data()) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1;
}

std::optional<std::string> queryValue(const Call& call, const std::string& key) {
  const auto found = call.query.find(key);
  return found == call.query.end() ? std::nullopt : std::optional(found->second);
}

} // namespace

class AdminServer::Impl {
public:
  Impl(event_base* base, Control& control, std::optional<BearerToken> token,
       std::chrono::milliseconds history_window)
      : http_(evhttp_new(base)), control_(control), token_(std::move(token)),
        streams_(std::in_place, control), history_(history_window, kHistoryInterval),
        sampler_(base, [this] { sample(); }) {
    if (http_ == nullptr) {
      log::admin()->critical("evhttp_new failed");
      std::abort();
    }
    evhttp_set_max_body_size(http_, kMaxBodySize);
    evhttp_set_max_headers_size(http_, kMaxHeadersSize);
    evhttp_set_timeout(http_, kIdleTimeoutSeconds);
    evhttp_set_gencb(http_, &Impl::onRequest, this);
    sample();
    guard_.emplace(base, http_);
  }
  // The streams end first: their connections belong to http_.
  ~Impl() {
    streams_.reset();
    evhttp_free(http_);
  }

  Result<void> bind(const HostPort& listen, int inherited_fd);
  Result<void> listenAlso(const HostPort& listen);
  void settleListener(bool keep_new);
  int listenerFd() const { return socket_ ? evhttp_bound_socket_get_fd(socket_) : -1; }
  void stopAccepting() {
    if (socket_ != nullptr) {
      evhttp_del_accept_socket(http_, socket_);
      socket_ = nullptr;
    }
  }
  SocketAddress bound() const { return bound_; }

private:
  using Handler = void (Impl::*)(Call&);
  struct Route {
    Method method;
    std::vector<std::string_view> pattern; // "*" matches one non-empty segment
    Handler handler;
  };
  static const std::vector<Route>& routes();

  static void onRequest(evhttp_request* request, void* self) noexcept;
  void dispatch(evhttp_request* request);
  bool authorized(evhttp_request* request);
  static bool matches(const Route& route, const std::vector<std::string>& segments,
                      std::vector<std::string>& captures);
  static void sendMethodNotAllowed(evhttp_request* request, Method allowed);

  void status(Call& call);
  void serverAction(Call& call, ServerAction action, std::string_view name);
  void drain(Call& call) { serverAction(call, ServerAction::Drain, "drain"); }
  void disable(Call& call) { serverAction(call, ServerAction::Disable, "disable"); }
  void enable(Call& call) { serverAction(call, ServerAction::Enable, "enable"); }
  void weight(Call& call);
  void restart(Call& call);
  void scale(Call& call);
  void reload(Call& call);
  void route(Call& call);
  void logs(Call& call);
  void history(Call& call);
  void ready(Call& call);
  bool servePage(evhttp_request* request, std::string_view path);
  void sample();
  void upgrade(Call& call);
  void upgradeStatus(Call& call);

  evhttp* http_;
  Control& control_;
  std::optional<BearerToken> token_;
  std::optional<LogStreams> streams_;
  History history_;
  Timer sampler_;
  SocketAddress bound_;
  evhttp_bound_socket* socket_ = nullptr;
  evhttp_bound_socket* pending_ = nullptr; // listenAlso() until settleListener()
  std::optional<HeadGuard> guard_; // after http_: destroyed once evhttp_free has run
};

const std::vector<AdminServer::Impl::Route>& AdminServer::Impl::routes() {
  static const std::vector<Route> kRoutes = {
      {Method::Get, {"api", "v1", "status"}, &Impl::status},
      {Method::Post, {"api", "v1", "servers", "*", "*", "drain"}, &Impl::drain},
      {Method::Post, {"api", "v1", "servers", "*", "*", "disable"}, &Impl::disable},
      {Method::Post, {"api", "v1", "servers", "*", "*", "enable"}, &Impl::enable},
      {Method::Post, {"api", "v1", "servers", "*", "*", "weight"}, &Impl::weight},
      {Method::Post, {"api", "v1", "backends", "*", "restart"}, &Impl::restart},
      {Method::Post, {"api", "v1", "backends", "*", "scale"}, &Impl::scale},
      {Method::Post, {"api", "v1", "reload"}, &Impl::reload},
      {Method::Get, {"api", "v1", "route"}, &Impl::route},
      {Method::Get, {"api", "v1", "logs", "*", "*"}, &Impl::logs},
      {Method::Get, {"api", "v1", "history"}, &Impl::history},
      {Method::Get, {"ready"}, &Impl::ready},
      {Method::Post, {"api", "v1", "upgrade"}, &Impl::upgrade},
      {Method::Get, {"api", "v1", "upgrade"}, &Impl::upgradeStatus},
  };
  return kRoutes;
}

namespace {

SocketAddress localAddress(evhttp_bound_socket* socket) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  ::getsockname(evhttp_bound_socket_get_fd(socket), reinterpret_cast<sockaddr*>(&address),
                &length);
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&address), length);
}

} // namespace

Result<void> AdminServer::Impl::bind(const HostPort& listen, int inherited_fd) {
  evhttp_bound_socket* socket =
      inherited_fd >= 0 ? evhttp_accept_socket_with_handle(http_, inherited_fd)
                        : evhttp_bind_socket_with_handle(http_, listen.host.c_str(), listen.port);
  socket_ = socket;
  if (socket == nullptr) {
    return fail(ErrorCode::Io, fmt::format("admin.listen {}:{}: cannot bind (address in use, "
                                           "not local, or not permitted)",
                                           listen.host, listen.port));
  }
  bound_ = localAddress(socket);
  return {};
}

// A reload that moves admin.listen binds the new address before it lets go of the old one, so
// that a port another process holds fails the reload and the API stays where it was.
Result<void> AdminServer::Impl::listenAlso(const HostPort& listen) {
  settleListener(false);
  errno = 0;
  pending_ = evhttp_bind_socket_with_handle(http_, listen.host.c_str(), listen.port);
  if (pending_ == nullptr) {
    const int error = errno;
    return fail(ErrorCode::BadConfig,
                fmt::format("admin.listen {}:{} {}; the admin API stays on {}", listen.host,
                            listen.port,
                            error == EADDRINUSE ? "is in use"
                                                : fmt::format("cannot be bound: {}",
                                                              std::strerror(error)),
                            bound_.toString()));
  }
  return {};
}

void AdminServer::Impl::settleListener(bool keep_new) {
  if (pending_ == nullptr) {
    return;
  }
  evhttp_bound_socket* closing = keep_new ? std::exchange(socket_, pending_) : pending_;
  pending_ = nullptr;
  if (closing != nullptr) {
    evhttp_del_accept_socket(http_, closing);
  }
  bound_ = localAddress(socket_);
  if (keep_new) {
    log::admin()->info("admin API moved to {}", bound_.toString());
  }
}

void AdminServer::Impl::onRequest(evhttp_request* request, void* self) noexcept {
  try {
    static_cast<Impl*>(self)->guard_->onRequest(request);
    static_cast<Impl*>(self)->dispatch(request);
  } catch (const std::exception& error) { // a Control that throws must not unwind through C
    log::admin()->error("admin request failed: {}", error.what());
    sendError(request, kInternalError, "internal error");
  }
}

// Authentication comes before routing, so that without the token even the list of endpoints
// (404 or not) stays hidden.
void AdminServer::Impl::dispatch(evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  if (uri == nullptr) { // evhttp gave up on the request line
    sendError(request, kBadRequest, "malformed request");
    return;
  }
  // /ready says only whether listeners are bound: probes (Kubernetes httpGet, Docker
  // HEALTHCHECK) cannot carry a secret, so it is open without the token. So is the status page's
  // shell: it holds no data and asks for the token itself.
  const char* raw_path = evhttp_uri_get_path(uri);
  const std::string_view path_text = raw_path == nullptr ? "" : raw_path;
  const bool is_get = methodOf(request) == Method::Get;
  if (is_get && servePage(request, path_text)) {
    return;
  }
  if (!(is_get && path_text == "/ready") && !authorized(request)) {
    return;
  }
  const char* query_text = evhttp_uri_get_query(uri);
  auto query = parseQuery(query_text == nullptr ? "" : query_text);
  if (!query) {
    sendError(request, query.error());
    return;
  }
  Call call{.request = request, .captures = {}, .query = std::move(*query)};
  const char* path = evhttp_uri_get_path(uri);
  const auto segments = splitPath(path == nullptr ? "" : path);
  const Route* other_method = nullptr; // the path is known, for another method
  for (const Route& route : routes()) {
    if (!matches(route, segments, call.captures)) {
      continue;
    }
    if (methodOf(request) != route.method) {
      other_method = &route;
      continue;
    }
    (this->*route.handler)(call);
    return;
  }
  if (other_method != nullptr) {
    sendMethodNotAllowed(request, other_method->method);
    return;
  }
  sendError(request, kNotFound, "no such endpoint");
}

bool AdminServer::Impl::authorized(evhttp_request* request) {
  if (!token_) {
    return true;
  }
  const char* header =
      evhttp_find_header(evhttp_request_get_input_headers(request), "Authorization");
  if (token_->accepts(header == nullptr ? std::nullopt : std::optional<std::string_view>(header))) {
    return true;
  }
  // RFC 6750 §3: a missing token gets the bare challenge, a wrong one says invalid_token.
  evhttp_add_header(evhttp_request_get_output_headers(request), "WWW-Authenticate",
                    header == nullptr ? R"(Bearer realm="corral")"
                                      : R"(Bearer realm="corral", error="invalid_token")");
  // The peer, not the target: a route query may carry a whole cookie value (STYLE.md §7).
  char* peer = nullptr;
  uint16_t port = 0;
  evhttp_connection_get_peer(evhttp_request_get_connection(request), &peer, &port);
  log::admin()->info("refused an admin request from {}: {} token", peer == nullptr ? "?" : peer,
                     header == nullptr ? "no" : "wrong");
  sendError(request, kUnauthorized, "a valid bearer token is required");
  return false;
}

bool AdminServer::Impl::matches(const Route& route, const std::vector<std::string>& segments,
                                std::vector<std::string>& captures) {
  if (route.pattern.size() != segments.size()) {
    return false;
  }
  captures.clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    if (route.pattern[i] == "*" && !segments[i].empty()) {
      captures.push_back(segments[i]);
    } else if (route.pattern[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

void AdminServer::Impl::sendMethodNotAllowed(evhttp_request* request, Method allowed) {
  const char* name = allowed == Method::Post ? "POST" : "GET";
  evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", name);
  sendError(request, kMethodNotAllowed, fmt::format("this endpoint accepts {} only", name));
}

void AdminServer::Impl::status(Call& call) {
  sendJson(call.request, kOk, toJson(control_.status()));
}

void AdminServer::Impl::serverAction(Call& call, ServerAction action, std::string_view name) {
  const std::string& backend = call.captures[0];
  const std::string& server = call.captures[1];
  if (auto done = control_.serverAction(backend, server, action); !done) {
    sendError(call.request, done.error());
    return;
  }
  log::admin()->info("{}/{}: {} (admin API)", backend, server, name);
  sendJson(call.request, kOk, {{"backend", backend}, {"server", server}, {"action", name}});
}

namespace {

// The body is a few bytes (kMaxBodySize): one pullup makes it contiguous.
std::string_view bodyOf(evhttp_request* request) {
  evbuffer* input = evhttp_request_get_input_buffer(request);
  const size_t size = evbuffer_get_length(input);
  const auto* data = reinterpret_cast<const char*>(evbuffer_pullup(input, -1));
  return {data, size};
}

} // namespace

void AdminServer::Impl::weight(Call& call) {
  const auto weight = parseWeightBody(bodyOf(call.request));
  if (!weight) {
    sendError(call.request, weight.error());
    return;
  }
  const std::string& backend = call.captures[0];
  const std::string& server = call.captures[1];
  if (auto done = control_.setWeight(backend, server, *weight); !done) {
    sendError(call.request, done.error());
    return;
  }
  log::admin()->info("{}/{}: weight {} (admin API)", backend, server, *weight);
  sendJson(call.request, kOk, {{"backend", backend}, {"server", server}, {"weight", *weight}});
}

void AdminServer::Impl::restart(Call& call) {
  const std::string& backend = call.captures[0];
  if (auto started = control_.restart(backend); !started) {
    sendError(call.request, started.error());
    return;
  }
  log::admin()->info("{}: rolling restart requested (admin API)", backend);
  sendJson(call.request, kAccepted, {{"backend", backend}, {"restart", "started"}});
}

void AdminServer::Impl::scale(Call& call) {
  const auto instances = parseCountBody(bodyOf(call.request), "instances", 1, kMaxInstances);
  if (!instances) {
    sendError(call.request, instances.error());
    return;
  }
  const std::string& backend = call.captures[0];
  if (auto scaled = control_.scale(backend, *instances); !scaled) {
    sendError(call.request, scaled.error());
    return;
  }
  log::admin()->info("{}: scaled to {} instances (admin API)", backend, *instances);
  sendJson(call.request, kOk, {{"backend", backend}, {"instances", *instances}});
}

void AdminServer::Impl::reload(Call& call) {
  if (auto reloaded = control_.reload(); !reloaded) {
    sendError(call.request, reloaded.error());
    return;
  }
  sendJson(call.request, kOk, {{"reload", "ok"}});
}

void AdminServer::Impl::route(Call& call) {
  const auto backend = queryValue(call, "backend");
  const auto client = queryValue(call, "client");
  if (!backend || !client) {
    sendError(call.request, kBadRequest, "route needs ?backend=NAME&client=IP[&cookie=VALUE][&key=VALUE]");
    return;
  }
  if (!isIpLiteral(*client)) {
    sendError(call.request, kBadRequest,
              fmt::format("client must be an IPv4 or IPv6 address, got \"{}\"", *client));
    return;
  }
  const auto cookie = queryValue(call, "cookie");
  const auto key = queryValue(call, "key");
  const auto answer = control_.route(*backend, *client,
                                     cookie ? std::optional<std::string_view>(*cookie) : std::nullopt,
                                     key ? std::optional<std::string_view>(*key) : std::nullopt);
  if (!answer) {
    sendError(call.request, answer.error());
    return;
  }
  sendJson(call.request, kOk,
           {{"backend", *backend},
            {"client", *client},
            {"server", answer->server},
            {"reason", answer->reason}});
}

namespace {

Result<int> parseInstance(std::string_view text) {
  int instance = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), instance);
  if (error != std::errc() || end != text.data() + text.size() || instance < 0) {
    return fail(ErrorCode::BadInput,
                fmt::format("the instance must be a number such as 0, got \"{}\"", text));
  }
  return instance;
}

Result<bool> parseFollow(const std::optional<std::string>& value) {
  if (!value || *value == "0" || *value == "false") {
    return false;
  }
  if (*value == "1" || *value == "true") {
    return true;
  }
  return fail(ErrorCode::BadInput, fmt::format("follow must be 1 or 0, got \"{}\"", *value));
}

} // namespace

void AdminServer::Impl::logs(Call& call) {
  const std::string& backend = call.captures[0];
  const auto instance = parseInstance(call.captures[1]);
  const auto follow = parseFollow(queryValue(call, "follow"));
  if (!instance || !follow) {
    sendError(call.request, !instance ? instance.error() : follow.error());
    return;
  }
  if (*follow) {
    streams_->start(call.request, backend, *instance);
    return;
  }
  const auto lines = control_.logs(backend, *instance);
  if (!lines) {
    sendError(call.request, lines.error());
    return;
  }
  sendJson(call.request, kOk, {{"backend", backend}, {"instance", *instance}, {"lines", *lines}});
}

void AdminServer::Impl::history(Call& call) { sendJson(call.request, kOk, history_.toJson()); }

void AdminServer::Impl::sample() {
  history_.record(control_.status(), epochSeconds());
  sampler_.start(kHistoryInterval);
}

// "/" is index.html. The page learns whether to ask for a token from the shell itself, so that
// it never sends a request that can only fail.
bool AdminServer::Impl::servePage(evhttp_request* request, std::string_view path) {
  const std::string_view wanted = path == "/" ? "/index.html" : path;
  for (const PageAsset& asset : pageAssets()) {
    if (asset.path != wanted) {
      continue;
    }
    std::string body(asset.body);
    if (wanted == "/index.html") {
      const std::string_view marker = "__CORRAL_TOKEN__";
      if (const auto at = body.find(marker); at != std::string::npos) {
        body.replace(at, marker.size(), token_ ? "required" : "none");
      }
    }
    evkeyvalq* headers = evhttp_request_get_output_headers(request);
    evhttp_add_header(headers, "Content-Security-Policy", kPagePolicy);
    evhttp_add_header(headers, "Referrer-Policy", "no-referrer");
    evhttp_add_header(headers, "X-Frame-Options", "DENY");
    sendBody(request, kOk, asset.content_type, body);
    return true;
  }
  return false;
}

void AdminServer::Impl::ready(Call& call) {
  if (control_.ready()) {
    sendText(call.request, kOk, "ready\n");
  } else {
    sendText(call.request, kUnavailable, "starting\n");
  }
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminServer::~AdminServer() = default;

SocketAddress AdminServer::boundAddress() const { return impl_->bound(); }
int AdminServer::listenerFd() const { return impl_->listenerFd(); }
void AdminServer::stopAccepting() { impl_->stopAccepting(); }
Result<void> AdminServer::listenAlso(const HostPort& listen) { return impl_->listenAlso(listen); }
void AdminServer::settleListener(bool keep_new) { impl_->settleListener(keep_new); }

// `ctl upgrade`: starts the handover and answers at once; the client polls GET /api/v1/upgrade,
// which the new process answers once it has taken the admin socket.
void AdminServer::Impl::upgrade(Call& call) {
  evbuffer* input = evhttp_request_get_input_buffer(call.request);
  const size_t size = evbuffer_get_length(input);
  const auto* data = reinterpret_cast<const char*>(evbuffer_pullup(input, -1));
  const json body = size == 0 ? json::object() : json::parse(data, data + size, nullptr, false);
  if (!body.is_object() || (body.contains("binary") && !body["binary"].is_string()) ||
      (body.contains("timeout_ms") && !body["timeout_ms"].is_number_unsigned())) {
    sendError(call.request, kBadRequest, R"(the body must be JSON such as {"binary": "/usr/bin/corral"})");
    return;
  }
  auto started = control_.upgrade(body.value("binary", std::string{}),
                                 std::chrono::milliseconds(body.value("timeout_ms", 30'000)));
  if (!started) {
    sendError(call.request, started.error());
    return;
  }
  sendJson(call.request, kAccepted, *started);
}

void AdminServer::Impl::upgradeStatus(Call& call) {
  sendJson(call.request, kOk, control_.upgradeStatus());
}

Result<std::unique_ptr<AdminServer>> AdminServer::create(event_base* base,
                                                        const config::AdminConfig& config,
                                                        Control& control, int inherited_fd) {
  std::optional<BearerToken> token;
  if (!config.token_file.empty()) {
    auto read = BearerToken::fromFile(config.token_file);
    if (!read) {
      return std::unexpected(read.error());
    }
    token = *read;
  } else if (const auto address = SocketAddress::fromHostPort(config.listen);
             !address || !address->isLoopback()) {
    // The loader refuses this too; a Config built in code must not slip past it.
    return fail(ErrorCode::BadConfig, "a non-loopback admin.listen needs admin.token_file");
  }
  auto impl = std::make_unique<Impl>(base, control, std::move(token), config.history);
  if (auto bound = impl->bind(config.listen, inherited_fd); !bound) {
    return std::unexpected(bound.error());
  }
  log::admin()->info("admin API listening on {}{}", impl->bound().toString(),
                     config.token_file.empty() ? "" : " (bearer token required)");
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

} // namespace corral::admin
