// The relay: bytes move both ways in the callback that learnt of them. A read is written to the
// other side at once; only what a short write leaves waits (in a pooled buffer, or spliced, in a
// pooled pipe), and while a direction has bytes waiting its source is not read. Half-closes pass
// through once everything before them is written; a server that fails still owes the client what
// corral read from it.

#include <event2/event.h>

#include <cstring>

#include "corral/core/log.h"
#include "session.h"
#include "session_internal.h"
#include "worker.h"

namespace corral::proxy {
namespace {

// Reads per direction per callback before the session lets others run.
constexpr int kRoundsPerEvent = 16;
// The most one read takes while relaying. The buffer holds 64 KiB for the preamble's heads, but
// bulk runs faster in 16 KiB steps here (one iperf3 stream: 4.5 against 2.7 Gbit/s, and less CPU
// per byte), as HAProxy's default bufsize has it.
constexpr size_t kRelayRead = 16 * 1024;

} // namespace

void Session::pump() {
  if (!move(up_) || !move(down_)) {
    return; // closed
  }
  if (flushing_) {
    if (pending(down_) == 0) {
      close(Termination::ServerError);
    }
    return;
  }
  finishIfDone();
}

// Moves what the flow's source has for its destination until one of them would block, the source
// ends, or the budget is spent. Returns false when the session closed.
bool Session::move(Flow& flow) {
  if (flushing_ && &flow == &up_) {
    return true; // the server is gone
  }
  Endpoint& from = source(flow);
  Endpoint& to = destination(flow);
  for (int round = 0; round < kRoundsPerEvent; ++round) {
    if (ready(flow) > 0) {
      if (!to.writable || !flush(flow)) {
        return !closing_;
      }
      if (ready(flow) > 0) {
        return true; // the rest when `to` has room again
      }
    }
    if (flow.eof) {
      passHalfClose(flow);
      return true;
    }
    if (!from.readable || flushing_ || readLimit(flow) == 0) {
      return true;
    }
    if (!fill(flow)) {
      return false;
    }
  }
  worker_.poller().again(token(&from == &server_)); // more after the others had their turn
  return true;
}

// Bytes of the flow that may go out now: all of them, except behind a response head still waiting
// for its Set-Cookie.
size_t Session::ready(const Flow& flow) const {
  if (&flow == &down_ && insert_cookie_) {
    return cookie_scan_;
  }
  return pending(flow);
}

// How much one read may take: kRelayRead, or while a response head is to get its Set-Cookie, the
// buffer's room less what the header needs.
size_t Session::readLimit(const Flow& flow) const {
  if (flow.splice) {
    return PipePool::kPipeSize;
  }
  const size_t room = flow.buffer != nullptr ? flow.buffer->room() : Buffer::kCapacity;
  if (&flow == &down_ && insert_cookie_) {
    return room > kCookieRoom ? room - kCookieRoom : 0;
  }
  return std::min(room, kRelayRead);
}

// One read from the flow's source (into the pipe when spliced). Returns false when the session
// closed.
bool Session::fill(Flow& flow) {
  Endpoint& from = source(flow);
  const size_t limit = readLimit(flow);
  Io io{IoStatus::Blocked};
  if (flow.splice && !flow.pipe) {
    flow.pipe = worker_.pipes().take();
    flow.splice = static_cast<bool>(flow.pipe); // no pipe to be had: copy instead
  }
  if (flow.splice) {
    io = from.spliceIn(flow.pipe.write_fd, limit);
    flow.in_pipe += static_cast<uint32_t>(io.bytes);
  } else {
    if (flow.buffer == nullptr) {
      flow.buffer = worker_.buffers().take();
    }
    io = from.receive(flow.buffer->space(), limit);
    flow.buffer->commit(io.bytes);
  }
  switch (io.status) {
  case IoStatus::Ok:
    account(flow, io.bytes);
    // splice: auto moves a direction to the pipe once one read took all it could: the source is
    // sending bulk, and copying it through userspace is the cost worth saving.
    if (!flow.splice && io.bytes == kRelayRead &&
        frontend_.config->splice == config::Splice::Auto && spliceAllowed(flow)) {
      flow.splice = true;
    }
    if (&flow == &down_ && insert_cookie_) {
      insertCookie();
    }
    return true;
  case IoStatus::Blocked:
    break;
  case IoStatus::Closed:
    if (!up_.eof && !down_.eof) {
      server_closed_first_ = &flow == &down_;
    }
    flow.eof = true;
    if (&flow == &down_ && insert_cookie_) {
      insertCookie(); // the head will not grow any more: insert now or never
    }
    break;
  case IoStatus::Failed:
    return onIoFailure(flow, true);
  }
  if (pending(flow) == 0) {
    release(flow);
  }
  return true;
}

void Session::account(Flow& flow, size_t bytes) {
  flow.bytes += bytes;
  if (traffic_ < Traffic::Settled) {
    noteTraffic(flow, bytes);
  }
  runtime::ServerCells& cells = serverCells();
  (&flow == &up_ ? cells.bytes_in : cells.bytes_out).add(bytes);
}

// Writes what is ready to the flow's destination. Returns false when the session closed.
bool Session::flush(Flow& flow) {
  Endpoint& to = destination(flow);
  Io io{IoStatus::Blocked};
  if (flow.in_pipe > 0) {
    io = to.spliceOut(flow.pipe.read_fd, flow.in_pipe);
    flow.in_pipe -= static_cast<uint32_t>(io.bytes);
  } else {
    io = to.send(flow.buffer->data(), ready(flow));
    flow.buffer->consume(io.bytes);
    if (&flow == &down_ && insert_cookie_) {
      cookie_scan_ -= static_cast<uint32_t>(io.bytes);
    }
  }
  if (io.status == IoStatus::Failed) {
    return onIoFailure(flow, false);
  }
  if (pending(flow) == 0) {
    release(flow);
  }
  return true;
}

// A reset or another error on one side. The client's: nothing more to do. The server's: what
// corral read from it before is still the client's. Returns false when the session closed.
bool Session::onIoFailure(Flow& flow, bool reading) {
  const bool client_side = &(reading ? source(flow) : destination(flow)) == &client_;
  log::proxy()->debug("[C{:x}] {} error: {}", id_, client_side ? "client" : "server",
                      std::strerror(errno));
  if (client_side) {
    close(Termination::ClientError);
    return false;
  }
  flushThenClose();
  return !closing_;
}

// The server reset or failed: stop both reads and the server side, and close once the client has
// taken what it is owed (or the idle timer fires).
void Session::flushThenClose() {
  if (pending(down_) == 0) {
    close(Termination::ServerError);
    return;
  }
  flushing_ = true;
  insert_cookie_ = false; // what is there goes as it is
}

// Once the flow's source has stopped sending and everything it sent is written, stop sending to
// the destination as well.
void Session::passHalfClose(Flow& flow) {
  if (flow.shut || pending(flow) > 0) {
    return;
  }
  // When the destination has finished sending too, close() follows at once and sends the FIN
  // itself: a plain socket skips the shutdown(2), one system call less per connection. TLS still
  // owes its close_notify.
  const Flow& reverse = &flow == &up_ ? down_ : up_;
  if (!(reverse.eof && reverse.shut) || destination(flow).ssl != nullptr) {
    destination(flow).shutWrite();
  }
  flow.shut = true;
  release(flow);
}

// Gives the flow's buffer and pipe back to the worker's pools once they are empty.
void Session::release(Flow& flow) {
  if (flow.buffer != nullptr && flow.buffer->empty()) {
    worker_.buffers().give(flow.buffer);
    flow.buffer = nullptr;
  }
  if (flow.pipe && flow.in_pipe == 0) {
    worker_.pipes().give(flow.pipe);
  }
}

// The session is over: whatever the flow still holds is dropped (a pipe with bytes is closed).
void Session::discard(Flow& flow) {
  worker_.buffers().give(flow.buffer);
  flow.buffer = nullptr;
  if (flow.in_pipe > 0) {
    worker_.pipes().discard(flow.pipe);
  } else {
    worker_.pipes().give(flow.pipe);
  }
}

// splice(2) moves bytes between plain sockets only, and never a response head that is still to
// get its Set-Cookie.
bool Session::spliceAllowed(const Flow& flow) const {
  if (client_.ssl != nullptr || server_.ssl != nullptr) {
    return false;
  }
  return !(&flow == &down_ && insert_cookie_);
}

} // namespace corral::proxy
