// Sticky cookie mode: the only place where corral looks inside the bytes it relays. It reads the
// first request head (bounded by max_header_size and header_timeout), routes by the cookie, and
// inserts a fresh Set-Cookie into the first final response head when the client needs one. After
// that first exchange the connection is relayed as plain bytes.

#include <event2/event.h>

#include <chrono>
#include <cstring>

#include "corral/core/log.h"
#include "corral/protocol/cookie.h"
#include "corral/protocol/http_request_head.h"
#include "corral/protocol/http_response_head.h"
#include "session.h"
#include "session_internal.h"
#include "worker.h"

namespace corral::proxy {
namespace {

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

// The head is read into the client→server buffer, which holds max_header_size at most (config/
// bounds it by the buffer's size).
void Session::readRequestHead() {
  const size_t max = std::min<size_t>(backend_->config->sticky_cookie.max_header_size,
                                      Buffer::kCapacity);
  const auto head = protocol::parseRequestHead(preambleBytes(max), max, requestHeadHeader());
  if (head.needsMore() && !up_.eof) {
    return; // the header timer bounds the wait
  }
  // Too long is only what the parser rejected for its length: closed, never relayed (the parser
  // reads up to 80 KiB and config/ caps max_header_size at 64 KiB, so every limit is honoured).
  // Anything else it rejected is not HTTP/1.x and is relayed unchanged below.
  if (head.isBad() && head.code == protocol::ParseError::TooLong) {
    log::proxy()->debug("[C{:x}] request head longer than max_header_size ({} bytes)", id_, max);
    frontendCells().rejected[rejectIndex(runtime::RejectReason::BadRequest)].add();
    close(Termination::BadRequest);
    return;
  }
  phase_ = Phase::Relay;
  traffic_ = head.isDone() ? Traffic::Http : Traffic::Unknown; // Unknown: tunnel once answered
  event_del(&timer_);
  armIdleTimer();
  const bool hash = backend_->config->balance == config::Balance::Hash;
  if (head.isDone()) {
    if (hash) {
      placeByKey(requestKey(backend_->config->hash, head.value));
    } else {
      routeByCookie(head.value.header_values);
    }
    return;
  }
  if (hash) {
    placeByKey(std::nullopt);
    return;
  }
  // Not HTTP/1.x (or the client stopped sending mid-head): placed like any L4 client and relayed
  // unchanged, with no cookie to insert.
  const auto miss = static_cast<size_t>(runtime::StickyResult::Miss);
  backend_->stats->cells.at(worker_.id()).sticky[miss].add();
  connectServer();
}

void Session::routeByCookie(std::span<const std::string_view> cookie_headers) {
  const auto& sticky = backend_->config->sticky_cookie;
  const auto value = protocol::findCookie(cookie_headers, sticky.name);
  if (!value) {
    placeWithoutCookie(runtime::StickyResult::Miss);
    return;
  }
  const auto server_id = backend_->cookie_signer->verify(backend_->config->name, *value, unixNow());
  if (!server_id) {
    placeWithoutCookie(runtime::StickyResult::Rejected); // forged, expired or another backend's
    return;
  }
  for (size_t i = 0; i < backend_->servers.size(); ++i) {
    if (backend_->servers[i].name == *server_id &&
        backend_->servers[i].stats->acceptsSticky(runtime::steadyMs())) {
      sticky_target_ = i;
      chosen_by_ = ChosenBy::Cookie;
      const auto hit = static_cast<size_t>(runtime::StickyResult::Hit);
      backend_->stats->cells.at(worker_.id()).sticky[hit].add();
      connectServer();
      return;
    }
  }
  // Signed by us, for a server that is down, disabled or gone: place anew and re-issue.
  placeWithoutCookie(runtime::StickyResult::Redispatch);
}

void Session::placeWithoutCookie(runtime::StickyResult result) {
  backend_->stats->cells.at(worker_.id()).sticky[static_cast<size_t>(result)].add();
  if (result == runtime::StickyResult::Redispatch) {
    chosen_by_ = ChosenBy::Redispatch;
  }
  insert_cookie_ = true;
  connectServer();
}

std::string Session::setCookieHeader() const {
  const auto& sticky = backend_->config->sticky_cookie;
  const auto max_age = std::chrono::duration_cast<std::chrono::seconds>(sticky.max_age);
  const std::string value = backend_->cookie_signer->issue(
      backend_->config->name, server_choice_->name, unixNow() + max_age.count());
  return protocol::formatSetCookie(
      {.name = sticky.name, .value = value, .max_age = max_age, .secure = frontend_.tls != nullptr});
}

// Passes interim (1xx) heads through and puts the Set-Cookie into the first final head, in place
// in the server→client buffer: the bytes before cookie_scan_ are done and may go to the client.
// A head that is not HTTP, too long, or cut short is relayed as it is: the client simply gets no
// cookie.
void Session::insertCookie() {
  Buffer& buffer = *down_.buffer;
  while (insert_cookie_) {
    char* head_start = buffer.data() + cookie_scan_;
    const size_t unread = buffer.size() - cookie_scan_;
    const size_t limit = Buffer::kCapacity - kCookieRoom;
    const auto head = protocol::insertSetCookie(std::string_view(head_start, std::min(unread, limit)),
                                                setCookieHeader(), limit);
    if (head.needsMore() && !down_.eof && readLimit(down_) > 0) {
      return;
    }
    const std::string& bytes = head.value.bytes;
    if (!head.isDone() || bytes.size() - head.value.consumed > buffer.room()) {
      insert_cookie_ = false;
      break;
    }
    std::memmove(head_start + bytes.size(), head_start + head.value.consumed,
                 unread - head.value.consumed);
    std::memcpy(head_start, bytes.data(), bytes.size());
    buffer.commit(bytes.size() - head.value.consumed);
    cookie_scan_ += static_cast<uint32_t>(bytes.size());
    insert_cookie_ = !head.value.final;
  }
  cookie_scan_ = 0;
}

} // namespace corral::proxy
