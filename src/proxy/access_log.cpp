#include "access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <optional>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "corral/core/log.h"

namespace corral::proxy {
namespace {

// ISO 8601 in UTC with milliseconds. fmt 9 formats a system_clock time_point in local time, so
// the calendar fields come from fmt::gmtime explicitly: the "Z" must be true whatever TZ says.
void appendTime(std::string& out, std::chrono::system_clock::time_point time) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(time);
  const auto seconds = std::chrono::floor<std::chrono::seconds>(ms);
  fmt::format_to(std::back_inserter(out), "{:%FT%T}.{:03}Z",
                 fmt::gmtime(std::chrono::system_clock::to_time_t(seconds)),
                 (ms - seconds).count());
}

// Escapes straight into the line (no temporary string per field on the worker thread): quotes,
// backslashes, control characters, and every byte of 0x7f and above as \u00XX. Host names are
// ASCII (RFC 6066 §3), but a client may send any bytes as SNI: escaping them byte by byte keeps
// every line valid JSON (never invalid UTF-8).
void appendEscaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20 || byte >= 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(byte));
    } else {
      out.push_back(c);
    }
  }
}

// ,"key":"value" with the value escaped.
void appendString(std::string& out, std::string_view key, std::string_view value) {
  fmt::format_to(std::back_inserter(out), R"(,"{}":")", key);
  appendEscaped(out, value);
  out.push_back('"');
}

// The same, left out when the value is empty.
void appendOptional(std::string& out, std::string_view key, std::string_view value) {
  if (!value.empty()) {
    appendString(out, key, value);
  }
}

} // namespace

Result<AccessLog::Target> AccessLog::openTarget(const std::string& name) {
  if (name == "stdout") {
    return Target{.name = name, .fd = STDOUT_FILENO, .owned = false};
  }
  if (name == "off") {
    return Target{.name = name};
  }
  const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return fail(ErrorCode::Io, fmt::format("cannot open access log {}: {}", name, std::strerror(errno)));
  }
  return Target{.name = name, .fd = fd, .owned = true};
}

std::string formatAccessLogLine(const AccessLogEntry& entry) {
  std::string out;
  out.reserve(320); // a typical line, so that it is built without growing
  out += R"({"time":")";
  appendTime(out, entry.time);
  fmt::format_to(std::back_inserter(out), R"(","id":"{:x}")", entry.id);
  appendString(out, "frontend", entry.frontend);
  appendString(out, "client", entry.client);
  appendString(out, "backend", entry.backend);
  appendString(out, "server", entry.server);
  appendString(out, "chosen_by", entry.chosen_by);
  fmt::format_to(std::back_inserter(out),
                 R"(,"bytes_in":{},"bytes_out":{},"connect_ms":{:.3f},"duration_ms":{:.3f})",
                 entry.bytes_in, entry.bytes_out, entry.connect_seconds * 1e3,
                 entry.duration_seconds * 1e3);
  appendString(out, "termination", entry.termination);
  appendOptional(out, "tls_version", entry.tls_version);
  appendOptional(out, "sni", entry.sni);
  appendOptional(out, "tls_error", entry.tls_error);
  out.push_back('}');
  return out;
}

void AccessLog::Buffer::append(std::string_view line) {
  if (local_.size() + line.size() > kMaxPending) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  local_.append(line);
  local_.push_back('\n');
}

void AccessLog::Buffer::flush() {
  if (local_.empty() || handoff_.load(std::memory_order_acquire) != nullptr) {
    return; // the writer has not taken the previous batch yet: keep accumulating
  }
  handoff_.store(new std::string(std::move(local_)), std::memory_order_release);
  local_.clear();
}

