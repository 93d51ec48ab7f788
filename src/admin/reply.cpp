#include "reply.h"

#include <string>

#include <event2/buffer.h>
#include <event2/http.h>
#include <nlohmann/json.hpp>

namespace corral::admin {
namespace {

const char* reasonPhrase(HttpStatus status) {
  switch (status) {
  case kOk: return "OK";
  case kAccepted: return "Accepted";
  case kBadRequest: return "Bad Request";
  case kUnauthorized: return "Unauthorized";
  case kNotFound: return "Not Found";
  case kMethodNotAllowed: return "Method Not Allowed";
  case kUnprocessable: return "Unprocessable Content";
  case kInternalError: return "Internal Server Error";
  case kUnavailable: return "Service Unavailable";
  }
  return "Unknown";
}

} // namespace

void sendBody(evhttp_request* request, HttpStatus status, std::string_view content_type,
              std::string_view body) {
  addCommonHeaders(request, content_type);
  evbuffer* buffer = evhttp_request_get_output_buffer(request);
  evbuffer_add(buffer, body.data(), body.size());
  evhttp_send_reply(request, status, reasonPhrase(status), nullptr);
}

HttpStatus statusFor(ErrorCode code) {
  switch (code) {
  case ErrorCode::NotFound: return kNotFound;
  case ErrorCode::BadInput: return kBadRequest;
  case ErrorCode::BadConfig: return kUnprocessable;
  case ErrorCode::Unavailable: return kUnavailable;
  default: return kInternalError;
  }
}

void addCommonHeaders(evhttp_request* request, std::string_view content_type) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", std::string(content_type).c_str());
  // Answers describe live state: a cache must never replay them.
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
}

void sendJson(evhttp_request* request, HttpStatus status, const nlohmann::json& body) {
  // Names come from the configuration and the network; replace bad UTF-8 rather than throw.
  sendBody(request, status, "application/json",
       body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void sendError(evhttp_request* request, HttpStatus status, std::string_view message) {
  sendJson(request, status, {{"error", message}});
}

void sendError(evhttp_request* request, const Error& error) {
  sendError(request, statusFor(error.code), error.message);
}

void sendText(evhttp_request* request, HttpStatus status, std::string_view text) {
  sendBody(request, status, "text/plain; charset=utf-8", text);
}

} // namespace corral::admin
