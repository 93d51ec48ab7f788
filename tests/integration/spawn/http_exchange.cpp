#include "tests/integration/spawn/http_exchange.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

#include "tests/support/http_client.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

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
  const HttpResponse response =
      httpGet(address, {.host = "corral.test", .cookie = std::string(cookie)}, timeout);
  // A reply cut short by a reset is a lost request, even when its head arrived.
  if (!response.ok() || response.reset) {
    exchange.error = fmt::format("reply of {} bytes: {}", response.raw.size(),
                                 response.reset ? "connection reset" : response.error);
    return exchange;
  }
  exchange.status = response.head.status;
  if (const auto set_cookie = response.head.values("Set-Cookie"); !set_cookie.empty()) {
    exchange.set_cookie = set_cookie.back();
  }
  exchange.body = response.body;
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
