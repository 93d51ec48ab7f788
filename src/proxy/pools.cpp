#include "pools.h"

#include <fcntl.h>
#include <unistd.h>

namespace corral::proxy {

BufferPool::~BufferPool() {
  for (Buffer* buffer : free_) {
    delete buffer;
  }
}

Buffer* BufferPool::take() {
  ++in_use_;
  if (free_.empty()) {
    return new Buffer; // bytes uninitialised: they are written before they are read
  }
  Buffer* buffer = free_.back();
  free_.pop_back();
  return buffer;
}

void BufferPool::give(Buffer* buffer) {
  if (buffer == nullptr) {
    return;
  }
  --in_use_;
  buffer->begin = buffer->end = 0;
  if (free_.size() >= kMaxFree) {
    delete buffer;
    return;
  }
  free_.push_back(buffer);
}

PipePool::~PipePool() {
  for (Pipe& pipe : free_) {
    close(pipe);
  }
}

Pipe PipePool::take() {
  Pipe pipe;
  if (!free_.empty()) {
    pipe = free_.back();
    free_.pop_back();
    ++in_use_;
    return pipe;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    return pipe;
  }
  // A bigger pipe moves more per splice; when the kernel refuses (pipe-max-size, a user's pipe
  // quota) the default 64 KiB still works.
  ::fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);
  pipe.read_fd = fds[0];
  pipe.write_fd = fds[1];
  ++in_use_;
  return pipe;
}

void PipePool::give(Pipe& pipe) {
  if (!pipe) {
    return;
  }
  --in_use_;
  if (free_.size() >= kMaxFree) {
    close(pipe);
    return;
  }
  free_.push_back(pipe);
  pipe = Pipe{};
}

void PipePool::discard(Pipe& pipe) {
  if (pipe) {
    --in_use_;
    close(pipe);
  }
}

void PipePool::close(Pipe& pipe) {
  if (pipe) {
    ::close(pipe.read_fd);
    ::close(pipe.write_fd);
  }
  pipe = Pipe{};
}

} // namespace corral::proxy
