#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <system_error>

#include <fmt/format.h>

#include "corral/core/address.h"

#include "tests/support/wait.h"

namespace corral::test {
namespace {

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// "HTTP/1.1 200 OK\r\nA: b\r\n" (without the blank line) -> status and fields; status 0 if the
// status line is not HTTP.
HttpHead parseHead(std::string_view text) {
  HttpHead head;
  size_t line_end = text.find("\r\n");
  const std::string_view status_line = text.substr(0, line_end);
  if (status_line.starts_with("HTTP/1.") && status_line.size() >= 12) {
    head.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  }
  while (line_end != std::string_view::npos && line_end + 2 < text.size()) {
    const size_t start = line_end + 2;
    line_end = text.find("\r\n", start);
    const std::string_view line = text.substr(start, line_end - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      head.fields.emplace_back(std::string(line.substr(0, colon)),
                               std::string(trim(line.substr(colon + 1))));
    }
  }
  return head;
}

struct Connection {
  int fd = -1;
  std::string error;
  bool reset = false;
  ~Connection() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

// Binds `source` (so that corral sees a distinct client address) and connects without blocking.
void connectFrom(Connection& connection, std::string_view source, std::string_view address,
                 Clock::time_point deadline) {
  const auto target = SocketAddress::parse(address);
  const auto local = SocketAddress::parse(fmt::format("{}:0", source));
  if (!target || !local) {
    connection.error = fmt::format("bad address {} or {}", address, source);
    return;
  }
  connection.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (connection.fd < 0) {
    throwSystemError("httpGet: socket");
  }
  // The port is chosen at connect, unique per destination: a loop of many requests does not
  // run out of ports as bind(port 0) alone would.
  const int defer_port = 1;
  ::setsockopt(connection.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &defer_port, sizeof(defer_port));
  if (::bind(connection.fd, local->get(), local->length()) != 0 ||
      (::connect(connection.fd, target->get(), target->length()) != 0 && errno != EINPROGRESS)) {
    connection.error = fmt::format("connect {} -> {}: {}", source, address,
                                   std::generic_category().message(errno));
    return;
  }
  pollfd entry{.fd = connection.fd, .events = POLLOUT};
  int so_error = 0;
  socklen_t length = sizeof(so_error);
  if (::poll(&entry, 1, millisecondsUntil(deadline)) != 1 ||
      ::getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0 || so_error != 0) {
    connection.error =
        fmt::format("connect {} -> {}: {}", source, address,
                    so_error ? std::generic_category().message(so_error) : "timeout");
  }
}

bool sendAll(Connection& connection, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(connection.fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    pollfd entry{.fd = connection.fd, .events = POLLOUT};
    if (n < 0 && errno != EAGAIN) {
      connection.error = fmt::format("send: {}", std::generic_category().message(errno));
      return false;
    }
    if (::poll(&entry, 1, millisecondsUntil(deadline)) != 1) {
      connection.error = "send: timeout";
      return false;
    }
  }
  return true;
}

// Everything until the peer closes; sets error on a timeout. A reset after the response (the
// server closed with our bytes unread) still leaves what arrived before it.
std::string receiveAll(Connection& connection, Clock::time_point deadline) {
  std::string received;
  std::array<char, 16 * 1024> buffer;
  while (true) {
    const ssize_t n = ::recv(connection.fd, buffer.data(), buffer.size(), 0);
    if (n > 0) {
      received.append(buffer.data(), static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      connection.reset = n < 0 && errno == ECONNRESET;
      return received;
    }
    pollfd entry{.fd = connection.fd, .events = POLLIN};
    if (::poll(&entry, 1, millisecondsUntil(deadline)) != 1) {
      connection.error = "no close from the server before the deadline";
      return received;
    }
  }
}

std::string localAddress(int fd) {
  sockaddr_in local{};
  socklen_t length = sizeof(local);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  std::array<char, INET_ADDRSTRLEN> text{};
  ::inet_ntop(AF_INET, &local.sin_addr, text.data(), text.size());
  return fmt::format("{}:{}", text.data(), ntohs(local.sin_port));
}

std::string requestText(std::string_view address, const HttpRequest& request) {
  std::string text = fmt::format("{} {} {}\r\nHost: {}\r\n", request.method, request.path,
                                 request.version, request.host.empty() ? address : request.host);
  if (request.version == "HTTP/1.1") {
    text += "Connection: close\r\n";
  }
  if (!request.cookie.empty()) {
    text += fmt::format("Cookie: {}\r\n", request.cookie);
  }
  for (const auto& [name, value] : request.fields) {
    text += fmt::format("{}: {}\r\n", name, value);
  }
  if (request.method != "GET" || !request.body.empty()) {
    text += fmt::format("Content-Length: {}\r\n", request.body.size());
  }
  return text + "\r\n" + request.body;
}

} // namespace

std::vector<std::string> HttpHead::values(std::string_view name) const {
  std::vector<std::string> found;
  for (const auto& [field, value] : fields) {
    if (equalsIgnoringCase(field, name)) {
      found.push_back(value);
    }
  }
  return found;
}

std::optional<std::string> HttpResponse::setCookieField(std::string_view name) const {
  const std::string prefix = fmt::format("{}=", name);
  for (const auto& value : head.values("Set-Cookie")) {
    if (value.starts_with(prefix)) {
      return value;
    }
  }
  return std::nullopt;
}

std::optional<std::string> HttpResponse::cookieSet(std::string_view name) const {
  auto field = setCookieField(name);
  if (!field) {
    return std::nullopt;
  }
  const size_t start = name.size() + 1;
  return field->substr(start, field->find(';') - start);
}

HttpResponse parseResponse(std::string raw) {
  HttpResponse response;
  size_t position = 0;
  while (true) {
    const size_t end = raw.find("\r\n\r\n", position);
    if (end == std::string::npos) {
      response.error = fmt::format("no complete final response head in {:?}", raw);
      break;
    }
    HttpHead head = parseHead(std::string_view(raw).substr(position, end + 2 - position));
    position = end + 4;
    if (head.status >= 100 && head.status < 200) {
      response.interim.push_back(std::move(head));
      continue;
    }
    response.head = std::move(head);
    response.body = raw.substr(position);
    break;
  }
  response.raw = std::move(raw);
  return response;
}

HttpResponse httpRequest(std::string_view address, const HttpRequest& request,
                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Connection connection;
  connectFrom(connection, request.source, address, deadline);
  std::string raw;
  std::string client;
  if (connection.error.empty()) {
    client = localAddress(connection.fd);
    if (sendAll(connection, requestText(address, request), deadline)) {
      raw = receiveAll(connection, deadline);
    }
  }
  HttpResponse response = parseResponse(std::move(raw));
  response.client = std::move(client);
  response.reset = connection.reset;
  if (!connection.error.empty()) {
    response.error = connection.error;
  }
  return response;
}

HttpResponse httpGet(std::string_view address, const HttpRequest& request,
                     std::chrono::milliseconds timeout) {
  return httpRequest(address, request, timeout);
}

HttpResponse httpGet(std::string_view address, std::string_view path,
                     std::chrono::milliseconds timeout) {
  return httpRequest(
      address, {.path = std::string(path), .version = "HTTP/1.0", .fields = {{"Accept", "*/*"}}},
      timeout);
}

std::string percentEncode(std::string_view text) {
  std::string encoded;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      encoded += fmt::format("%{:02X}", c);
    }
  }
  return encoded;
}

std::string uniqueLoopbackAddress() {
  static std::atomic<uint32_t> next = 0;
  const uint32_t n = next++;
  // 254 hosts per third octet, skipping .0 and .255 that look like network and broadcast.
  return fmt::format("127.1.{}.{}", n / 254 % 256, n % 254 + 1);
}

std::string servedBy(const HttpResponse& response) {
  return response.body.substr(0, response.body.find(' '));
}

} // namespace corral::test
