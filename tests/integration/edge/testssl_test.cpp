// testssl.sh (Debian package testssl.sh) against a TLS frontend on 127.0.0.1: no finding may be
// rated HIGH or CRITICAL. The scan is limited to protocols, ciphers, server defaults and the
// vulnerability checks, in --fast mode, so that it ends in a minute or two.
#include <gtest/gtest.h>

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/integration/edge/edge_support.h"
#include "tests/support/fake_backend.h"

namespace corral::test {
namespace {

TEST(TestsslTest, FindsNothingRatedHighOrCritical) {
  ASSERT_EQ(runCommand({"testssl", "--version"}, {.timeout = 30s}).exit_code, 0)
      << "testssl is missing: apt-get install testssl.sh (scripts/setup.sh)";
  FakeBackend s1("s1");
  Substitutions substitutions = certificateSubstitutions();
  substitutions["s1"] = s1.address();
  CorralProcess corral(R"(
workers: 1
access_log: "off"
frontends:
  - name: web
    listen: "127.0.0.1:0"
    backend: app
    tls:
      certificates: [{cert: "${a_cert}", key: "${a_key}"}]
      alpn: [http/1.1]
backends: [{name: app, servers: [{address: "${s1}"}]}]
)", substitutions);
  ASSERT_TRUE(corral.ready());
  const std::string port = corral.listenAddress("web").substr(10);
  const std::string report = (corral.configPath().parent_path() / "testssl.json").string();
  // --ip pins every connection to 127.0.0.1 and --nodns none stops all DNS lookups, so the scan
  // never leaves this machine; a.example.com is only the name sent as SNI and checked on the
  // certificate, which --add-ca makes trusted.
  const auto scan = runCommand({"testssl", "--quiet", "--color", "0", "--warnings", "off",
                                "--fast", "--protocols", "--server-defaults", "--each-cipher",
                                "--vulnerable", "--ip", "127.0.0.1", "--nodns", "none",
                                "--add-ca", caFile(), "--jsonfile", report,
                                fmt::format("a.example.com:{}", port)},
                               {.timeout = 240s, .merge_output = true});
  ASSERT_NE(scan.exit_code, -1) << "testssl did not finish in time:\n" << scan.out;
  std::ifstream in(report);
  const nlohmann::json findings = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(findings.is_array()) << scan.out;
  EXPECT_GT(findings.size(), 10u) << "too few findings: the scan did not run\n" << scan.out;
  for (const nlohmann::json& finding : findings) {
    // The test CA's certificates carry no CRL or OCSP address, which testssl rates HIGH: a
    // property of the certificate the test made, not of corral's TLS.
    if (finding.value("id", "") == "cert_revocation") {
      continue;
    }
    const std::string severity = finding.value("severity", "");
    EXPECT_TRUE(severity != "HIGH" && severity != "CRITICAL") << finding.dump();
  }
}

} // namespace
} // namespace corral::test
