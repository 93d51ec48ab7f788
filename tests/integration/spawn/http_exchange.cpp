#include "tests/integration/spawn/http_exchange.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) {
    return false;
  }
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

void parseHead(std::string_view head, HttpExchange& exchange) {
  std::istringstream lines{std::string(head)};
  std::string line;
  std::getline(lines, line);
  if (line.starts_with("HTTP/1.") && line.size() >= 12) {
    exchange.status = std::atoi(line.c_str() + 9);
  }
  constexpr std::string_view kSetCookie = "set-cookie:";
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (startsWithNoCase(line, kSetCookie)) {
      const size_t value = line.find_first_not_of(' ', kSetCookie.size());
      exchange.set_cookie = value == std::string::npos ? "" : line.substr(value);
    }
  }
}

// "demo-2 pid 12345 request 7\n": the instance's name and pid.
void parseBody(HttpExchange& exchange) {
  std::istringstream words(exchange.body);
  std::string name, pid_word;
  long pid = 0;
  if (words >> name >> pid_word >> pid && pid_word == "pid" && pid > 0) {
    exchange.instance = name;
    exchange.pid = static_cast<pid_t>(pid);
  }
}

} // namespace

HttpExchange httpExchange(std::string_view address, std::string_view cookie,
                          std::chrono::milliseconds timeout) {
  HttpExchange exchange;
  TcpClient client(address, timeout);
  if (!client.connected()) {
    exchange.error = client.error();
    return exchange;
  }
  std::string request = "GET / HTTP/1.1\r\nHost: corral.test\r\nConnection: close\r\n";
  if (!cookie.empty()) {
    request += fmt::format("Cookie: {}\r\n", cookie);
  }
  request += "\r\n";
  if (!client.writeAll(request, timeout)) {
    exchange.error = fmt::format("write: {}", client.error());
    return exchange;
  }
  const std::string reply = client.readAll(timeout);
  const size_t head_end = reply.find("\r\n\r\n");
  if (client.closure() != Closure::Eof || head_end == std::string::npos) {
    exchange.error = fmt::format("reply of {} bytes, connection {}", reply.size(),
                                 fmt::streamed(client.closure()));
    return exchange;
  }
  parseHead(std::string_view(reply).substr(0, head_end), exchange);
  exchange.body = reply.substr(head_end + 4);
  parseBody(exchange);
  return exchange;
}

std::string cookiePair(std::string_view set_cookie) {
  return std::string(set_cookie.substr(0, set_cookie.find(';')));
}

// One complete reply on a keep-alive connection: the head, then Content-Length bytes of body.
std::string readKeepAliveReply(TcpClient& client, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string reply;
  while (Clock::now() < deadline) {
    const size_t head_end = reply.find("\r\n\r\n");
    const size_t length_at = reply.find("Content-Length: ");
    if (head_end != std::string::npos && length_at != std::string::npos && length_at < head_end) {
      const size_t length = std::stoul(reply.substr(length_at + 16));
      if (reply.size() >= head_end + 4 + length) {
        return reply.substr(head_end + 4, length);
      }
    }
    const std::string more =
        client.readSome(std::chrono::milliseconds(millisecondsUntil(deadline)));
    if (more.empty()) {
      break;
    }
    reply += more;
  }
  return "incomplete reply: " + reply;
}

} // namespace corral::test
