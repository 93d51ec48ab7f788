#include "top.h"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "corral/admin/control.h"
#include "table.h"

namespace corral::cli {
namespace {

using nlohmann::json;
constexpr int kRefreshMs = 1000;

// The newest sample of each server in /api/v1/history, by "backend/server".
struct Rates {
  double connections = 0;
  double bytes_in = 0;
  double bytes_out = 0;
};

std::map<std::string, Rates> latestRates(const json& history) {
  std::map<std::string, Rates> rates;
  for (const auto& server : history.value("servers", json::array())) {
    const auto& connections = server.at("connections_per_s");
    if (connections.empty()) {
      continue;
    }
    rates[server.at("backend").get<std::string>() + "/" + server.at("server").get<std::string>()] =
        Rates{.connections = connections.back().get<double>(),
              .bytes_in = server.at("bytes_in_per_s").back().get<double>(),
              .bytes_out = server.at("bytes_out_per_s").back().get<double>()};
  }
  return rates;
}

std::string formatRate(double value) {
  return value >= 100 ? fmt::format("{:.0f}", value) : fmt::format("{:.1f}", value);
}

std::string formatBytes(double value) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f}B", value) : fmt::format("{:.1f}{}", value, kUnits[unit]);
}

struct ServerLine {
  std::string key;
  const admin::ServerStatus* server;
  Rates rates;
};

// Busiest first: open connections, then new connections a second; configuration order on ties.
std::vector<ServerLine> busiestFirst(const admin::Status& status,
                                     const std::map<std::string, Rates>& rates) {
  std::vector<ServerLine> lines;
  for (const auto& backend : status.backends) {
    for (const auto& server : backend.servers) {
      auto key = backend.name + "/" + server.name;
      const auto found = rates.find(key);
      lines.push_back({std::move(key), &server, found == rates.end() ? Rates{} : found->second});
    }
  }
  std::stable_sort(lines.begin(), lines.end(), [](const ServerLine& a, const ServerLine& b) {
    return a.server->active != b.server->active ? a.server->active > b.server->active
                                                : a.rates.connections > b.rates.connections;
  });
  return lines;
}

std::string stateText(const admin::ServerStatus& server) {
  if (server.state == "up" && server.effective_weight < server.weight) {
    return "slow-start";
  }
  return server.reason.empty() ? server.state : fmt::format("{} ({})", server.state, server.reason);
}

// Column 1 of the server table is the state.
std::string paintState(size_t row, size_t column, const std::string& cell, const void*) {
  if (row == 0) {
    return "\x1b[1m" + cell + "\x1b[0m";
  }
  if (column != 1) {
    return cell;
  }
  const char* colour = cell.starts_with("up")           ? "32"
                       : cell.starts_with("down")       ? "31"
                       : cell.starts_with("drain")      ? "33"
                       : cell.starts_with("slow-start") ? "36"
                                                        : "90";
  return fmt::format("\x1b[{}m{}\x1b[0m", colour, cell);
}

std::string paintHeader(size_t row, size_t, const std::string& cell, const void*) {
  return row == 0 ? "\x1b[1m" + cell + "\x1b[0m" : cell;
}

// Frontend connections a second come from the previous frame's totals (none on the first).
using Totals = std::map<std::string, uint64_t>;

