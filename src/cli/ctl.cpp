#include "ctl.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <charconv>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "corral/admin/control.h"
#include "corral/config/loader.h"
#include "ctl_client.h"
#include "table.h"
#include "top.h"
#include "corral/core/units.h"

namespace corral::cli {
namespace {

using nlohmann::json;

// DESIGN.md: without --admin or -c, ctl looks here.
const HostPort kDefaultAdmin{.host = "127.0.0.1", .port = 9900};

std::string_view trim(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\r\n";
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
}

Result<std::string> readToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  const std::string text = contents.str(); // trim() views into it: it must outlive `token`
  const std::string_view token = trim(text);
  if (!in || token.empty()) {
    return fail(ErrorCode::BadInput, fmt::format("cannot read a token from {}", path));
  }
  return std::string(token);
}

// A wildcard listen address is reached through loopback from this host.
HostPort reachable(HostPort listen) {
  if (listen.host == "0.0.0.0") {
    listen.host = "127.0.0.1";
  } else if (listen.host == "::") {
    listen.host = "::1";
  }
  return listen;
}

Result<std::optional<config::AdminConfig>> adminSection(const std::string& config_path) {
  auto loaded = config::loadFile(config_path);
  if (!loaded) {
    const auto& errors = loaded.error();
    return fail(ErrorCode::BadConfig,
                fmt::format("cannot read the admin settings: {}{}", errors.front().toString(),
                            errors.size() > 1 ? fmt::format(" (and {} more)", errors.size() - 1)
                                              : std::string()));
  }
  return loaded->config.admin;
}

// --admin, else admin.listen in -c, else 127.0.0.1:9900; --token-file, else admin.token_file.
Result<AdminClient> clientFor(const CtlOptions& options) {
  std::optional<config::AdminConfig> admin;
  if (!options.config_path.empty()) {
    auto section = adminSection(options.config_path);
    if (!section) {
      return std::unexpected(section.error());
    }
    admin = *section;
    if (!admin && options.admin.empty()) {
      return fail(ErrorCode::BadInput, fmt::format("{} has no admin section: its admin API is off",
                                                   options.config_path));
    }
  }
  HostPort address = admin ? reachable(admin->listen) : kDefaultAdmin;
  if (!options.admin.empty()) {
    auto parsed = parseHostPort(options.admin);
    if (!parsed) {
      return fail(ErrorCode::BadInput, "--admin: " + parsed.error().message);
    }
    address = *parsed;
  }
  const std::string token_file =
      !options.token_file.empty() ? options.token_file : (admin ? admin->token_file : "");
  std::string token;
  if (!token_file.empty()) {
    auto read = readToken(token_file);
    if (!read) {
      return std::unexpected(read.error());
    }
    token = std::move(*read);
  }
  return AdminClient(std::move(address), std::move(token));
}

// The JSON of a 2xx answer, or an Error carrying the API's own {"error": "..."} message.
Result<json> jsonAnswer(const Result<HttpResponse>& response) {
  if (!response) {
    return std::unexpected(response.error());
  }
  json body = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (response->status >= 200 && response->status < 300) {
    return body;
  }
  std::string message = body.is_object() && body.contains("error") && body["error"].is_string()
                            ? body["error"].get<std::string>()
                            : fmt::format("the admin API answered HTTP {}", response->status);
  if (response->status == 401) {
    message += " (pass --token-file FILE, or -c with a file that sets admin.token_file)";
  }
  return fail(response->status == 404 ? ErrorCode::NotFound : ErrorCode::BadInput, message);
}

struct BackendServer {
  std::string backend;
  std::string server;
};

Result<BackendServer> splitServer(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return fail(ErrorCode::BadInput, fmt::format("expected BACKEND/SERVER, got \"{}\"", text));
  }
  return BackendServer{std::string(text.substr(0, slash)), std::string(text.substr(slash + 1))};
}

std::string serverPath(const BackendServer& name, std::string_view action) {
  return fmt::format("/api/v1/servers/{}/{}/{}", percentEncode(name.backend),
                     percentEncode(name.server), action);
}

template <class T>
std::string orDash(const std::optional<T>& value) {
  return value ? fmt::format("{}", *value) : "-";
}

