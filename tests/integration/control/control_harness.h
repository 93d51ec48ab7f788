#pragma once
// What the control tests need around CorralProcess: the admin and metrics addresses from the ready
// file, plain HTTP to the admin API and /metrics, a configuration rewritten in place for a reload,
// and a client that connects from a chosen 127.0.0.x address.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tests/support/corral_process.h"

namespace corral::test {

std::string adminAddress(const CorralProcess& corral);
std::string metricsAddress(const CorralProcess& corral);

/// GET /api/v1/status, parsed; null when the API did not answer 200 with JSON.
nlohmann::json adminStatus(std::string_view admin, std::string_view token = {});
/// The server object of `status` for BACKEND/SERVER; an empty object when there is none.
nlohmann::json serverIn(const nlohmann::json& status, std::string_view backend,
                        std::string_view server);
/// The "state" of BACKEND/SERVER as the admin API says now; "" when it cannot be read.
std::string serverState(std::string_view admin, std::string_view backend, std::string_view server);

/// The value of the sample `name{labels}` in a Prometheus text scrape of `metrics`; nullopt when
/// the scrape failed or has no such sample. Labels must match exactly (all of them).
std::optional<double> scrapeMetric(std::string_view metrics, std::string_view name,
                                   const std::map<std::string, std::string>& labels);

/// "${name}" replaced by substitutions.at("name"), as CorralProcess does for its template.
std::string render(std::string_view config_template, const Substitutions& substitutions);
/// Replaces corral's configuration file (write, then rename, so no reader sees half a file).
void rewriteConfig(const CorralProcess& corral, std::string_view text);

/// How many lines of corral's stderr contain `text`.
size_t countLogLines(const CorralProcess& corral, std::string_view text);

/// Connects to `address` from `source_ip` (a 127.0.0.x address), sends `request` and reads until
/// the peer closes; "" on failure or at the deadline.
std::string exchangeFrom(std::string_view source_ip, std::string_view address,
                         std::string_view request, std::chrono::milliseconds timeout);

} // namespace corral::test