Result<std::unique_ptr<AccessLog>> AccessLog::open(const std::string& target, size_t workers) {
  auto opened = openTarget(target);
  if (!opened) {
    return std::unexpected(opened.error());
  }
  std::unique_ptr<AccessLog> log(new AccessLog());
  log->target_ = target;
  log->fd_ = opened->fd;
  log->owns_fd_ = opened->owned;
  log->enabled_ = log->fd_ >= 0;
  for (size_t i = 0; i < workers; ++i) {
    log->buffers_.push_back(std::make_unique<Buffer>());
  }
  // Even with "off": a reload may turn the log on.
  log->writer_ = std::thread([raw = log.get()] { raw->writerLoop(); });
  return log;
}

// Opened here, on the caller's thread, so that an unwritable path fails the reload; the writer
// thread switches after writing what it holds, so lines before the switch go to the old target.
Result<void> AccessLog::retarget(const std::string& target) {
  auto opened = openTarget(target);
  if (!opened) {
    return std::unexpected(opened.error());
  }
  {
    std::lock_guard lock(mutex_);
    if (next_fd_ >= 0 && next_owned_) {
      ::close(next_fd_); // a retarget the writer has not taken yet
    }
    next_target_ = target;
    next_fd_ = opened->fd;
    next_owned_ = opened->owned;
    retarget_ = true;
  }
  wake_.notify_one();
  enabled_ = opened->fd >= 0;
  return {};
}

AccessLog::~AccessLog() {
  finish();
  if (next_fd_ >= 0 && next_owned_) {
    ::close(next_fd_);
  }
  if (owns_fd_) {
    ::close(fd_);
  }
}

void AccessLog::reopen() {
  std::lock_guard lock(mutex_);
  reopen_ = true;
  wake_.notify_one();
}

void AccessLog::finish() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    writer_.join();
  }
}

// Takes every handed-over batch; after the workers stopped, their local lines too.
void AccessLog::collect(bool include_local) {
  std::string batch;
  for (auto& buffer : buffers_) {
    if (std::string* taken = buffer->handoff_.exchange(nullptr, std::memory_order_acq_rel)) {
      batch += *taken;
      delete taken;
    }
    if (include_local) {
      batch += buffer->local_;
      buffer->local_.clear();
    }
  }
  writeBatch(batch);
}

void AccessLog::writeBatch(std::string& batch) {
  if (fd_ < 0) {
    return; // "off": lines a worker wrote before it heard of the retarget
  }
  size_t written = 0;
  while (written < batch.size()) {
    const ssize_t n = ::write(fd_, batch.data() + written, batch.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      log::proxy()->warn("access log {}: write failed: {}", target_, std::strerror(errno));
      return;
    }
    written += static_cast<size_t>(n);
  }
}

void AccessLog::writerLoop() {
  for (;;) {
    bool stop = false;
    bool reopen = false;
    std::optional<Target> next;
    {
      std::unique_lock lock(mutex_);
      auto woken = [&] { return stop_ || reopen_ || retarget_; };
      if (fd_ >= 0) {
        wake_.wait_for(lock, std::chrono::milliseconds(50), woken);
      } else {
        wake_.wait(lock, woken); // off: nothing to write until a retarget
      }
      stop = stop_;
      reopen = std::exchange(reopen_, false);
      if (std::exchange(retarget_, false)) {
        next = Target{.name = next_target_, .fd = std::exchange(next_fd_, -1), .owned = next_owned_};
      }
    }
    collect(/*include_local=*/stop);
    if (next) {
      switchTo(*next);
    } else if (reopen && owns_fd_) {
      reopenFile();
    }
    if (stop) {
      return;
    }
  }
}

void AccessLog::switchTo(const Target& next) {
  if (owns_fd_) {
    ::close(fd_);
  }
  target_ = next.name;
  fd_ = next.fd;
  owns_fd_ = next.owned;
  log::proxy()->info("access log: now {}", target_);
}

void AccessLog::reopenFile() {
  const int fd = ::open(target_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd >= 0) {
    ::dup2(fd, fd_);
    ::close(fd);
  } else {
    log::proxy()->warn("access log {}: reopen failed: {}", target_, std::strerror(errno));
  }
}

} // namespace corral::proxy