void printFrame(const admin::Status& status, const json& history, const Totals* previous,
                double elapsed_s, const TopOptions& options, std::ostream& out) {
  const std::time_t now = std::time(nullptr);
  char clock[16];
  std::strftime(clock, sizeof(clock), "%H:%M:%S", std::localtime(&now));
  out << fmt::format("corral {}, up {}, {}{}\n\n", status.version, formatUptime(status.uptime_s),
                     clock, options.once ? "" : "   (q quits)");
  Table frontends({"FRONTEND", "LISTEN", "TLS", "BACKEND", "ACTIVE", "CONN/S", "TOTAL", "REJECTED"});
  for (const auto& frontend : status.frontends) {
    std::string rate = "-";
    if (previous != nullptr && previous->contains(frontend.name) && elapsed_s > 0) {
      const uint64_t before = previous->at(frontend.name);
      rate = formatRate(frontend.total >= before ? (frontend.total - before) / elapsed_s : 0);
    }
    frontends.add({frontend.name, frontend.listen, frontend.tls, frontend.backend,
                   std::to_string(frontend.active), rate, std::to_string(frontend.total),
                   std::to_string(frontend.rejected)});
  }
  frontends.print(out, options.colour ? paintHeader : nullptr);
  for (const auto& backend : status.backends) {
    if (backend.limited) { // servers with max_connections: clients may wait in the queue
      out << fmt::format("queue {}: {} waiting\n", backend.name, backend.queued);
    }
  }
  out << '\n';
  Table servers({"SERVER", "STATE", "ACTIVE", "CONN/S", "IN/S", "OUT/S", "WEIGHT", "PID",
                 "UPTIME", "RESTARTS", "CHECK"});
  for (const auto& line : busiestFirst(status, latestRates(history))) {
    const auto& server = *line.server;
    servers.add({line.key, stateText(server), std::to_string(server.active),
                 formatRate(line.rates.connections), formatBytes(line.rates.bytes_in),
                 formatBytes(line.rates.bytes_out),
                 server.effective_weight == server.weight
                     ? std::to_string(server.weight)
                     : fmt::format("{} ({})", server.weight, server.effective_weight),
                 server.pid ? std::to_string(*server.pid) : "-", formatUptime(server.uptime_s),
                 server.restarts ? std::to_string(*server.restarts) : "-",
                 server.last_check.empty()
                     ? "-"
                     : fmt::format("{} {:.1f}ms", server.last_check, server.last_check_ms)});
  }
  servers.print(out, options.colour ? paintState : nullptr);
}

Result<json> fetchJson(const AdminClient& client, std::string_view path) {
  auto response = client.get(path);
  if (!response) {
    return std::unexpected(response.error());
  }
  auto body = json::parse(response->body, nullptr, false);
  if (response->status != 200) {
    const std::string message = body.is_object() && body.contains("error")
                                    ? body["error"].get<std::string>()
                                    : fmt::format("HTTP {}", response->status);
    return fail(ErrorCode::Unavailable, fmt::format("{}: {}", path, message));
  }
  if (body.is_discarded()) {
    return fail(ErrorCode::Unavailable, fmt::format("{}: the answer is not JSON", path));
  }
  return body;
}

// Raw keys, no echo, while top runs; restored when it ends.
class RawTerminal {
public:
  RawTerminal() {
    if (::isatty(STDIN_FILENO) == 0 || ::tcgetattr(STDIN_FILENO, &saved_) != 0) {
      return;
    }
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG); // Ctrl-C arrives as a key
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  /// Waits up to `ms` for a key; true when it asks to quit (q, Q, Ctrl-C) or stdin ended.
  bool quitWithin(int ms) const {
    pollfd input{.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
    if (::poll(&input, 1, ms) <= 0) {
      return false;
    }
    char key = 0;
    const ssize_t got = ::read(STDIN_FILENO, &key, 1);
    return got == 0 || key == 'q' || key == 'Q' || key == 3;
  }

private:
  termios saved_{};
  bool active_ = false;
};

} // namespace

Result<void> runTop(const AdminClient& client, const TopOptions& options, std::ostream& out) {
  std::optional<Totals> previous;
  auto previous_at = std::chrono::steady_clock::now();
  std::optional<RawTerminal> terminal;
  if (!options.once) {
    terminal.emplace();
    out << "\x1b[?1049h\x1b[?25l"; // the alternate screen, no cursor: the shell comes back intact
  }
  Result<void> result;
  while (true) {
    const auto status_json = fetchJson(client, "/api/v1/status");
    const auto history = status_json ? fetchJson(client, "/api/v1/history") : status_json;
    const auto status = status_json ? admin::statusFromJson(*status_json)
                                    : Result<admin::Status>(std::unexpected(status_json.error()));
    if (!status || !history) {
      result = std::unexpected(!status ? status.error() : history.error());
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - previous_at).count();
    if (!options.once) {
      out << "\x1b[H\x1b[2J";
    }
    printFrame(*status, *history, previous ? &*previous : nullptr, elapsed, options, out);
    out.flush();
    if (options.once || terminal->quitWithin(kRefreshMs)) {
      break;
    }
    previous.emplace();
    for (const auto& frontend : status->frontends) {
      (*previous)[frontend.name] = frontend.total;
    }
    previous_at = now;
  }
  if (!options.once) {
    out << "\x1b[?25h\x1b[?1049l" << std::flush;
  }
  return result;
}

} // namespace corral::cli
