#include "ctl_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <system_error>

#include <event2/http.h>
#include <fmt/format.h>
#include <http_parser.h>

namespace corral::cli {
namespace {

// Closes the socket on every path out of exchange().
class Socket {
public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { ::close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

private:
  int fd_;
};

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// "Connection refused" -> "connection refused", to sit after a colon in our one-line errors.
std::string errnoText(int error) {
  std::string text = std::error_code(error, std::system_category()).message();
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

void setTimeout(int fd, int option, std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  const timeval tv{.tv_sec = static_cast<time_t>(ms / 1000),
                   .tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof(tv));
}

// What the http-parser callbacks fill in; the parser's `data` points here.
struct ParseState {
  HttpResponse* response;
  const std::function<bool(std::string_view)>* sink;
  std::string field;
  std::string value;
  bool complete = false;
  bool hung_up = false;

  void flushHeader() {
    if (!field.empty()) {
      response->headers[lowerCase(field)] = value;
    }
    field.clear();
    value.clear();
  }
};

ParseState& stateOf(http_parser* parser) { return *static_cast<ParseState*>(parser->data); }

http_parser_settings parserSettings() {
  http_parser_settings settings{};
  settings.on_header_field = [](http_parser* parser, const char* at, size_t size) {
    auto& state = stateOf(parser);
    if (!state.value.empty()) {
      state.flushHeader();
    }
    state.field.append(at, size);
    return 0;
  };
  settings.on_header_value = [](http_parser* parser, const char* at, size_t size) {
    stateOf(parser).value.append(at, size);
    return 0;
  };
  settings.on_headers_complete = [](http_parser* parser) {
    stateOf(parser).flushHeader();
    stateOf(parser).response->status = static_cast<int>(parser->status_code);
    return 0;
  };
  settings.on_body = [](http_parser* parser, const char* at, size_t size) {
    auto& state = stateOf(parser);
    const bool success = state.response->status >= 200 && state.response->status < 300;
    if (state.sink == nullptr || !success) { // an error body is read whole, not streamed
      state.response->body.append(at, size);
      return 0;
    }
    state.hung_up = !(*state.sink)(std::string_view(at, size));
    return state.hung_up ? 1 : 0; // non-zero stops the parser
  };
  settings.on_message_complete = [](http_parser* parser) {
    stateOf(parser).complete = true;
    return 0;
  };
  return settings;
}

Result<void> sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    if (sent <= 0) {
      return fail(ErrorCode::Io, errnoText(errno));
    }
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return {};
}

// Reads until the response is complete, the server closes, or the sink hangs up.
Result<HttpResponse> readResponse(int fd, const std::function<bool(std::string_view)>* sink,
                                  const std::string& address) {
  HttpResponse response;
  ParseState state{.response = &response, .sink = sink};
  http_parser parser{};
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = &state;
  static const http_parser_settings kSettings = parserSettings();
  char buffer[16 * 1024];
  while (!state.complete && !state.hung_up) {
    const ssize_t got = ::recv(fd, buffer, sizeof(buffer), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      const bool timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
      return fail(ErrorCode::Io, fmt::format("the admin API at {} {}", address,
                                             timed_out ? "did not answer in time"
                                                       : "failed: " + errnoText(errno)));
    }
    // got == 0 tells the parser about EOF: it completes a body delimited by the close.
    const size_t parsed = http_parser_execute(&parser, &kSettings, buffer, static_cast<size_t>(got));
    if (state.hung_up) {
      break;
    }
    if (parsed != static_cast<size_t>(got) || HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
      return fail(ErrorCode::BadInput,
                  fmt::format("the admin API at {} sent a malformed response ({})", address,
                              http_errno_description(HTTP_PARSER_ERRNO(&parser))));
    }
    if (got == 0 && !state.complete) {
      return fail(ErrorCode::Io,
                  fmt::format("the admin API at {} closed the connection early", address));
    }
  }
  return response;
}

} // namespace

std::string AdminClient::addressText() const {
  return address_.host.find(':') == std::string::npos
             ? fmt::format("{}:{}", address_.host, address_.port)
             : fmt::format("[{}]:{}", address_.host, address_.port);
}

Result<HttpResponse> AdminClient::get(std::string_view target) const {
  return exchange("GET", target, {}, nullptr);
}

Result<HttpResponse> AdminClient::post(std::string_view target, std::string_view json_body) const {
  return exchange("POST", target, json_body, nullptr);
}

Result<HttpResponse> AdminClient::stream(
    std::string_view target, const std::function<bool(std::string_view)>& on_body) const {
  return exchange("GET", target, {}, &on_body);
}

// Tries each address the name resolves to, like curl; the last failure is the one reported.
Result<int> AdminClient::connectSocket(bool streaming) const {
  const addrinfo hints{.ai_flags = AI_NUMERICSERV, .ai_family = AF_UNSPEC,
                       .ai_socktype = SOCK_STREAM};
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address_.port);
  if (const int error = ::getaddrinfo(address_.host.c_str(), port.c_str(), &hints, &found)) {
    return fail(ErrorCode::NotFound, fmt::format("cannot reach the admin API at {}: {}",
                                                 addressText(), ::gai_strerror(error)));
  }
  int last_error = ECONNREFUSED;
  int fd = -1;
  for (const addrinfo* candidate = found; candidate != nullptr && fd < 0;
       candidate = candidate->ai_next) {
    fd = ::socket(candidate->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    setTimeout(fd, SO_SNDTIMEO, timeout_); // bounds connect() too (socket(7))
    setTimeout(fd, SO_RCVTIMEO, streaming ? std::chrono::milliseconds(0) : timeout_);
    if (::connect(fd, candidate->ai_addr, candidate->ai_addrlen) != 0) {
      last_error = errno == EINPROGRESS ? ETIMEDOUT : errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return fail(ErrorCode::ConnectRefused, fmt::format("cannot reach the admin API at {}: {}",
                                                       addressText(), errnoText(last_error)));
  }
  return fd;
}

Result<HttpResponse> AdminClient::exchange(std::string_view method, std::string_view target,
                                           std::string_view body, const BodySink* sink) const {
  auto fd = connectSocket(sink != nullptr);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  const Socket socket(*fd);
  std::string request = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", method,
                                    target, addressText());
  if (!token_.empty()) {
    request += fmt::format("Authorization: Bearer {}\r\n", token_);
  }
  if (method == "POST") {
    request += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  }
  request += "\r\n";
  request += body;
  if (auto sent = sendAll(socket.fd(), request); !sent) {
    return fail(ErrorCode::Io, fmt::format("sending to the admin API at {}: {}", addressText(),
                                           sent.error().message));
  }
  return readResponse(socket.fd(), sink, addressText());
}

std::string percentEncode(std::string_view text) {
  char* encoded = evhttp_uriencode(text.data(), static_cast<ev_ssize_t>(text.size()),
                                   /*space_as_plus=*/0);
  if (encoded == nullptr) {
    std::abort(); // it fails only when malloc does
  }
  std::string result(encoded);
  std::free(encoded);
  return result;
}

} // namespace corral::cli
