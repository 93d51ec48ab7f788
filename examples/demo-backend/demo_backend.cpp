// corral-demo-backend: a small HTTP server that says who it is, so a client can see which cloned
// instance corral sent it to. Every request gets `demo-2 pid 12345 request 7`; /healthz gets `ok`
// for health checks and is not counted. One thread, one event loop: evhttp does HTTP/1.1 and
// keep-alive; SIGTERM or SIGINT ends the loop and the process exits 0.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fmt/format.h>

namespace {

struct Options {
  std::string name;
  std::string listen = "127.0.0.1";
  uint16_t port = 0;
};

// Shared by every request callback; the loop is single-threaded, so a plain counter is enough.
struct Instance {
  std::string name;
  pid_t pid = getpid();
  uint64_t requests = 0;
};

// Spawn mode (DESIGN.md, backends[].spawn) hands each instance PORT and CORRAL_INSTANCE, so the
// defaults come from the environment and the same binary runs unchanged under the supervisor.
Options defaultOptions() {
  Options options;
  const char* instance = std::getenv("CORRAL_INSTANCE");
  options.name = instance ? fmt::format("demo-{}", instance) : "demo";
  if (const char* port = std::getenv("PORT")) {
    options.port = static_cast<uint16_t>(std::strtoul(port, nullptr, 10));
  }
  return options;
}

void reply(evhttp_request* request, const std::string& body) {
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, body.data(), body.size());
  evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", "text/plain");
  evhttp_send_reply(request, HTTP_OK, "OK", out);
  evbuffer_free(out);
}

void onRequest(evhttp_request* request, void* arg) noexcept {
  auto* instance = static_cast<Instance*>(arg);
  ++instance->requests;
  reply(request, fmt::format("{} pid {} request {}\n", instance->name, instance->pid,
                             instance->requests));
}

void onHealthz(evhttp_request* request, void*) noexcept { reply(request, "ok\n"); }

void onStopSignal(evutil_socket_t, short, void* base) noexcept {
  event_base_loopexit(static_cast<event_base*>(base), nullptr);
}

// With --port 0 the kernel picks the port; print it so whoever started us can connect.
uint16_t boundPort(evhttp_bound_socket* socket) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  getsockname(evhttp_bound_socket_get_fd(socket), reinterpret_cast<sockaddr*>(&address), &length);
  const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
  return ntohs(in->sin_port);
}

template <auto Free> struct Deleter {
  template <typename T> void operator()(T* pointer) const noexcept { Free(pointer); }
};
using Base = std::unique_ptr<event_base, Deleter<event_base_free>>;
using Http = std::unique_ptr<evhttp, Deleter<evhttp_free>>;
using Event = std::unique_ptr<event, Deleter<event_free>>;

// Every exit path frees what it made: a clone that cannot bind its port exits 1 with nothing
// leaked, so a sanitizer build of it reports nothing when the supervisor just respawns it.
int serve(const Options& options) {
  Instance instance{.name = options.name};
  const Base base(event_base_new());
  const Http http(evhttp_new(base.get()));
  evhttp_set_cb(http.get(), "/healthz", onHealthz, nullptr);
  evhttp_set_gencb(http.get(), onRequest, &instance);
  evhttp_bound_socket* socket =
      evhttp_bind_socket_with_handle(http.get(), options.listen.c_str(), options.port);
  if (socket == nullptr) {
    fmt::print(stderr, "{}: cannot listen on {}:{}\n", options.name, options.listen, options.port);
    return 1;
  }
  fmt::print(stderr, "{} (pid {}) listening on {}:{}\n", options.name, instance.pid,
             options.listen, boundPort(socket));
  const Event term(evsignal_new(base.get(), SIGTERM, onStopSignal, base.get()));
  const Event interrupt(evsignal_new(base.get(), SIGINT, onStopSignal, base.get()));
  event_add(term.get(), nullptr);
  event_add(interrupt.get(), nullptr);
  event_base_dispatch(base.get());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  Options options = defaultOptions();
  CLI::App app{"corral-demo-backend: an HTTP server that answers with its name, pid and count"};
  app.add_option("--name", options.name, "instance name in every reply")->capture_default_str();
  app.add_option("--port", options.port, "TCP port, 0 for any (default: $PORT)");
  app.add_option("--listen", options.listen, "address to bind")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // A client that closes mid-reply must not kill the process; the write just fails.
  signal(SIGPIPE, SIG_IGN);
  return serve(options);
}
