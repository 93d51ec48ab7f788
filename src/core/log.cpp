#include "corral/core/log.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace corral::log {
namespace {

constexpr const char* kNames[] = {"core",    "config",  "proxy", "balance",
                                  "health",  "cluster", "metrics", "admin"};

spdlog::logger* get(const char* name) {
  init(spdlog::get_level());
  return spdlog::get(name).get();
}

} // namespace

void init(spdlog::level::level_enum level) {
  static std::once_flag once;
  std::call_once(once, [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    for (const char* name : kNames) {
      auto logger = std::make_shared<spdlog::logger>(name, sink);
      logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
      spdlog::register_logger(logger);
    }
  });
  spdlog::set_level(level);
}

spdlog::logger* core() { return get("core"); }
spdlog::logger* config() { return get("config"); }
spdlog::logger* proxy() { return get("proxy"); }
spdlog::logger* balance() { return get("balance"); }
spdlog::logger* health() { return get("health"); }
spdlog::logger* cluster() { return get("cluster"); }
spdlog::logger* metrics() { return get("metrics"); }
spdlog::logger* admin() { return get("admin"); }

} // namespace corral::log
