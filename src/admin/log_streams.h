#pragma once
// `GET /api/v1/logs/BACKEND/N?follow=1`: chunked responses that stay open and carry each new
// output line of a spawned instance, like `tail -f`, until the client goes away.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "corral/admin/control.h"

struct evhttp_connection;
struct evhttp_request;

namespace corral::admin {

class LogStreams {
public:
  explicit LogStreams(Control& control) : control_(control) {}
  /// Unfollows and ends every open stream with the last chunk.
  ~LogStreams();
  LogStreams(const LogStreams&) = delete;
  LogStreams& operator=(const LogStreams&) = delete;

  /// Answers with 200, text/plain, chunked: the lines captured so far, then each new one. An
  /// unknown backend or instance is answered with the Control's error instead.
  void start(evhttp_request* request, std::string_view backend, int instance);
  size_t size() const { return streams_.size(); }

private:
  struct Stream {
    LogStreams* owner = nullptr;
    evhttp_request* request = nullptr;
    evhttp_connection* connection = nullptr;
    uint64_t follow_id = 0;
    uint64_t dropped = 0; // lines skipped while the client did not read
  };

  void sendLine(Stream& stream, std::string_view line);
  /// evhttp calls this when the client closes or times out; the request is then ours to free.
  static void onClose(evhttp_connection* connection, void* stream) noexcept;
  void endClosed(Stream* stream);

  Control& control_;
  std::unordered_map<Stream*, std::unique_ptr<Stream>> streams_;
};

} // namespace corral::admin
