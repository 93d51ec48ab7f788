// The readiness probe of a rolling restart matches the server like the health checks do: spawned
// clones that speak only TLS (openssl s_server) are probed over TLS when health_check.tls is set.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/certs/test_certificates.h"
#include "tests/integration/spawn/spawned_cluster.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

// A rolling restart waits for each replacement with the backend's health check, and with
// `tls: true` that probe speaks TLS as the regular checks do: two TLS-only clones (openssl
// s_server) are each found ready and the roll finishes. A plaintext probe never passes against
// them, and the roll would stop at its 30 s deadline.
TEST(HealthCheckTlsTest, ARollingRestartProbesATlsOnlyReplacementOverTls) {
  TestCertificates folder;
  const config::CertificateConfig certificate =
      folder.issue({.file_stem = "app", .dns_names = {"app.internal"}});
  const int first_port = freePorts(3);
  SpawnedCluster cluster(R"(
workers: 1
admin: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    spawn:
      command: [sh, -c, "exec openssl s_server -quiet -www -accept 127.0.0.1:$PORT
                         -cert ${cert} -key ${key}"]
      instances: 2
      ports: "${ports}"
      stop_timeout: 2s
    health_check: {type: http, path: /, tls: true, sni: app.internal, interval: 200ms,
                   timeout: 1s, rise: 1, fall: 2}
)", {{"cert", certificate.cert}, {"key", certificate.key}, {"ports", portRange(first_port, 3)}});
  ASSERT_TRUE(cluster.ready()) << cluster.corral().stderrText();
  const auto before = cluster.waitAllUp(2, 15s);
  ASSERT_TRUE(before) << cluster.corral().stderrText();
  const CommandResult restart = cluster.ctl({"restart", "app"});
  ASSERT_EQ(restart.exit_code, 0) << restart.out << restart.err;
  const auto ended = [&] {
    return !cluster.stderrLinesWith("app: rolling restart finished").empty() ||
           !cluster.stderrLinesWith("rolling restart stopped").empty();
  };
  ASSERT_TRUE(pollUntil(ended, 25s, 20ms)) << cluster.corral().stderrText();
  EXPECT_FALSE(cluster.stderrLinesWith("app: rolling restart finished").empty())
      << cluster.corral().stderrText();
  const auto after = cluster.waitAllUp(2, 10s);
  ASSERT_TRUE(after) << cluster.corral().stderrText();
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_NE((*after)[i].pid, (*before)[i].pid) << (*after)[i].name << " was not replaced";
  }
}

} // namespace
} // namespace corral::test
