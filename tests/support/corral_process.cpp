#include "tests/support/corral_process.h"

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

CorralProcess::CorralProcess(std::string_view config_template, const Substitutions& substitutions,
                             std::chrono::milliseconds ready_timeout) {
  const std::string binary = corralBinary();
  if (binary.empty()) {
    ADD_FAILURE() << "this build has no corral binary (no `corral` target); set CORRAL_BINARY";
    return;
  }
  const auto config = writeConfig(dir_, config_template, substitutions);
  const auto ready_file = dir_.path() / "ready.json";
  process_.emplace(
      std::vector<std::string>{binary, "run", "-c", config.string(), "--ready-file",
                               ready_file.string()},
      ChildOptions{.stdout_path = dir_.path() / "stdout", .stderr_path = dir_.path() / "stderr"});
  ready_ = waitReady(ready_timeout);
}

// SIGTERM, as an operator stops corral, so that it drains, frees everything and exits 0, and
// LeakSanitizer (in the ASan build) checks the binary itself at that exit. An exit the test did
// not look at (waitExit) must be 0, and no sanitizer may have reported anything.
CorralProcess::~CorralProcess() {
  if (!process_) {
    return;
  }
  if (!process_->status()) {
    if (!process_->stop(kStopTimeout)) {
      ADD_FAILURE() << "corral did not end within " << kStopTimeout.count()
                    << " ms of SIGTERM; killed. stderr:\n"
                    << stderrText();
      return;
    }
    exit_observed_ = false; // the test did not ask for this one
  }
  if (!exit_observed_ && *process_->status() != ExitStatus::exited(0)) {
    ADD_FAILURE() << "corral ended with " << *process_->status() << "; stderr:\n" << stderrText();
  }
  if (const std::string report = sanitizerReport(stderrText()); !report.empty()) {
    ADD_FAILURE() << "a sanitizer reported on corral:\n" << report;
  }
}

bool CorralProcess::waitReady(std::chrono::milliseconds timeout) {
  const auto ready_file = dir_.path() / "ready.json";
  pollUntil([&] { return std::filesystem::exists(ready_file) || !process_->running(); }, timeout);
  if (process_->status()) {
    ADD_FAILURE() << "corral ended before it was ready (" << *process_->status() << "); stderr:\n"
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

std::string CorralProcess::listenAddress(std::string_view frontend) const {
  // waitReady() checked that "frontends" exists.
  const auto& frontends = ready_info_.is_object() ? ready_info_.at("frontends") : ready_info_;
  const auto found = frontends.is_object() ? frontends.find(frontend) : frontends.end();
  return (found != frontends.end() && found->is_string()) ? found->get<std::string>() : "";
}

std::string CorralProcess::readyValue(std::string_view key) const {
  const auto found = ready_info_.is_object() ? ready_info_.find(key) : ready_info_.end();
  return (found != ready_info_.end() && found->is_string()) ? found->get<std::string>() : "";
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
  return process_ ? test::residentBytes(process_->pid()) : std::nullopt;
}

void CorralProcess::sendSignal(int signal) {
  if (process_) {
    process_->sendSignal(signal);
  }
}

std::optional<ExitStatus> CorralProcess::waitExit(std::chrono::milliseconds timeout) {
  const auto status = process_ ? process_->waitExit(timeout) : std::nullopt;
  exit_observed_ = status.has_value();
  return status;
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

CommandResult runCtl(const std::string& admin, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {corralBinary(), "ctl", "--admin", admin};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, {.timeout = timeout});
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
  result.config_path = writeConfig(dir, config_template, substitutions).string();
  auto [exit_code, out, err] =
      runCommand({binary, "check", "-c", result.config_path}, {.timeout = timeout});
  result.exit_code = exit_code;
  result.out = std::move(out);
  result.err = std::move(err);
  if (const std::string report = sanitizerReport(result.err); !report.empty()) {
    ADD_FAILURE() << "a sanitizer reported on corral check:\n" << report;
  }
  return result;
}

} // namespace corral::test
