#include "control_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "corral/core/address.h"

#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"
#include "tests/support/files.h"

namespace corral::test {
namespace {

using nlohmann::json;

// "HTTP/1.1 401 Unauthorized" -> 401; 0 when the line is not a status line.
int statusCodeOf(std::string_view head) {
  constexpr std::string_view kPrefix = "HTTP/1.";
  if (head.substr(0, kPrefix.size()) != kPrefix || head.size() < 12) {
    return 0;
  }
  try {
    return std::stoi(std::string(head.substr(9, 3)));
  } catch (const std::exception&) {
    return 0;
  }
}

// `name{a="x",b="y"} 3` -> {"a": "x", "b": "y"}; label values in our metrics hold no quotes.
std::map<std::string, std::string> labelsOf(std::string_view text) {
  std::map<std::string, std::string> labels;
  while (!text.empty()) {
    const auto equals = text.find("=\"");
    const auto close = text.find('"', equals + 2);
    if (equals == std::string_view::npos || close == std::string_view::npos) {
      break;
    }
    labels.emplace(std::string(text.substr(0, equals)),
                   std::string(text.substr(equals + 2, close - equals - 2)));
    text.remove_prefix(std::min(text.size(), close + 2)); // past `",`
  }
  return labels;
}

void setTimeouts(int fd, std::chrono::milliseconds timeout) {
  const timeval tv{.tv_sec = static_cast<time_t>(timeout.count() / 1000),
                   .tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

} // namespace

HttpReply httpRequest(std::string_view address, std::string_view method, std::string_view target,
                      std::string_view token, std::string_view body) {
  std::string request =
      fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", method, target, address);
  if (!token.empty()) {
    request += fmt::format("Authorization: Bearer {}\r\n", token);
  }
  request += fmt::format("Content-Length: {}\r\n\r\n{}", body.size(), body);
  TcpClient client(address);
  if (!client.connected() || !client.writeAll(request)) {
    return {};
  }
  const std::string answer = client.readAll(10s);
  const auto end_of_head = answer.find("\r\n\r\n");
  if (end_of_head == std::string::npos) {
    return {};
  }
  return {.status = statusCodeOf(answer),
          .head = answer.substr(0, end_of_head),
          .body = answer.substr(end_of_head + 4)};
}

json readyInfo(const CorralProcess& corral) {
  json ready =
      json::parse(readFile(corral.configPath().parent_path() / "ready.json"), nullptr, false);
  return ready.is_object() ? ready : json::object(); // not written: corral did not start
}

std::string adminAddress(const CorralProcess& corral) {
  return readyInfo(corral).value("admin", "");
}

std::string metricsAddress(const CorralProcess& corral) {
  return readyInfo(corral).value("metrics", "");
}

json adminStatus(std::string_view admin, std::string_view token) {
  const HttpReply reply = httpRequest(admin, "GET", "/api/v1/status", token);
  if (reply.status != 200) {
    return nullptr;
  }
  json status = json::parse(reply.body, nullptr, false);
  return status.is_discarded() ? json(nullptr) : status;
}

json serverIn(const json& status, std::string_view backend, std::string_view server) {
  if (!status.is_object()) {
    return json::object();
  }
  for (const auto& each : status.value("backends", json::array())) {
    if (each.value("name", "") != backend) {
      continue;
    }
    for (const auto& candidate : each.value("servers", json::array())) {
      if (candidate.value("name", "") == server) {
        return candidate;
      }
    }
  }
  return json::object();
}

std::string serverState(std::string_view admin, std::string_view backend, std::string_view server) {
  return serverIn(adminStatus(admin), backend, server).value("state", "");
}

std::optional<double> scrapeMetric(std::string_view metrics, std::string_view name,
                                   const std::map<std::string, std::string>& labels) {
  const HttpReply reply = httpRequest(metrics, "GET", "/metrics");
  if (reply.status != 200) {
    return std::nullopt;
  }
  std::istringstream lines(reply.body);
  std::string line;
  while (std::getline(lines, line)) {
    const std::string_view text(line);
    const auto brace = text.find('{');
    const auto close = text.rfind('}');
    if (brace == std::string_view::npos || close == std::string_view::npos ||
        text.substr(0, brace) != name ||
        labelsOf(text.substr(brace + 1, close - brace - 1)) != labels) {
      continue;
    }
    return std::stod(std::string(text.substr(close + 1)));
  }
  return std::nullopt;
}

std::string render(std::string_view config_template, const Substitutions& substitutions) {
  std::string text(config_template);
  for (const auto& [name, value] : substitutions) {
    const std::string placeholder = "${" + name + "}";
    for (auto at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  EXPECT_EQ(text.find("${"), std::string::npos) << "a placeholder has no value in:\n" << text;
  return text;
}

void rewriteConfig(const CorralProcess& corral, std::string_view text) {
  const auto path = corral.configPath();
  const auto temporary = path.string() + ".new";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(temporary, path);
}

size_t countLogLines(const CorralProcess& corral, std::string_view text) {
  std::istringstream lines(corral.stderrText());
  size_t count = 0;
  for (std::string line; std::getline(lines, line);) {
    count += line.find(text) != std::string::npos ? 1 : 0;
  }
  return count;
}

std::string exchangeFrom(std::string_view source_ip, std::string_view address,
                         std::string_view request, std::chrono::milliseconds timeout) {
  auto target = SocketAddress::parse(address);
  if (!target) {
    ADD_FAILURE() << "bad address " << address;
    return "";
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in source{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {}};
  ::inet_pton(AF_INET, std::string(source_ip).c_str(), &source.sin_addr);
  setTimeouts(fd, timeout);
  std::string answer;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof(source)) == 0 &&
      ::connect(fd, target->get(), target->length()) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t got; (got = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
      answer.append(buffer, static_cast<size_t>(got));
    }
  }
  ::close(fd);
  return answer;
}

} // namespace corral::test
