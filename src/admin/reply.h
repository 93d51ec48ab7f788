#pragma once
// Writing admin API responses: JSON bodies, {"error": "..."} bodies, and the status each Error
// code maps to.

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "corral/core/error.h"

struct evhttp_request;

namespace corral::admin {

enum HttpStatus : int {
  kOk = 200,
  kAccepted = 202,
  kBadRequest = 400,
  kUnauthorized = 401,
  kNotFound = 404,
  kMethodNotAllowed = 405,
  kUnprocessable = 422,
  kInternalError = 500,
  kUnavailable = 503,
};

/// NotFound -> 404, BadInput -> 400, BadConfig -> 422 (the request was fine, the file was not),
/// Unavailable -> 503, anything else -> 500.
HttpStatus statusFor(ErrorCode code);

/// Sets the headers every admin response carries (no CORS: see admin_server.h).
void addCommonHeaders(evhttp_request* request, std::string_view content_type);

void sendJson(evhttp_request* request, HttpStatus status, const nlohmann::json& body);
void sendError(evhttp_request* request, HttpStatus status, std::string_view message);
void sendError(evhttp_request* request, const Error& error);
void sendText(evhttp_request* request, HttpStatus status, std::string_view text);
void sendBody(evhttp_request* request, HttpStatus status, std::string_view content_type,
              std::string_view body);

} // namespace corral::admin
