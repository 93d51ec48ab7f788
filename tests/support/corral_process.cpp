#include "tests/support/corral_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/fake_backend.h"
#include "tests/support/files.h"
#include "tests/support/process_info.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

void writeFile(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string substitute(std::string_view text, const Substitutions& substitutions) {
  std::string result;
  size_t position = 0;
  while (true) {
    const size_t start = text.find("${", position);
    const size_t end = text.find('}', start);
    if (start == std::string_view::npos || end == std::string_view::npos) {
      return result.append(text.substr(position));
    }
    const std::string name(text.substr(start + 2, end - start - 2));
    result.append(text.substr(position, start - position));
    if (auto found = substitutions.find(name); found != substitutions.end()) {
      result.append(found->second);
    } else {
      ADD_FAILURE() << "configuration template uses ${" << name << "}, which has no value";
    }
    position = end + 1;
  }
}

// Writes the configuration into `dir` as corral.yaml, with ${dir} standing for the folder.
std::filesystem::path writeConfig(const TempDir& dir, std::string_view config_template,
                                  Substitutions substitutions) {
  substitutions.emplace("dir", dir.path().string());
  auto path = dir.path() / "corral.yaml";
  writeFile(path, substitute(config_template, substitutions));
  return path;
}

// fork + exec with stdout and stderr sent to files. Between fork and exec the child calls only
// async-signal-safe functions, as the parent has other threads (fake backends).
pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& out_path,
            const std::filesystem::path& err_path) {
  std::vector<char*> argv;
  for (const auto& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  const std::string out = out_path.string(), err = err_path.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throwSystemError("fork");
  }
  if (pid == 0) {
    // If the test binary dies (crash, ctest timeout), corral must not outlive it. The signal
    // follows the forking thread, which is the test's main thread.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(null, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execv(argv[0], argv.data());
    constexpr char kMessage[] = "exec of the corral binary failed\n";
    [[maybe_unused]] auto written = ::write(2, kMessage, sizeof(kMessage) - 1);
    ::_exit(127);
  }
  return pid;
}

ExitStatus decode(int status) {
  if (WIFEXITED(status)) {
    return ExitStatus::exited(WEXITSTATUS(status));
  }
  return {.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0};
}

} // namespace

std::string corralBinary() {
  if (const char* from_environment = std::getenv("CORRAL_BINARY")) {
    return from_environment;
  }
#ifdef CORRAL_BINARY
  return CORRAL_BINARY;
#else
  return "";
#endif
}

Substitutions addressesOf(std::initializer_list<std::reference_wrapper<const FakeBackend>> backends) {
  Substitutions substitutions;
  for (const FakeBackend& backend : backends) {
    substitutions.emplace(backend.name(), backend.address());
  }
  return substitutions;
}

