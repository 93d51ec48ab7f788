#include "corral/protocol/client_hello.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

namespace corral::protocol {
namespace {

constexpr uint8_t kHandshakeRecord = 22;   // RFC 8446 §5.1 ContentType.handshake
constexpr uint8_t kClientHelloType = 1;    // RFC 8446 §4 HandshakeType.client_hello
constexpr size_t kRecordHeaderSize = 5;
constexpr size_t kMaxRecordSize = 16384;   // 2^14, RFC 8446 §5.1
constexpr uint16_t kServerNameExtension = 0;   // RFC 6066 §3
constexpr uint16_t kAlpnExtension = 16;        // RFC 7301 §3.1
constexpr uint8_t kHostNameType = 0;

uint16_t readU16(std::string_view bytes) {
  return static_cast<uint16_t>(static_cast<uint8_t>(bytes[0]) << 8 | static_cast<uint8_t>(bytes[1]));
}

// Reads the TLS presentation language (RFC 8446 §3): integers and length-prefixed vectors. The
// first read past the end fails the reader, and every later read returns nothing.
class Reader {
public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool ok() const { return ok_; }
  bool atEnd() const { return rest_.empty(); }

  std::string_view take(size_t count) {
    if (!ok_ || rest_.size() < count) {
      ok_ = false;
      return {};
    }
    const std::string_view taken = rest_.substr(0, count);
    rest_.remove_prefix(count);
    return taken;
  }
  uint8_t u8() {
    const std::string_view byte = take(1);
    return ok_ ? static_cast<uint8_t>(byte[0]) : 0;
  }
  uint16_t u16() {
    const std::string_view two = take(2);
    return ok_ ? readU16(two) : 0;
  }
  /// A vector with a one- or two-byte length prefix.
  std::string_view vector8() { return take(u8()); }
  std::string_view vector16() { return take(u16()); }

private:
  std::string_view rest_;
  bool ok_ = true;
};

struct Handshake {
  Progress progress = Progress::NeedMore;
  std::string error;
  ParseError code = ParseError::None;
  std::string body; // the ClientHello body, without its 4-byte handshake header
};

Handshake badHandshake(std::string message, ParseError code = ParseError::Malformed) {
  return Handshake{.progress = Progress::Bad, .error = std::move(message), .code = code};
}

// Checks a record header as far as it has arrived, so that non-TLS bytes fail on the first read.
std::string recordHeaderError(std::string_view header) {
  if (!header.empty() && static_cast<uint8_t>(header[0]) != kHandshakeRecord) {
    return "not a TLS handshake record";
  }
  if (header.size() >= 2 && header[1] != 3) {
    return "not TLS 1.x (SSLv2 or garbage)";
  }
  if (header.size() >= kRecordHeaderSize) {
    const size_t length = readU16(header.substr(3));
    if (length == 0 || length > kMaxRecordSize) {
      return fmt::format("TLS record length {} out of range", length);
    }
  }
  return {};
}

// The first handshake message, reassembled from as many records as it spans (RFC 8446 §5.1).
Handshake reassembleHandshake(std::string_view bytes) {
  std::string message;
  while (true) {
    if (auto error = recordHeaderError(bytes.substr(0, kRecordHeaderSize)); !error.empty()) {
      return badHandshake(std::move(error));
    }
    if (bytes.size() < kRecordHeaderSize) {
      return Handshake{};
    }
    const size_t length = readU16(bytes.substr(3));
    message.append(bytes.substr(kRecordHeaderSize, length));
    if (message.size() >= 4) {
      const size_t body_length = static_cast<uint8_t>(message[1]) << 16 | readU16(message.substr(2));
      if (static_cast<uint8_t>(message[0]) != kClientHelloType) {
        return badHandshake("the first handshake message is not a ClientHello");
      }
      if (body_length > kMaxClientHelloSize) {
        return badHandshake(fmt::format("ClientHello of {} bytes is too large", body_length),
                            ParseError::TooLong);
      }
      if (message.size() >= 4 + body_length) {
        return Handshake{.progress = Progress::Done, .body = message.substr(4, body_length)};
      }
    }
    if (bytes.size() < kRecordHeaderSize + length) {
      return Handshake{};
    }
    bytes.remove_prefix(kRecordHeaderSize + length);
  }
}

bool isHostNameChar(char c) { return c > 0x20 && c < 0x7f; }

// RFC 6066 §3: a non-empty list holding at most one host_name; other name types are skipped.
std::optional<std::string> parseServerName(std::string_view data, std::string& error) {
  Reader reader(data);
  Reader list(reader.vector16());
  std::optional<std::string> host_name;
  while (reader.ok() && list.ok() && !list.atEnd()) {
    const uint8_t type = list.u8();
    const std::string_view name = list.vector16();
    if (type == kHostNameType && list.ok()) {
      if (host_name || name.empty() || name.size() > 255 ||
          !std::ranges::all_of(name, isHostNameChar)) {
        error = "bad server_name extension";
        return std::nullopt;
      }
      host_name = std::string(name);
    }
  }
  if (!reader.ok() || !reader.atEnd() || !list.ok() || data.size() <= 2) {
    error = "malformed server_name extension";
  }
  return host_name;
}

// RFC 7301 §3.1: a non-empty list of non-empty protocol names.
std::vector<std::string> parseAlpn(std::string_view data, std::string& error) {
  Reader reader(data);
  Reader list(reader.vector16());
  std::vector<std::string> protocols;
  while (reader.ok() && list.ok() && !list.atEnd()) {
    const std::string_view protocol = list.vector8();
    if (list.ok() && protocol.empty()) {
      error = "empty protocol name in ALPN extension";
      return protocols;
    }
    protocols.emplace_back(protocol);
  }
  if (!reader.ok() || !reader.atEnd() || !list.ok() || protocols.empty()) {
    error = "malformed ALPN extension";
  }
  return protocols;
}

Parsed<ClientHello> parseExtensions(std::string_view extensions) {
  Reader reader(extensions);
  ClientHello hello;
  std::vector<uint16_t> seen;
  std::string error;
  while (reader.ok() && !reader.atEnd() && error.empty()) {
    const uint16_t type = reader.u16();
    const std::string_view data = reader.vector16();
    if (std::ranges::find(seen, type) != seen.end()) {
      return Parsed<ClientHello>::bad(fmt::format("duplicate extension {}", type)); // RFC 8446 §4.2
    }
    seen.push_back(type);
    if (type == kServerNameExtension && reader.ok()) {
      hello.server_name = parseServerName(data, error);
    } else if (type == kAlpnExtension && reader.ok()) {
      hello.alpn = parseAlpn(data, error);
    }
  }
  if (!reader.ok()) {
    error = "malformed extensions";
  }
  return error.empty() ? Parsed<ClientHello>::done(std::move(hello))
                       : Parsed<ClientHello>::bad(std::move(error));
}

// RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2, where extensions may be absent).
Parsed<ClientHello> parseBody(std::string_view body) {
  Reader reader(body);
  reader.take(2 + 32); // legacy_version, random
  const std::string_view session_id = reader.vector8();
  const std::string_view cipher_suites = reader.vector16();
  const std::string_view compression = reader.vector8();
  if (!reader.ok() || session_id.size() > 32 || cipher_suites.size() < 2 ||
      cipher_suites.size() % 2 != 0 || compression.empty()) {
    return Parsed<ClientHello>::bad("malformed ClientHello");
  }
  if (reader.atEnd()) {
    return Parsed<ClientHello>::done(ClientHello{});
  }
  const std::string_view extensions = reader.vector16();
  if (!reader.ok() || !reader.atEnd()) {
    return Parsed<ClientHello>::bad("malformed ClientHello extensions");
  }
  return parseExtensions(extensions);
}

} // namespace

Parsed<ClientHello> parseClientHello(std::string_view bytes) {
  Handshake handshake = reassembleHandshake(bytes);
  switch (handshake.progress) {
  case Progress::NeedMore:
    return Parsed<ClientHello>::needMore();
  case Progress::Bad:
    return Parsed<ClientHello>::bad(std::move(handshake.error), handshake.code);
  case Progress::Done:
    break;
  }
  return parseBody(handshake.body);
}

} // namespace corral::protocol
