// Status <-> JSON. The field names are the API: `corral ctl status --json` users and scripts read
// them, so they change only with the API version.

#include <nlohmann/json.hpp>

#include "corral/admin/control.h"

namespace corral::admin {
namespace {

using nlohmann::json;

template <class T>
json orNull(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json serverJson(const ServerStatus& server) {
  return {{"name", server.name},
          {"address", server.address},
          {"state", server.state},
          {"reason", server.reason},
          {"weight", server.weight},
          {"effective_weight", server.effective_weight},
          {"active", server.active},
          {"total", server.total},
          {"bytes_in", server.bytes_in},
          {"bytes_out", server.bytes_out},
          {"last_check", server.last_check},
          {"last_check_ms", server.last_check_ms},
          {"pid", orNull(server.pid)},
          {"uptime_s", orNull(server.uptime_s)},
          {"restarts", orNull(server.restarts)}};
}

json backendJson(const BackendStatus& backend) {
  json servers = json::array();
  for (const auto& server : backend.servers) {
    servers.push_back(serverJson(server));
  }
  return {{"name", backend.name},
          {"balance", backend.balance},
          {"servers", std::move(servers)},
          {"queued", backend.queued},
          {"limited", backend.limited}};
}

json frontendJson(const FrontendStatus& frontend) {
  return {{"name", frontend.name},
          {"listen", frontend.listen},
          {"backend", frontend.backend},
          {"tls", frontend.tls},
          {"active", frontend.active},
          {"total", frontend.total},
          {"rejected", frontend.rejected}};
}

template <class T>
void readOptional(const json& object, const char* key, std::optional<T>& out) {
  const auto found = object.find(key);
  if (found != object.end() && !found->is_null()) {
    out = found->get<T>();
  }
}

ServerStatus serverFromJson(const json& object) {
  ServerStatus server;
  object.at("name").get_to(server.name);
  object.at("address").get_to(server.address);
  object.at("state").get_to(server.state);
  object.at("reason").get_to(server.reason);
  object.at("weight").get_to(server.weight);
  object.at("effective_weight").get_to(server.effective_weight);
  object.at("active").get_to(server.active);
  object.at("total").get_to(server.total);
  object.at("bytes_in").get_to(server.bytes_in);
  object.at("bytes_out").get_to(server.bytes_out);
  object.at("last_check").get_to(server.last_check);
  object.at("last_check_ms").get_to(server.last_check_ms);
  readOptional(object, "pid", server.pid);
  readOptional(object, "uptime_s", server.uptime_s);
  readOptional(object, "restarts", server.restarts);
  return server;
}

BackendStatus backendFromJson(const json& object) {
  BackendStatus backend;
  object.at("name").get_to(backend.name);
  object.at("balance").get_to(backend.balance);
  for (const auto& server : object.at("servers")) {
    backend.servers.push_back(serverFromJson(server));
  }
  backend.queued = object.value("queued", uint64_t{0}); // absent from an older corral's answer
  backend.limited = object.value("limited", false);
  return backend;
}

FrontendStatus frontendFromJson(const json& object) {
  FrontendStatus frontend;
  object.at("name").get_to(frontend.name);
  object.at("listen").get_to(frontend.listen);
  object.at("backend").get_to(frontend.backend);
  object.at("tls").get_to(frontend.tls);
  object.at("active").get_to(frontend.active);
  object.at("total").get_to(frontend.total);
  object.at("rejected").get_to(frontend.rejected);
  return frontend;
}

} // namespace

nlohmann::json toJson(const Status& status) {
  json frontends = json::array();
  for (const auto& frontend : status.frontends) {
    frontends.push_back(frontendJson(frontend));
  }
  json backends = json::array();
  for (const auto& backend : status.backends) {
    backends.push_back(backendJson(backend));
  }
  return {{"version", status.version},
          {"uptime_s", status.uptime_s},
          {"frontends", std::move(frontends)},
          {"backends", std::move(backends)}};
}

Result<Status> statusFromJson(const nlohmann::json& json) {
  try {
    Status status;
    json.at("version").get_to(status.version);
    json.at("uptime_s").get_to(status.uptime_s);
    for (const auto& frontend : json.at("frontends")) {
      status.frontends.push_back(frontendFromJson(frontend));
    }
    for (const auto& backend : json.at("backends")) {
      status.backends.push_back(backendFromJson(backend));
    }
    return status;
  } catch (const nlohmann::json::exception& error) {
    // nlohmann's what() names the key: "[json.exception.out_of_range.403] key 'state' not found".
    return fail(ErrorCode::BadInput, std::string("status JSON: ") + error.what());
  }
}

Result<json> Control::upgrade(const std::string&, std::chrono::milliseconds) {
  return fail(ErrorCode::Unavailable, "upgrade is not supported here");
}

json Control::upgradeStatus() { return json{{"state", "none"}}; }

} // namespace corral::admin
