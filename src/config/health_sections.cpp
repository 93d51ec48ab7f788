#include <algorithm>

#include <fmt/format.h>

#include "config/sections.h"

namespace corral::config {
namespace {

constexpr uint32_t kMaxChecksInARow = 100;
constexpr uint32_t kMaxConsecutiveFailures = 1000;
constexpr uint32_t kMinStatus = 100;
constexpr uint32_t kMaxStatus = 599;

constexpr std::array<Choice<HealthCheckType>, 2> kHealthCheckTypes{{
    {"tcp", HealthCheckType::Tcp},
    {"http", HealthCheckType::Http},
}};

void readCheckPath(const Field& field, std::string& out) {
  std::string path;
  if (!field.read(path)) {
    return;
  }
  if (!path.starts_with('/')) {
    field.error(
        fmt::format("expected an absolute request path such as /healthz, got \"{}\"", path));
    return;
  }
  out = std::move(path);
}

// The Host header goes into the request as written, so it must be a header value that cannot
// end the line: visible ASCII only (RFC 9110 §7.2: uri-host [":" port]).
void readCheckHost(const Field& field, std::string& out) {
  std::string host;
  if (!field.read(host)) {
    return;
  }
  const bool visible = std::all_of(host.begin(), host.end(), [](char c) { return c > ' ' && c < 127; });
  if (!visible) {
    field.error(fmt::format("\"{}\" is not a host name: spaces and control characters cannot go "
                            "into a Host header",
                            host));
    return;
  }
  out = std::move(host);
}

void readExpectStatus(const Field& field, HealthCheckConfig& check) {
  uint32_t min = 0;
  uint32_t max = 0;
  if (field.readRange(min, max, kMinStatus, kMaxStatus)) {
    check.expect_status_min = static_cast<uint16_t>(min);
    check.expect_status_max = static_cast<uint16_t>(max);
  }
}

constexpr KeyRule<HealthCheckConfig> kHealthCheckKeys[] = {
    {"type", [](const Field& f, HealthCheckConfig& c) { f.read(c.type, kHealthCheckTypes); }},
    {"path", [](const Field& f, HealthCheckConfig& c) { readCheckPath(f, c.path); }},
    {"host", [](const Field& f, HealthCheckConfig& c) { readCheckHost(f, c.host); }},
    {"tls", [](const Field& f, HealthCheckConfig& c) { f.read(c.tls); }},
    {"sni", [](const Field& f, HealthCheckConfig& c) { readCheckHost(f, c.sni); }},
    {"expect_status", [](const Field& f, HealthCheckConfig& c) { readExpectStatus(f, c); }},
    {"interval", [](const Field& f, HealthCheckConfig& c) { f.read(c.interval, 1ms); }},
    {"timeout", [](const Field& f, HealthCheckConfig& c) { f.read(c.timeout, 1ms); }},
    {"rise", [](const Field& f, HealthCheckConfig& c) { f.read(c.rise, 1, kMaxChecksInARow); }},
    {"fall", [](const Field& f, HealthCheckConfig& c) { f.read(c.fall, 1, kMaxChecksInARow); }},
};

constexpr KeyRule<PassiveConfig> kPassiveKeys[] = {
    {"consecutive_failures",
     [](const Field& f, PassiveConfig& c) {
       f.read(c.consecutive_failures, 1, kMaxConsecutiveFailures);
     }},
    {"ejection_time", [](const Field& f, PassiveConfig& c) { f.read(c.ejection_time, 1ms); }},
};

} // namespace

void readHealthCheck(const Field& section, std::optional<HealthCheckConfig>& out) {
  HealthCheckConfig check;
  if (!readSection(section, check, kHealthCheckKeys)) {
    return;
  }
  const auto type = section.find("type");
  if (!type || type->node().Scalar() == "tcp") { // a misspelled type is reported already
    for (std::string_view key : {"path", "expect_status", "host"}) {
      if (section.has(key)) {
        section.warnAt(key, "used only by type: http; a tcp check only connects");
      }
    }
  }
  if (section.has("sni") && !check.tls) {
    section.warnAt("sni", "used only with tls: true");
  }
  out = std::move(check);
}

void readPassive(const Field& section, PassiveConfig& passive) {
  readSection(section, passive, kPassiveKeys);
}

} // namespace corral::config
