#pragma once
// One HTTP/1.1 request on a connection of its own ("Connection: close"), as a browser that does
// not reuse connections would send it: the reply says which spawned instance answered
// (corral-demo-backend: "demo-2 pid 12345 request 7") and whether corral inserted a cookie.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace corral::test {

using namespace std::chrono_literals;

struct HttpExchange {
  int status = 0;    // 0: no complete reply (see error)
  std::string error; // why there was no reply, empty otherwise
  std::string body;
  std::optional<std::string> set_cookie; // the Set-Cookie header, when there was one
  std::string instance;                  // "demo-2", from the body
  pid_t pid = 0;                         // of the instance, from the body

  bool ok() const { return status == 200 && pid > 0; }
};

/// GET / through "127.0.0.1:PORT"; `cookie` ("CORRAL=...") is sent as the Cookie header if set.
HttpExchange httpExchange(std::string_view address, std::string_view cookie = {},
                          std::chrono::milliseconds timeout = 5s);

/// "CORRAL=abc" from "CORRAL=abc; Path=/; Max-Age=3600; HttpOnly".
std::string cookiePair(std::string_view set_cookie);

class TcpClient;

/// One complete reply on a keep-alive connection (the head, then Content-Length bytes of body):
/// its body, or "incomplete reply: ..." when the connection ended or the time ran out first.
std::string readKeepAliveReply(TcpClient& client, std::chrono::milliseconds timeout);

} // namespace corral::test
