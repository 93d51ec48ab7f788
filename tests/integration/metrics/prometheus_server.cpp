#include "tests/integration/metrics/prometheus_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace corral::test {

std::string prometheusBinary() { return PROMETHEUS_BINARY; }
std::string promtoolBinary() { return PROMTOOL_BINARY; }

PrometheusServer::PrometheusServer(std::string_view target,
                                   std::chrono::milliseconds ready_timeout) {
  if (prometheusBinary().empty()) {
    ADD_FAILURE() << "prometheus is not installed (Debian package prometheus)";
    return;
  }
  const auto config = dir_.path() / "prometheus.yml";
  std::ofstream(config) << fmt::format(R"(global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: corral
    static_configs: [{{targets: ["{}"]}}]
)",
                                       target);
  address_ = fmt::format("127.0.0.1:{}", freeLoopbackPort());
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{prometheusBinary(), "--config.file=" + config.string(),
                               "--storage.tsdb.path=" + (dir_.path() / "data").string(),
                               "--web.listen-address=" + address_, "--log.level=warn"},
      ChildOptions{.stdout_path = dir_.path() / "prometheus.log"});
  ready_ = pollUntil([&] { return httpGet(address_, "/-/ready", 1s).head.status == 200; },
                     ready_timeout, 100ms);
  if (!ready_) {
    ADD_FAILURE() << "Prometheus on " << address_ << " was not ready within "
                  << ready_timeout.count() << " ms; its log:\n" << log();
  }
}

std::string PrometheusServer::log() const {
  std::ifstream in(dir_.path() / "prometheus.log");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json PrometheusServer::query(std::string_view promql) const {
  return get("/api/v1/query?query=" + percentEncode(promql));
}

nlohmann::json PrometheusServer::get(const std::string& target) const {
  const HttpResponse response = httpGet(address_, target, 10s);
  auto parsed = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.head.status == 0 || parsed.is_discarded()) {
    return {{"status", "transport"}, {"error", response.error + response.body}};
  }
  return parsed;
}

bool PrometheusServer::waitForValue(std::string_view promql, double minimum,
                                    std::chrono::milliseconds timeout) const {
  return pollUntil(
      [&] {
        const nlohmann::json response = query(promql);
        if (response.value("status", "") != "success") {
          return false;
        }
        for (const auto& series : response["data"]["result"]) {
          // An instant vector sample is [time, "value"].
          if (std::stod(series["value"][1].get<std::string>()) >= minimum) {
            return true;
          }
        }
        return false;
      },
      timeout, 250ms);
}

uint16_t freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throwSystemError("bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

} // namespace corral::test
