#include "tests/integration/spawn/spawned_cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

bool portBindable(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throwSystemError("socket");
  }
  sockaddr_in address{
      .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return bound;
}

Instance instanceFromJson(const nlohmann::json& server) {
  Instance instance{.name = server.at("name").get<std::string>(),
                    .state = server.at("state").get<std::string>(),
                    .reason = server.value("reason", "")};
  if (server.contains("pid") && server["pid"].is_number()) {
    instance.pid = server["pid"].get<pid_t>();
  }
  if (server.contains("restarts") && server["restarts"].is_number()) {
    instance.restarts = server["restarts"].get<uint32_t>();
  }
  return instance;
}

} // namespace

int freePorts(int count) {
  constexpr int kFirst = 12000, kLast = 32000; // below 32768, Linux's first ephemeral port
  const int slots = (kLast - kFirst) / count;
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int first =
        kFirst + static_cast<int>((::getpid() * 7919L + attempt * 101L) % slots) * count;
    bool all_free = true;
    for (int port = first; port < first + count && all_free; ++port) {
      all_free = portBindable(static_cast<uint16_t>(port));
    }
    if (all_free) {
      return first;
    }
  }
  ADD_FAILURE() << "found no " << count << " free consecutive ports";
  return 0;
}

std::string portRange(int first, int count) {
  return fmt::format("{}-{}", first, first + count - 1);
}

std::string demoBackendBinary() {
  return DEMO_BACKEND_BINARY;
}

bool isRunning(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  std::istringstream status(readFile(fmt::format("/proc/{}/status", pid)));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("State:")) { // "State:\tZ (zombie)"
      const size_t code = line.find_first_not_of(" \t", 6);
      return code != std::string::npos && line[code] != 'Z' && line[code] != 'X';
    }
  }
  return false; // /proc has no entry: gone between the two looks
}

bool isReaped(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

SpawnedCluster::SpawnedCluster(std::string_view config_template, const Substitutions& substitutions,
                               std::chrono::milliseconds ready_timeout)
    : corral_(config_template, substitutions, ready_timeout) {
  if (corral_.ready()) {
    admin_ = corral_.readyValue("admin");
    EXPECT_FALSE(admin_.empty()) << "the ready file names no admin address";
  }
}

CommandResult SpawnedCluster::ctl(const std::vector<std::string>& args,
                                  std::chrono::milliseconds timeout) const {
  return runCtl(admin_, args, timeout);
}

std::optional<std::vector<Instance>> SpawnedCluster::instances(std::string_view backend) const {
  const CommandResult result = ctl({"status", "--json"});
  const auto status = nlohmann::json::parse(result.out, nullptr, false);
  if (result.exit_code != 0 || !status.is_object() || !status.contains("backends")) {
    ADD_FAILURE() << "ctl status --json: exit " << result.exit_code << "\n"
                  << result.out << result.err;
    return std::nullopt;
  }
  for (const auto& entry : status["backends"]) {
    if (entry.value("name", "") == backend) {
      std::vector<Instance> instances;
      for (const auto& server : entry.at("servers")) {
        instances.push_back(instanceFromJson(server));
      }
      return instances;
    }
  }
  ADD_FAILURE() << "ctl status --json lists no backend " << backend << ": " << result.out;
  return std::nullopt;
}

std::optional<std::vector<Instance>> SpawnedCluster::waitAllUp(size_t count,
                                                               std::chrono::milliseconds timeout,
                                                               std::string_view backend) const {
  std::optional<std::vector<Instance>> last;
  const bool up = pollUntil(
      [&] {
        last = instances(backend);
        return last && last->size() == count &&
               std::all_of(last->begin(), last->end(),
                           [](const Instance& i) { return i.state == "up" && i.pid > 0; });
      },
      timeout, 50ms);
  return up ? last : std::nullopt;
}

std::vector<std::string> SpawnedCluster::stderrLinesWith(std::string_view text) const {
  std::vector<std::string> lines;
  std::istringstream all(corral_.stderrText());
  for (std::string line; std::getline(all, line);) {
    if (line.find(text) != std::string::npos) {
      lines.push_back(line);
    }
  }
  return lines;
}

} // namespace corral::test
