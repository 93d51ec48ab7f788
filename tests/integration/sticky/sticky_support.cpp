#include "sticky_support.h"

#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "tests/support/wait.h"

namespace corral::test {

std::string writeSecretFile(const std::filesystem::path& path) {
  std::random_device random;
  std::string key;
  for (int i = 0; i < 4; ++i) {
    key += fmt::format("{:08x}", random());
  }
  {
    std::ofstream out(path, std::ios::trunc);
    out << key << "\n";
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
  return path.string();
}

Substitutions addressesOf(const std::vector<const DemoBackend*>& backends) {
  Substitutions substitutions;
  for (const DemoBackend* backend : backends) {
    substitutions.emplace(backend->name(), backend->address());
  }
  return substitutions;
}

HttpResponse StickyClient::get(std::string_view address) {
  HttpRequest request{.source = source_.empty() ? uniqueLoopbackAddress() : source_};
  if (!cookie_.empty()) {
    request.cookie = fmt::format("CORRAL={}", cookie_);
  }
  HttpResponse response = httpGet(address, request);
  if (auto value = response.cookieSet("CORRAL")) {
    cookie_ = *value;
  }
  servers_.push_back(servedBy(response));
  return response;
}

nlohmann::json logLineFor(const std::vector<nlohmann::json>& log, const std::string& client) {
  for (const auto& line : log) {
    if (line.is_object() && line.value("client", "") == client) {
      return line;
    }
  }
  return nullptr;
}

nlohmann::json waitForLogLine(const CorralProcess& corral, const std::string& client,
                              std::chrono::milliseconds timeout) {
  nlohmann::json found;
  pollUntil([&] { return !(found = logLineFor(corral.accessLog(), client)).is_null(); }, timeout);
  return found;
}

std::map<std::string, int> clientsPerServer(const std::map<std::string, std::string>& placement) {
  std::map<std::string, int> count;
  for (const auto& [client, server] : placement) {
    ++count[server];
  }
  return count;
}

} // namespace corral::test