std::vector<std::string> serverRow(const std::string& backend, const admin::ServerStatus& server) {
  const std::string state =
      server.reason.empty() ? server.state : fmt::format("{} ({})", server.state, server.reason);
  // While slow start ramps, the weight in use follows in parentheses: "10 (3)".
  const std::string weight =
      server.effective_weight == server.weight
          ? std::to_string(server.weight)
          : fmt::format("{} ({})", server.weight, server.effective_weight);
  const std::string check = server.last_check.empty()
                                ? "-"
                                : fmt::format("{} {:.1f}ms", server.last_check, server.last_check_ms);
  return {backend + "/" + server.name, server.address, state, weight,
          std::to_string(server.active), std::to_string(server.total), orDash(server.pid),
          formatUptime(server.uptime_s), orDash(server.restarts), check};
}

// Only backends whose servers have max_connections can queue clients.
void printQueues(const admin::Status& status, std::ostream& out) {
  Table queues({"BACKEND", "QUEUE"});
  bool any = false;
  for (const auto& backend : status.backends) {
    if (backend.limited) {
      queues.add({backend.name, std::to_string(backend.queued)});
      any = true;
    }
  }
  if (any) {
    out << '\n';
    queues.print(out);
  }
}

void printStatus(const admin::Status& status, std::ostream& out) {
  out << fmt::format("corral {}, up {}\n\n", status.version, formatUptime(status.uptime_s));
  if (!status.frontends.empty()) {
    Table frontends({"FRONTEND", "LISTEN", "BACKEND", "ACTIVE", "TOTAL"});
    for (const auto& frontend : status.frontends) {
      frontends.add({frontend.name, frontend.listen, frontend.backend,
                     std::to_string(frontend.active), std::to_string(frontend.total)});
    }
    frontends.print(out);
    out << '\n';
  }
  Table servers({"SERVER", "ADDRESS", "STATE", "WEIGHT", "ACTIVE", "TOTAL", "PID", "UPTIME",
                 "RESTARTS", "CHECK"});
  for (const auto& backend : status.backends) {
    if (backend.servers.empty()) {
      servers.add({backend.name + "/", "-", "no servers", "-", "-", "-", "-", "-", "-", "-"});
    }
    for (const auto& server : backend.servers) {
      servers.add(serverRow(backend.name, server));
    }
  }
  servers.print(out);
  printQueues(status, out);
}

// Each command: the client, the options, where to print. Errors go back to ctlCommand.
struct Context {
  const AdminClient& client;
  const CtlOptions& options;
  std::ostream& out;
};

Result<void> statusCommand(const Context& ctx) {
  const auto response = ctx.client.get("/api/v1/status");
  const auto answer = jsonAnswer(response);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (ctx.options.json) {
    ctx.out << response->body;
    return {};
  }
  const auto status = admin::statusFromJson(*answer);
  if (!status) {
    return std::unexpected(status.error());
  }
  printStatus(*status, ctx.out);
  return {};
}

Result<void> serverActionCommand(const Context& ctx) {
  static const std::map<std::string, std::string> kDone = {
      {"drain", "draining: no new clients; open connections and sticky clients stay"},
      {"disable", "disabled: no traffic at all"},
      {"enable", "enabled"},
  };
  const auto name = splitServer(ctx.options.target);
  if (!name) {
    return std::unexpected(name.error());
  }
  if (auto answer = jsonAnswer(ctx.client.post(serverPath(*name, ctx.options.command))); !answer) {
    return std::unexpected(answer.error());
  }
  ctx.out << fmt::format("{}/{}: {}\n", name->backend, name->server,
                         kDone.at(ctx.options.command));
  return {};
}

// `what` is "weight" or "number of instances", for the message.
Result<uint32_t> parseCount(std::string_view text, std::string_view what, uint32_t min,
                            uint32_t max) {
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return fail(ErrorCode::BadInput, fmt::format("the {} must be a whole number from {} to {}, "
                                                 "got \"{}\"",
                                                 what, min, max, text));
  }
  return value;
}

Result<void> weightCommand(const Context& ctx) {
  const auto name = splitServer(ctx.options.target);
  if (!name) {
    return std::unexpected(name.error());
  }
  const auto weight =
      parseCount(ctx.options.weight, "weight", admin::kMinWeight, admin::kMaxWeight);
  if (!weight) {
    return std::unexpected(weight.error());
  }
  const std::string body = json{{"weight", *weight}}.dump();
  if (auto answer = jsonAnswer(ctx.client.post(serverPath(*name, "weight"), body)); !answer) {
    return std::unexpected(answer.error());
  }
  ctx.out << fmt::format("{}/{}: weight {}\n", name->backend, name->server, *weight);
  return {};
}