std::ostream& operator<<(std::ostream& out, const ExitStatus& status) {
  if (status.signal != 0) {
    return out << "killed by signal " << status.signal;
  }
  return out << "exit " << status.code;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/corral-test-XXXXXX", base ? base : "/tmp");
  if (::mkdtemp(pattern.data()) == nullptr) {
    throwSystemError("mkdtemp");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "kept %s for inspection\n", path_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

CorralProcess::CorralProcess(std::string_view config_template, const Substitutions& substitutions,
                             std::chrono::milliseconds ready_timeout) {
  const std::string binary = corralBinary();
  if (binary.empty()) {
    ADD_FAILURE() << "this build has no corral binary (no `corral` target); set CORRAL_BINARY";
    return;
  }
  const auto config = writeConfig(dir_, config_template, substitutions);
  const auto ready_file = dir_.path() / "ready.json";
  pid_ = spawn({binary, "run", "-c", config.string(), "--ready-file", ready_file.string()},
               dir_.path() / "stdout", dir_.path() / "stderr");
  ready_ = waitReady(ready_timeout);
}

// SIGTERM, as an operator stops corral, so that it drains, frees everything and exits 0, and
// LeakSanitizer (in the ASan build) checks the binary itself at that exit. An exit the test did
// not look at (waitExit) must be 0, and no sanitizer may have reported anything.
CorralProcess::~CorralProcess() {
  if (pid_ <= 0) {
    return;
  }
  if (!exit_status_) {
    ::kill(pid_, SIGTERM);
    if (!waitExit(kStopTimeout)) {
      ADD_FAILURE() << "corral did not end within " << kStopTimeout.count()
                    << " ms of SIGTERM; killed. stderr:\n" << stderrText();
      ::kill(pid_, SIGKILL);
      reap(true);
      return;
    }
    exit_observed_ = false; // the test did not ask for this one
  }
  if (!exit_observed_ && *exit_status_ != ExitStatus::exited(0)) {
    ADD_FAILURE() << "corral ended with " << *exit_status_ << "; stderr:\n" << stderrText();
  }
  if (const std::string report = sanitizerReport(stderrText()); !report.empty()) {
    ADD_FAILURE() << "a sanitizer reported on corral:\n" << report;
  }
}

bool CorralProcess::waitReady(std::chrono::milliseconds timeout) {
  const auto ready_file = dir_.path() / "ready.json";
  pollUntil([&] { return std::filesystem::exists(ready_file) || reap(false); }, timeout);
  if (exit_status_) {
    ADD_FAILURE() << "corral ended before it was ready (" << *exit_status_ << "); stderr:\n"
                  << stderrText();
    return false;
  }
  if (!std::filesystem::exists(ready_file)) {
    ADD_FAILURE() << "corral wrote no ready file within " << timeout.count() << " ms; stderr:\n"
                  << stderrText();
    return false;
  }
  ready_info_ = nlohmann::json::parse(readFile(ready_file), nullptr, false);
  if (!ready_info_.is_object() || !ready_info_.contains("frontends")) {
    ADD_FAILURE() << "ready file is not {\"pid\":..., \"frontends\":{...}}: " << readFile(ready_file);
    return false;
  }
  return true;
}

bool CorralProcess::reap(bool block) {
  if (exit_status_) {
    return true;
  }
  int status = 0;
  if (::waitpid(pid_, &status, block ? 0 : WNOHANG) != pid_) {
    return false;
  }
  exit_status_ = decode(status);
  return true;
}

std::string CorralProcess::listenAddress(std::string_view frontend) const {
  // waitReady() checked that "frontends" exists.
  const auto& frontends = ready_info_.is_object() ? ready_info_.at("frontends") : ready_info_;
  const auto found = frontends.is_object() ? frontends.find(frontend) : frontends.end();
  return (found != frontends.end() && found->is_string()) ? found->get<std::string>() : "";
}

std::vector<nlohmann::json> CorralProcess::readAccessLog(bool report_bad_lines) const {
  std::istringstream text(readFile(dir_.path() / "stdout"));
  std::vector<nlohmann::json> lines;
  std::string line;
  // A line without its '\n' is still being written: leave it for the next call.
  while (std::getline(text, line) && !text.eof()) {
    if (line.empty()) {
      continue;
    }
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_discarded() && report_bad_lines) {
      ADD_FAILURE() << "access log line is not JSON: " << line;
    }
    lines.push_back(std::move(parsed));
  }
  return lines;
}

std::vector<nlohmann::json> CorralProcess::accessLog() const { return readAccessLog(true); }

std::vector<nlohmann::json> CorralProcess::waitForAccessLog(size_t count,
                                                            std::chrono::milliseconds timeout) const {
  pollUntil([&] { return readAccessLog(false).size() >= count; }, timeout);
  return accessLog();
}

std::string CorralProcess::stderrText() const { return readFile(dir_.path() / "stderr"); }

std::optional<uint64_t> CorralProcess::residentBytes() const {
  return pid_ > 0 ? test::residentBytes(pid_) : std::nullopt;
}

void CorralProcess::sendSignal(int signal) {
  if (pid_ > 0 && !exit_status_) {
    ::kill(pid_, signal);
  }
}

std::optional<ExitStatus> CorralProcess::waitExit(std::chrono::milliseconds timeout) {
  if (pid_ > 0) {
    pollUntil([&] { return reap(false); }, timeout);
  }
  exit_observed_ = exit_status_.has_value();
  return exit_status_;
}

std::string sanitizerReport(std::string_view text) {
  for (const std::string_view marker :
       {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
        "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer"}) {
    if (const size_t at = text.find(marker); at != std::string_view::npos) {
      const size_t line = text.rfind('\n', at);
      return std::string(text.substr(line == std::string_view::npos ? 0 : line + 1, 4000));
    }
  }
  return "";
}

CheckResult runCheck(std::string_view config_template, const Substitutions& substitutions,
                     std::chrono::milliseconds timeout) {
  CheckResult result;
  const std::string binary = corralBinary();
  if (binary.empty()) {
    ADD_FAILURE() << "this build has no corral binary (no `corral` target); set CORRAL_BINARY";
    return result;
  }
  TempDir dir;
  const auto config = writeConfig(dir, config_template, substitutions);
  result.config_path = config.string();
  const pid_t pid = spawn({binary, "check", "-c", result.config_path}, dir.path() / "stdout",
                          dir.path() / "stderr");
  int status = 0;
  if (!pollUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout)) {
    ADD_FAILURE() << "corral check did not finish within " << timeout.count() << " ms";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  result.exit_code = decode(status).code;
  result.out = readFile(dir.path() / "stdout");
  result.err = readFile(dir.path() / "stderr");
  if (const std::string report = sanitizerReport(result.err); !report.empty()) {
    ADD_FAILURE() << "a sanitizer reported on corral check:\n" << report;
  }
  return result;
}

} // namespace corral::test
