#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "proxy/access_log.h"
#include "proxy/session.h"

namespace corral::proxy {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// 2024-05-01T12:34:56.789Z: 1714566896 s after the epoch (date -d 2024-05-01T12:34:56Z +%s).
const std::chrono::system_clock::time_point kTime =
    std::chrono::system_clock::time_point(1714566896s) + 789ms;

json parse(const std::string& line) {
  EXPECT_EQ(line.find('\n'), std::string::npos) << line; // one line per session
  return json::parse(line, nullptr, /*allow_exceptions=*/false);
}

// An entry as the session fills it for `termination`: how far the session got decides which
// fields it knows (see Session::accessLogLine).
AccessLogEntry entryFor(Termination termination) {
  AccessLogEntry entry{.time = kTime,
                       .id = 0x2a,
                       .frontend = "web",
                       .client = "127.0.0.1:50312",
                       .termination = terminationName(termination)};
  switch (termination) {
  case Termination::LimitReached:       // closed at accept
  case Termination::TlsHandshakeFailed: // closed before routing
    break;
  case Termination::NoServer: // routed, but every server was down
    entry.backend = "app";
    break;
  case Termination::ConnectFailed: // chosen, never connected
    entry.backend = "app";
    entry.server = "s1";
    entry.chosen_by = "round_robin";
    entry.duration_seconds = 0.5;
    break;
  default: // relayed, then ended by one side or a timer
    entry = {.time = kTime,
             .id = 0x2a,
             .frontend = "web",
             .client = "127.0.0.1:50312",
             .backend = "app",
             .server = "s1",
             .chosen_by = "round_robin",
             .bytes_in = 12,
             .bytes_out = 2048,
             .connect_seconds = 0.000231,
             .duration_seconds = 0.015112,
             .termination = terminationName(termination)};
  }
  return entry;
}

// The names users grep and alert on, one per cause of issue 8's list. Changing one breaks their
// queries, so this table is the contract.
TEST(AccessLogTest, EveryTerminationCauseHasItsStableName) {
  const std::vector<std::pair<Termination, std::string>> names = {
      {Termination::ClientClosed, "client_closed"},
      {Termination::ServerClosed, "server_closed"},
      {Termination::ClientTimeout, "client_timeout"},
      {Termination::ServerTimeout, "server_timeout"},
      {Termination::ConnectFailed, "connect_failed"},
      {Termination::NoServer, "no_server"},
      {Termination::LimitReached, "limit_reached"},
      {Termination::TlsHandshakeFailed, "tls_handshake_failed"},
      {Termination::ClientError, "client_error"},
      {Termination::ServerError, "server_error"},
      {Termination::Shutdown, "shutdown"},
      {Termination::BadProxyHeader, "bad_proxy_header"},
      {Termination::Denied, "denied"},
      {Termination::ClientLimit, "client_limit"},
      {Termination::ClientRate, "client_rate"},
      {Termination::TunnelTimeout, "tunnel_timeout"},
      {Termination::MaxLifetime, "max_lifetime"},
      {Termination::BadRequest, "bad_request"}};
  for (const auto& [termination, name] : names) {
    EXPECT_EQ(terminationName(termination), name);
  }
}

// Every cause gives one valid JSON object with every field, whatever the session got to know.
TEST(AccessLogTest, EachCauseGivesOneJsonObjectWithEveryField) {
  for (int cause = 0; cause <= static_cast<int>(Termination::BadRequest); ++cause) {
    const auto termination = static_cast<Termination>(cause);
    const AccessLogEntry entry = entryFor(termination);
    const json line = parse(formatAccessLogLine(entry));
    ASSERT_TRUE(line.is_object()) << terminationName(termination);
    EXPECT_EQ(line["time"], "2024-05-01T12:34:56.789Z");
    EXPECT_EQ(line["id"], "2a");
    EXPECT_EQ(line["frontend"], "web");
    EXPECT_EQ(line["client"], "127.0.0.1:50312");
    EXPECT_EQ(line["backend"], entry.backend);
    EXPECT_EQ(line["server"], entry.server);
    EXPECT_EQ(line["chosen_by"], entry.chosen_by);
    EXPECT_EQ(line["bytes_in"], entry.bytes_in);
    EXPECT_EQ(line["bytes_out"], entry.bytes_out);
    EXPECT_NEAR(line["connect_ms"].get<double>(), entry.connect_seconds * 1e3, 0.001);
    EXPECT_NEAR(line["duration_ms"].get<double>(), entry.duration_seconds * 1e3, 0.001);
    EXPECT_EQ(line["termination"], terminationName(termination));
    for (const char* tls_key : {"tls_version", "sni", "tls_error"}) {
      EXPECT_FALSE(line.contains(tls_key)) << tls_key << " on a plain TCP session";
    }
  }
}

// The exact bytes of a relayed session's line, pinned: log shippers parse these field names
// and the millisecond formats.
TEST(AccessLogTest, ARelayedSessionLineIsExactlyThis) {
  EXPECT_EQ(formatAccessLogLine(entryFor(Termination::ServerClosed)),
            R"({"time":"2024-05-01T12:34:56.789Z","id":"2a","frontend":"web",)"
            R"("client":"127.0.0.1:50312","backend":"app","server":"s1","chosen_by":"round_robin",)"
            R"("bytes_in":12,"bytes_out":2048,"connect_ms":0.231,"duration_ms":15.112,)"
            R"("termination":"server_closed"})");
}

// Terminated TLS adds the version and the name the client asked for; a failed handshake adds
// why it failed, and has no version to report.
TEST(AccessLogTest, TlsFieldsAppearOnlyWhenKnown) {
  AccessLogEntry done = entryFor(Termination::ClientClosed);
  done.tls_version = "TLSv1.3";
  done.sni = "a.example.com";
  const json relayed = parse(formatAccessLogLine(done));
  EXPECT_EQ(relayed["tls_version"], "TLSv1.3");
  EXPECT_EQ(relayed["sni"], "a.example.com");
  EXPECT_FALSE(relayed.contains("tls_error"));

  AccessLogEntry failed = entryFor(Termination::TlsHandshakeFailed);
  failed.tls_error = "http_request";
  const json rejected = parse(formatAccessLogLine(failed));
  EXPECT_EQ(rejected["tls_error"], "http_request");
  EXPECT_EQ(rejected["termination"], "tls_handshake_failed");
  EXPECT_FALSE(rejected.contains("tls_version"));
  EXPECT_FALSE(rejected.contains("sni"));
}

// A client chooses its SNI bytes: quotes, backslashes, newlines and bytes that are not UTF-8
// must neither end the line nor make it invalid JSON. ASCII comes back as it was sent.
TEST(AccessLogTest, HostileSniStaysInsideOneValidJsonString) {
  AccessLogEntry entry = entryFor(Termination::ClientClosed);
  const std::string sni = "a\"b\\c\nd\x01\x7f\xff\xc3";
  entry.sni = sni;
  const json line = parse(formatAccessLogLine(entry));
  ASSERT_TRUE(line.is_object());
  const std::string logged = line["sni"];
  EXPECT_EQ(logged.substr(0, 8), "a\"b\\c\nd\x01");
  EXPECT_EQ(line["termination"], "client_closed");
  EXPECT_NE(formatAccessLogLine(entry).find(R"(\u0001\u007f\u00ff\u00c3")"), std::string::npos);
}

// The "Z" promises UTC. fmt 9 formats a time_point in local time, so pin the behaviour under a
// zone five hours east of UTC (a POSIX TZ string: no time zone database needed).
TEST(AccessLogTest, TimeIsUtcWhateverTheLocalZone) {
  const char* saved = std::getenv("TZ");
  const std::optional<std::string> previous =
      saved ? std::optional<std::string>(saved) : std::nullopt;
  setenv("TZ", "XYZ-5", 1);
  tzset();
  const json line = parse(formatAccessLogLine(entryFor(Termination::ClientClosed)));
  if (previous) {
    setenv("TZ", previous->c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  EXPECT_EQ(line["time"], "2024-05-01T12:34:56.789Z");
}

} // namespace
} // namespace corral::proxy