Result<void> restartCommand(const Context& ctx) {
  const std::string path =
      fmt::format("/api/v1/backends/{}/restart", percentEncode(ctx.options.target));
  if (auto answer = jsonAnswer(ctx.client.post(path)); !answer) {
    return std::unexpected(answer.error());
  }
  ctx.out << fmt::format("{}: rolling restart started, one instance at a time\n",
                         ctx.options.target);
  return {};
}

Result<void> scaleCommand(const Context& ctx) {
  const auto instances =
      parseCount(ctx.options.instances, "number of instances", 1, admin::kMaxInstances);
  if (!instances) {
    return std::unexpected(instances.error());
  }
  const std::string path =
      fmt::format("/api/v1/backends/{}/scale", percentEncode(ctx.options.target));
  const std::string body = json{{"instances", *instances}}.dump();
  if (auto answer = jsonAnswer(ctx.client.post(path, body)); !answer) {
    return std::unexpected(answer.error());
  }
  ctx.out << fmt::format("{}: scaling to {} instances\n", ctx.options.target, *instances);
  return {};
}

Result<void> reloadCommand(const Context& ctx) {
  if (auto answer = jsonAnswer(ctx.client.post("/api/v1/reload")); !answer) {
    return std::unexpected(answer.error());
  }
  ctx.out << "reloaded\n";
  return {};
}

// POST /api/v1/upgrade answers at once; the outcome is polled from GET /api/v1/upgrade, which
// the new process answers once it has taken the admin socket over.
Result<void> upgradeCommand(const Context& ctx) {
  const auto timeout = parseDuration(ctx.options.timeout);
  if (!timeout) {
    return fail(ErrorCode::BadInput, fmt::format("--timeout: {}", timeout.error().message));
  }
  json body = {{"timeout_ms", timeout->count()}};
  if (!ctx.options.binary.empty()) {
    body["binary"] = ctx.options.binary;
  }
  auto started = jsonAnswer(ctx.client.post("/api/v1/upgrade", body.dump()));
  if (!started) {
    return std::unexpected(started.error());
  }
  const auto id = started->value("id", uint64_t{0});
  const auto deadline = std::chrono::steady_clock::now() + *timeout + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto status = jsonAnswer(ctx.client.get("/api/v1/upgrade"));
    if (!status || status->value("id", uint64_t{0}) != id) {
      continue; // between the two processes, or the old one still answering
    }
    const std::string state = status->value("state", "");
    if (state == "failed") {
      return fail(ErrorCode::Unavailable,
                  fmt::format("upgrade failed: {}; pid {} keeps serving",
                              status->value("reason", "?"), status->value("old_pid", 0)));
    }
    if (state == "done") {
      ctx.out << fmt::format("upgraded: pid {} (corral {}) -> pid {} (corral {}) in {} ms\n",
                             status->value("old_pid", 0), status->value("old_version", "?"),
                             status->value("new_pid", 0), status->value("new_version", "?"),
                             status->value("handover_ms", 0));
      return {};
    }
  }
  return fail(ErrorCode::Unavailable, "no outcome of the upgrade in time");
}

Result<void> routeCommand(const Context& ctx) {
  std::string target = fmt::format("/api/v1/route?backend={}&client={}",
                                   percentEncode(ctx.options.target),
                                   percentEncode(ctx.options.client));
  if (!ctx.options.cookie.empty()) {
    target += "&cookie=" + percentEncode(ctx.options.cookie);
  }
  if (!ctx.options.key.empty()) {
    target += "&key=" + percentEncode(ctx.options.key);
  }
  const auto answer = jsonAnswer(ctx.client.get(target));
  if (!answer) {
    return std::unexpected(answer.error());
  }
  ctx.out << fmt::format("{}/{}: {}\n", ctx.options.target, answer->value("server", "?"),
                         answer->value("reason", ""));
  return {};
}

// ---- logs ----

struct LogTarget {
  std::string backend;
  std::optional<int> instance; // none: every instance of the backend
};

Result<LogTarget> parseLogTarget(std::string_view text) {
  const auto hash = text.rfind('#');
  if (hash == std::string_view::npos) {
    return LogTarget{std::string(text), std::nullopt};
  }
  int instance = -1;
  const std::string_view number = text.substr(hash + 1);
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), instance);
  if (hash == 0 || error != std::errc() || end != number.data() + number.size() || instance < 0) {
    return fail(ErrorCode::BadInput, fmt::format("expected BACKEND or BACKEND#N, got \"{}\"", text));
  }
  return LogTarget{std::string(text.substr(0, hash)), instance};
}

