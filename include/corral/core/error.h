#pragma once
// One error type for the whole program (STYLE.md §5): the low level says what went wrong, the
// caller adds where. Exceptions never cross libevent callbacks, so errors travel as values.

#include <expected>
#include <string>
#include <utility>

namespace corral {

enum class ErrorCode {
  BadInput,       // a value that does not parse (duration, size, address, header)
  BadConfig,      // a configuration that parses but cannot run
  NotFound,       // a named thing (file, backend, server) does not exist
  Io,             // a system call failed
  ConnectRefused, // the server actively refused
  ConnectTimeout, // the server did not answer within connect_timeout
  TlsHandshake,
  Unavailable,    // no server is up
};

/// Who caused an error: decides whose connection closes and which counter moves.
enum class Side { Client, Server, Local };

struct Error {
  ErrorCode code = ErrorCode::BadInput;
  Side side = Side::Local;
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

/// `return fail(ErrorCode::BadInput, "expected ...");` from a function returning Result<T>.
inline std::unexpected<Error> fail(ErrorCode code, std::string message, Side side = Side::Local) {
  return std::unexpected(Error{.code = code, .side = side, .message = std::move(message)});
}

} // namespace corral
