#include "cluster/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "corral/core/log.h"

namespace corral::cluster {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr int kReadsPerWakeup = 8;         // then let other events run; the rest comes next turn
constexpr size_t kDrainLimit = 1024 * 1024; // read at most this much more after the exit
} // namespace

std::string errorText(int error) { return std::error_code(error, std::generic_category()).message(); }

/// One output pipe: its read end, the event that reads it, and the line splitter.
struct ChildProcess::Pipe {
  Pipe(ChildProcess* owner, Stream stream, int fd, size_t max_line_length)
      : owner(owner), stream(stream), fd(fd), splitter(max_line_length) {}
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  ChildProcess* owner;
  Stream stream;
  int fd;
  LineSplitter splitter;
  event* readable = nullptr;

  ~Pipe() { close(); }
  void close() {
    if (readable != nullptr) {
      event_free(readable);
      readable = nullptr;
    }
    closeFd(fd);
  }
  /// Reads up to `limit` bytes; false at end of file or on error (the pipe is then closed).
  bool read(size_t limit);
  static void onReadable(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Pipe*>(arg)->read(kReadChunk * kReadsPerWakeup);
  }
};

bool ChildProcess::Pipe::read(size_t limit) {
  std::array<char, kReadChunk> buffer;
  auto on_line = [this](std::string_view line) {
    if (owner->events_.on_line) {
      owner->events_.on_line(*owner, stream, line);
    }
  };
  for (size_t total = 0; fd >= 0 && total < limit;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      splitter.feed(std::string_view(buffer.data(), static_cast<size_t>(n)), on_line);
      total += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return true;
    } else {
      splitter.flush(on_line);
      close();
      return false;
    }
  }
  return fd >= 0;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(event_base* base, ChildReaper& reaper,
                                                          const SpawnRequest& request,
                                                          ChildEvents events) {
  assert(!request.command.empty());
  const ExecSpec spec = makeExecSpec(request.command, request.cwd, request.env);
  auto forked = reaper.spawn(spec, request.name, request.stop_timeout);
  if (!forked) {
    return std::unexpected(forked.error());
  }
  std::unique_ptr<ChildProcess> child(
      new ChildProcess(base, reaper, forked->pid, request.name, std::move(events)));
  child->watchPipe(forked->out, Stream::Out, request.max_line_length);
  child->watchPipe(forked->err, Stream::Err, request.max_line_length);
  child->watchExecStatus(forked->exec_status);
  return child;
}

std::unique_ptr<ChildProcess> ChildProcess::adopt(event_base* base, ChildReaper& reaper,
                                                  const Adopted& adopted, ChildEvents events) {
  std::unique_ptr<ChildProcess> child(
      new ChildProcess(base, reaper, adopted.pid, adopted.name, std::move(events)));
  child->started_at_ = adopted.started_at;
  child->watchPipe(adopted.out, Stream::Out, adopted.max_line_length);
  child->watchPipe(adopted.err, Stream::Err, adopted.max_line_length);
  return child;
}

std::vector<int> ChildProcess::pauseOutput() {
  std::vector<int> fds;
  for (auto& pipe : pipes_) {
    if (pipe->readable != nullptr) {
      event_del(pipe->readable);
    }
    fds.push_back(pipe->fd);
  }
  return fds;
}

void ChildProcess::resumeOutput() {
  for (auto& pipe : pipes_) {
    if (pipe->readable != nullptr) {
      event_add(pipe->readable, nullptr);
    }
  }
}

void ChildProcess::release() {
  reaper_.unwatch(pid_);
  kill_timer_.cancel();
  pipes_.clear();
  exited_ = true; // not ours to kill any more
}

ChildProcess::ChildProcess(event_base* base, ChildReaper& reaper, pid_t pid, std::string name,
                           ChildEvents events)
    : base_(base), reaper_(reaper), pid_(pid), name_(std::move(name)), events_(std::move(events)),
      kill_timer_(base, [this] {
        log::cluster()->warn("{} [{}] did not exit within its stop timeout; sending SIGKILL", name_,
                             pid_);
        killGroup(pid_, SIGKILL);
      }) {
  reaper_.watch(pid_, [this](int wait_status) { onReaped(wait_status); });
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    reaper_.unwatch(pid_);
    killGroup(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0); // SIGKILL cannot be caught: this returns promptly
  }
  if (exec_status_event_ != nullptr) {
    event_free(exec_status_event_);
  }
  closeFd(exec_status_fd_);
}

void ChildProcess::watchPipe(int fd, Stream stream, size_t max_line_length) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
  auto pipe = std::make_unique<Pipe>(this, stream, fd, max_line_length);
  pipe->readable = event_new(base_, fd, EV_READ | EV_PERSIST, &Pipe::onReadable, pipe.get());
  event_add(pipe->readable, nullptr);
  pipes_.push_back(std::move(pipe));
}

// The exec status pipe is close-on-exec: end of file without data means exec succeeded; an int
// means it failed with that errno. Reading it on the loop keeps fork+exec from blocking it.
void ChildProcess::watchExecStatus(int fd) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
  exec_status_fd_ = fd;
  exec_status_event_ = event_new(base_, fd, EV_READ, &ChildProcess::onExecStatus, this);
  event_add(exec_status_event_, nullptr);
}

void ChildProcess::onExecStatus(evutil_socket_t, short, void* arg) noexcept {
  auto* child = static_cast<ChildProcess*>(arg);
  child->readExecStatus();
  if (child->exec_error_ == 0 && child->events_.on_exec) {
    child->events_.on_exec(*child);
  }
}

void ChildProcess::readExecStatus() {
  if (exec_status_fd_ < 0) {
    return;
  }
  int error = 0;
  if (::read(exec_status_fd_, &error, sizeof(error)) == sizeof(error)) {
    exec_error_ = error;
  }
  event_free(exec_status_event_);
  exec_status_event_ = nullptr;
  closeFd(exec_status_fd_);
}

void ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (exited_ || terminating_) {
    return;
  }
  terminating_ = true;
  killGroup(pid_, SIGTERM);
  kill_timer_.start(grace);
}

void ChildProcess::drainOutput() {
  for (auto& pipe : pipes_) {
    pipe->read(kDrainLimit);
    pipe->splitter.flush([this, &pipe](std::string_view line) {
      if (events_.on_line) {
        events_.on_line(*this, pipe->stream, line);
      }
    });
    pipe->close();
  }
}

void ChildProcess::onReaped(int wait_status) {
  exited_ = true;
  kill_timer_.cancel();
  const bool exec_pending = exec_status_fd_ >= 0;
  readExecStatus();
  if (exec_pending && exec_error_ == 0 && events_.on_exec) {
    events_.on_exec(*this); // it ran, if only briefly: report it in order
  }
  drainOutput();
  ExitStatus exit;
  if (exec_error_ != 0) {
    exit.exec_error = exec_error_;
  } else if (WIFSIGNALED(wait_status)) {
    exit.signal = WTERMSIG(wait_status);
  } else {
    exit.code = WEXITSTATUS(wait_status);
  }
  auto on_exit = std::move(events_.on_exit); // the callee may destroy this object
  if (on_exit) {
    on_exit(*this, exit);
  }
}

} // namespace corral::cluster
