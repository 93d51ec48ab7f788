#include "access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>

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
  std::unique_ptr<AccessLog> log(new AccessLog());
  log->target_ = target;
  if (target == "stdout") {
    log->fd_ = STDOUT_FILENO;
  } else if (target != "off") {
    log->fd_ = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log->fd_ < 0) {
      return fail(ErrorCode::Io,
                  fmt::format("cannot open access log {}: {}", target, std::strerror(errno)));
    }
    log->owns_fd_ = true;
  }
  for (size_t i = 0; i < workers; ++i) {
    log->buffers_.push_back(std::make_unique<Buffer>());
  }
  if (log->enabled()) {
    log->writer_ = std::thread([raw = log.get()] { raw->writerLoop(); });
  }
  return log;
}

AccessLog::~AccessLog() {
  finish();
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
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_ || reopen_; });
      stop = stop_;
      reopen = std::exchange(reopen_, false);
    }
    collect(/*include_local=*/stop);
    if (reopen && owns_fd_) {
      const int fd = ::open(target_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
      if (fd >= 0) {
        ::dup2(fd, fd_);
        ::close(fd);
      } else {
        log::proxy()->warn("access log {}: reopen failed: {}", target_, std::strerror(errno));
      }
    }
    if (stop) {
      return;
    }
  }
}

} // namespace corral::proxy
