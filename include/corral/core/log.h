#pragma once
// One named spdlog logger per component (STYLE.md §7). Loggers write to stderr; the access log is
// separate (proxy/access_log).

#include <memory>

#include <spdlog/spdlog.h>

namespace corral::log {

/// Creates every component logger at `level` ("trace" .. "off"); safe to call more than once.
void init(spdlog::level::level_enum level = spdlog::level::info);

spdlog::logger* core();
spdlog::logger* config();
spdlog::logger* proxy();
spdlog::logger* balance();
spdlog::logger* health();
spdlog::logger* cluster();
spdlog::logger* metrics();
spdlog::logger* admin();

} // namespace corral::log
