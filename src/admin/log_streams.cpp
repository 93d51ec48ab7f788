#include "log_streams.h"

#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "corral/core/log.h"
#include "reply.h"

namespace corral::admin {
namespace {

// A follower that stops reading must not grow our memory without bound: past this much unsent
// output, new lines are dropped (and counted) until the client catches up.
constexpr size_t kMaxUnsentBytes = 1 << 20;
// A client that reads nothing for this long while output waits is gone; evhttp then closes it.
constexpr timeval kWriteTimeout = {.tv_sec = 30, .tv_usec = 0};

} // namespace

LogStreams::~LogStreams() {
  for (auto& [key, stream] : streams_) {
    control_.unfollowLogs(stream->follow_id);
    evhttp_connection_set_closecb(stream->connection, nullptr, nullptr);
    evhttp_send_reply_end(stream->request);
  }
}

void LogStreams::start(evhttp_request* request, std::string_view backend, int instance) {
  auto lines = control_.logs(backend, instance);
  if (!lines) {
    sendError(request, lines.error());
    return;
  }
  auto stream = std::make_unique<Stream>();
  stream->owner = this;
  stream->request = request;
  stream->connection = evhttp_request_get_connection(request);
  addCommonHeaders(request, "text/plain; charset=utf-8");
  evhttp_send_reply_start(request, kOk, "OK");
  for (const auto& line : *lines) {
    sendLine(*stream, line);
  }
  Stream* raw = stream.get();
  auto id = control_.followLogs(backend, instance,
                                [raw](std::string_view line) { raw->owner->sendLine(*raw, line); });
  if (!id) { // the instance went away between the two calls
    evhttp_send_reply_end(request);
    return;
  }
  raw->follow_id = *id;
  evhttp_connection_set_closecb(raw->connection, &LogStreams::onClose, raw);
  // The request is read; a follower sends nothing more, so only a stalled write means it is gone.
  bufferevent_set_timeouts(evhttp_connection_get_bufferevent(raw->connection), nullptr,
                           &kWriteTimeout);
  streams_.emplace(raw, std::move(stream));
}

void LogStreams::sendLine(Stream& stream, std::string_view line) {
  evbuffer* unsent = bufferevent_get_output(evhttp_connection_get_bufferevent(stream.connection));
  if (evbuffer_get_length(unsent) > kMaxUnsentBytes) {
    if (stream.dropped++ == 0) {
      log::admin()->warn("a logs --follow client is not reading; dropping lines until it does");
    }
    return;
  }
  stream.dropped = 0;
  evbuffer* chunk = evbuffer_new();
  evbuffer_add(chunk, line.data(), line.size());
  evbuffer_add(chunk, "\n", 1);
  evhttp_send_reply_chunk(stream.request, chunk);
  evbuffer_free(chunk);
}

void LogStreams::onClose(evhttp_connection*, void* stream) noexcept {
  auto* closed = static_cast<Stream*>(stream);
  closed->owner->endClosed(closed);
}

void LogStreams::endClosed(Stream* stream) {
  control_.unfollowLogs(stream->follow_id);
  // evhttp detached the unfinished request from the dying connection (http.c,
  // evhttp_connection_incoming_fail) and leaves freeing it to us; reply_end does that.
  if (evhttp_request_get_connection(stream->request) == nullptr) {
    evhttp_send_reply_end(stream->request);
  }
  streams_.erase(stream);
}

} // namespace corral::admin