std::string logsPath(const std::string& backend, int instance, bool follow) {
  return fmt::format("/api/v1/logs/{}/{}{}", percentEncode(backend), instance,
                     follow ? "?follow=1" : "");
}

// The instance numbers of a backend's spawned servers, named BACKEND#N (DESIGN.md).
Result<std::vector<int>> instancesOf(const AdminClient& client, const std::string& backend) {
  const auto answer = jsonAnswer(client.get("/api/v1/status"));
  if (!answer) {
    return std::unexpected(answer.error());
  }
  const auto status = admin::statusFromJson(*answer);
  if (!status) {
    return std::unexpected(status.error());
  }
  const auto found = std::find_if(status->backends.begin(), status->backends.end(),
                                  [&](const auto& candidate) { return candidate.name == backend; });
  if (found == status->backends.end()) {
    return fail(ErrorCode::NotFound, fmt::format("unknown backend \"{}\"", backend));
  }
  std::vector<int> instances;
  for (const auto& server : found->servers) {
    const auto target = parseLogTarget(server.name);
    if (target && target->backend == backend && target->instance) {
      instances.push_back(*target->instance);
    }
  }
  if (instances.empty()) {
    return fail(ErrorCode::BadInput, fmt::format("backend \"{}\" has no spawned instances", backend));
  }
  std::sort(instances.begin(), instances.end());
  return instances;
}

Result<void> printLogs(const Context& ctx, const std::string& backend, int instance,
                       std::string_view prefix) {
  const auto answer = jsonAnswer(ctx.client.get(logsPath(backend, instance, false)));
  if (!answer) {
    return std::unexpected(answer.error());
  }
  for (const auto& line : answer->value("lines", json::array())) {
    ctx.out << prefix << line.get<std::string>() << '\n';
  }
  return {};
}

// Streams one instance; with a prefix, whole lines only, so that instances do not interleave
// inside a line.
Result<void> followLogs(const Context& ctx, const std::string& backend, int instance,
                        const std::string& prefix, std::mutex& out_mutex) {
  std::string partial;
  const auto response = ctx.client.stream(logsPath(backend, instance, true), [&](auto piece) {
    partial.append(piece);
    const auto last_newline = partial.rfind('\n');
    if (last_newline == std::string::npos) {
      return true;
    }
    std::istringstream lines(partial.substr(0, last_newline));
    partial.erase(0, last_newline + 1);
    const std::lock_guard lock(out_mutex);
    for (std::string line; std::getline(lines, line);) {
      ctx.out << prefix << line << '\n';
    }
    ctx.out.flush();
    return true;
  });
  if (auto answer = jsonAnswer(response); !answer) { // a 2xx stream that ended is no error
    return std::unexpected(answer.error());
  }
  return {};
}

Result<void> followAll(const Context& ctx, const std::string& backend,
                       const std::vector<int>& instances) {
  std::mutex out_mutex;
  std::vector<Result<void>> results(instances.size());
  {
    std::vector<std::jthread> streams;
    for (size_t i = 0; i < instances.size(); ++i) {
      streams.emplace_back([&, i] {
        const std::string prefix = fmt::format("{}#{} | ", backend, instances[i]);
        results[i] = followLogs(ctx, backend, instances[i], prefix, out_mutex);
      });
    }
  }
  for (const auto& result : results) {
    if (!result) {
      return result;
    }
  }
  return {};
}

Result<void> logsCommand(const Context& ctx) {
  const auto target = parseLogTarget(ctx.options.target);
  if (!target) {
    return std::unexpected(target.error());
  }
  std::mutex out_mutex;
  if (target->instance) {
    return ctx.options.follow ? followLogs(ctx, target->backend, *target->instance, "", out_mutex)
                              : printLogs(ctx, target->backend, *target->instance, "");
  }
  const auto instances = instancesOf(ctx.client, target->backend);
  if (!instances) {
    return std::unexpected(instances.error());
  }
  if (ctx.options.follow) {
    return followAll(ctx, target->backend, *instances);
  }
  for (const int instance : *instances) {
    const std::string prefix = fmt::format("{}#{} | ", target->backend, instance);
    if (auto printed = printLogs(ctx, target->backend, instance, prefix); !printed) {
      return printed;
    }
  }
  return {};
}

