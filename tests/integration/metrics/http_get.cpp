#include "tests/integration/metrics/http_get.h"

#include <fmt/format.h>

#include "tests/support/tcp_client.h"

namespace corral::test {

HttpResponse httpGet(std::string_view address, std::string_view target,
                     std::chrono::milliseconds timeout) {
  TcpClient client(address, timeout);
  const std::string request =
      fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\nAccept: */*\r\n\r\n", target, address);
  if (!client.connected() || !client.writeAll(request, timeout)) {
    return {.status = 0, .body = fmt::format("GET {}{}: {}", address, target, client.error())};
  }
  const std::string response = client.readAll(timeout);
  const size_t head_end = response.find("\r\n\r\n");
  int status = 0;
  // "HTTP/1.x 200 OK": the status code is the second word of the status line.
  if (head_end == std::string::npos || std::sscanf(response.c_str(), "HTTP/%*s %d", &status) != 1) {
    return {.status = 0, .body = fmt::format("GET {}{}: no HTTP response in \"{}\"", address,
                                             target, response.substr(0, 200))};
  }
  return {.status = status, .body = response.substr(head_end + 4)};
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

} // namespace corral::test
