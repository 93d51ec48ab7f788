#include "corral/core/log.h"

#include <array>
#include <atomic>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace corral::log {
namespace {

enum Component : size_t { Core, Config, Proxy, Balance, Health, Cluster, Metrics, Admin, kCount };

constexpr std::array<const char*, kCount> kNames{"core",   "config",  "proxy",   "balance",
                                                 "health", "cluster", "metrics", "admin"};

// Set once by createLoggers(); read on every log call, per connection in the workers. spdlog::get
// would take the registry's mutex each time. The registry and `owners` keep the loggers alive.
std::array<std::atomic<spdlog::logger*>, kCount> loggers{};

void createLoggers() {
  static std::once_flag once;
  static std::array<std::shared_ptr<spdlog::logger>, kCount> owners;
  std::call_once(once, [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    for (size_t c = 0; c < kCount; ++c) {
      auto logger = std::make_shared<spdlog::logger>(kNames[c], sink);
      logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
      logger->set_level(spdlog::get_level()); // a call before init() logs at spdlog's level
      spdlog::register_logger(logger);
      owners[c] = logger;
      loggers[c].store(logger.get(), std::memory_order_release);
    }
  });
}

spdlog::logger* get(Component component) {
  spdlog::logger* logger = loggers[component].load(std::memory_order_acquire);
  if (logger == nullptr) [[unlikely]] { // called before init()
    createLoggers();
    logger = loggers[component].load(std::memory_order_acquire);
  }
  return logger;
}

} // namespace

void init(spdlog::level::level_enum level) {
  createLoggers();
  spdlog::set_level(level);
}

spdlog::logger* core() { return get(Core); }
spdlog::logger* config() { return get(Config); }
spdlog::logger* proxy() { return get(Proxy); }
spdlog::logger* balance() { return get(Balance); }
spdlog::logger* health() { return get(Health); }
spdlog::logger* cluster() { return get(Cluster); }
spdlog::logger* metrics() { return get(Metrics); }
spdlog::logger* admin() { return get(Admin); }

} // namespace corral::log
