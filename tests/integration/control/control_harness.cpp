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

#include "tests/support/files.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using nlohmann::json;

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

std::string adminAddress(const CorralProcess& corral) {
  return corral.readyValue("admin");
}

std::string metricsAddress(const CorralProcess& corral) {
  return corral.readyValue("metrics");
}

json adminStatus(std::string_view admin, std::string_view token) {
  HttpRequest request{.path = "/api/v1/status"};
  if (!token.empty()) {
    request.fields.emplace_back("Authorization", fmt::format("Bearer {}", token));
  }
  const HttpResponse reply = httpGet(admin, request, 10s);
  if (reply.head.status != 200) {
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
  const HttpResponse reply = httpGet(metrics, "/metrics");
  if (reply.head.status != 200) {
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
