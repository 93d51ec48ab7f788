#include "demo_backend.h"

#include <signal.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/wait.h"
#include "tests/support/files.h"

namespace corral::test {
namespace {

// The demo backend prints "NAME (pid P) listening on 127.0.0.1:PORT\n" once it is bound.
std::string listeningAddress(const std::string& stderr_text) {
  constexpr std::string_view kMarker = "listening on ";
  const size_t start = stderr_text.find(kMarker);
  const size_t end = stderr_text.find('\n', start);
  if (start == std::string::npos || end == std::string::npos) {
    return "";
  }
  return stderr_text.substr(start + kMarker.size(), end - start - kMarker.size());
}

} // namespace

std::string demoBackendBinary() {
#ifdef CORRAL_DEMO_BACKEND
  return CORRAL_DEMO_BACKEND;
#else
  return "";
#endif
}

DemoBackend::DemoBackend(std::string name, std::chrono::milliseconds timeout)
    : name_(std::move(name)) {
  const auto err = dir_.path() / "stderr";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{demoBackendBinary(), "--name", name_, "--listen", "127.0.0.1",
                               "--port", "0"},
      ChildOptions{.stdout_path = dir_.path() / "stdout", .stderr_path = err});
  std::string text;
  pollUntil(
      [&] {
        text = readFile(err);
        return !listeningAddress(text).empty() || !process_->running();
      },
      timeout);
  address_ = listeningAddress(text);
  if (address_.empty()) {
    ADD_FAILURE() << "demo backend " << name_ << " did not start; stderr:\n" << text;
  }
}

bool DemoBackend::stop(std::chrono::milliseconds timeout) {
  return process_->stop(timeout) == ExitStatus::exited(0);
}

} // namespace corral::test