// Colours only for a terminal that shows them (https://no-color.org).
bool wantColour(const std::ostream& out) {
  const char* term = std::getenv("TERM");
  return &out == &std::cout && ::isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr &&
         term != nullptr && std::string_view(term) != "dumb";
}

Result<void> topCommand(const Context& ctx) {
  return runTop(ctx.client, TopOptions{.once = ctx.options.once, .colour = wantColour(ctx.out)},
                ctx.out);
}

using Command = Result<void> (*)(const Context&);

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> kCommands = {
      {"status", statusCommand},   {"drain", serverActionCommand},
      {"disable", serverActionCommand}, {"enable", serverActionCommand},
      {"weight", weightCommand},   {"restart", restartCommand},
      {"reload", reloadCommand},   {"route", routeCommand},
      {"logs", logsCommand},       {"top", topCommand},
      {"upgrade", upgradeCommand}, {"scale", scaleCommand},
  };
  return kCommands;
}

} // namespace

CLI::App* addCtlCommand(CLI::App& app, CtlOptions& options) {
  auto* ctl = app.add_subcommand("ctl", "control a running corral through its admin API");
  ctl->add_option("--admin", options.admin, "admin API address, HOST:PORT");
  ctl->add_option("-c,--config", options.config_path,
                  "read admin.listen and admin.token_file from this configuration");
  ctl->add_option("--token-file", options.token_file, "file holding the admin bearer token");
  ctl->require_subcommand(1);
  ctl->fallthrough(); // `ctl status --admin X` works as well as `ctl --admin X status`
  auto command = [&](const char* name, const char* help) {
    auto* sub = ctl->add_subcommand(name, help);
    sub->callback([&options, name] { options.command = name; });
    return sub;
  };
  command("status", "frontends, backends and servers")->add_flag("--json", options.json,
                                                                  "print the raw JSON");
  for (const char* action : {"drain", "disable", "enable"}) {
    command(action, "drain: no new clients; disable: no traffic; enable: back in rotation")
        ->add_option("server", options.target, "BACKEND/SERVER")
        ->required();
  }
  auto* weight = command("weight", "set a server's weight");
  weight->add_option("server", options.target, "BACKEND/SERVER")->required();
  weight->add_option("weight", options.weight, "1 to 256")->required();
  command("restart", "rolling restart of a backend's spawned instances")
      ->add_option("backend", options.target, "BACKEND")
      ->required();
  auto* scale = command("scale", "run N instances of a backend's spawned instances");
  scale->add_option("backend", options.target, "BACKEND")->required();
  scale->add_option("instances", options.instances, "1 to 1024")->required();
  auto* logs = command("logs", "captured output of spawned instances");
  logs->add_option("instance", options.target, "BACKEND or BACKEND#N")->required();
  logs->add_flag("-f,--follow", options.follow, "keep printing new lines");
  command("reload", "load the configuration again, like SIGHUP");
  command("upgrade", "hand the sockets and instances to a new corral process")
      ->add_option("--binary", options.binary, "the new binary (default: this one on disk)");
  ctl->get_subcommand("upgrade")->add_option("--timeout", options.timeout,
                                             "how long the new process may take to be ready");
  auto* route = command("route", "which server would take this client, and why");
  route->add_option("backend", options.target, "BACKEND")->required();
  route->add_option("--client", options.client, "the client's IP address")->required();
  route->add_option("--cookie", options.cookie, "the sticky cookie's value, if any");
  route->add_option("--key", options.key,
                    "balance: hash: the key's value (header or cookie value, /t/42 for path:2)");
  command("top", "live view of frontends and servers, busiest first; q quits")
      ->add_flag("--once", options.once, "print one frame and exit");
  return ctl;
}

int ctlCommand(const CtlOptions& options, std::ostream& out, std::ostream& err) {
  const auto command = commands().find(options.command);
  if (command == commands().end()) {
    err << fmt::format("corral ctl: unknown command \"{}\"\n", options.command);
    return 1;
  }
  auto client = clientFor(options);
  if (!client) {
    err << "corral ctl: " << client.error().message << '\n';
    return 1;
  }
  const Context ctx{.client = *client, .options = options, .out = out};
  if (auto done = command->second(ctx); !done) {
    err << "corral ctl: " << done.error().message << '\n';
    return 1;
  }
  return 0;
}

} // namespace corral::cli
