#pragma once
// Session ticket keys (RFC 5077 §4 "recommended ticket construction") shared by every worker
// thread of a frontend: the current key encrypts new tickets; the previous one still decrypts
// tickets issued before the last rotation, so a rotation does not force every client into a full
// handshake at once. Keys live only in memory: a restart invalidates all tickets, as it should.

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

namespace corral::tls {

struct TicketKey {
  std::array<unsigned char, 16> name{}; // sent in the clear in each ticket, picks the key back
  std::array<unsigned char, 32> aes_key{};
  std::array<unsigned char, 32> hmac_key{};
  std::chrono::steady_clock::time_point created;
};

/// One immutable generation of keys.
struct TicketKeySet {
  TicketKey current;
  std::optional<TicketKey> previous;

  /// The key that issued a ticket named `name`, or nullptr when it was rotated away.
  const TicketKey* find(const unsigned char* name) const;
};

/// Readers (the OpenSSL ticket callback, on any worker thread) load the current generation with
/// one atomic shared_ptr load and never block on each other; a rotation publishes a whole new
/// generation with compare-and-swap, so a reader never sees a half-written key, and a reader that
/// still holds the old generation keeps it alive until it is done. Writers are rare (one rotation
/// per interval), so the spin of libstdc++'s atomic<shared_ptr> lock bit is never contended for
/// long; a std::shared_mutex would make every handshake of every thread write the same lock word.
class TicketKeyRing {
public:
  using Clock = std::chrono::steady_clock;

  /// Keys are rotated once `interval` has passed; a ticket is decryptable for at most 2 intervals.
  explicit TicketKeyRing(Clock::duration interval, Clock::time_point now = Clock::now());

  /// The keys to use at `now`, after rotating them if the current key is `interval` old. When the
  /// current key is already two intervals old (no handshake for that long), both are replaced.
  std::shared_ptr<const TicketKeySet> keysAt(Clock::time_point now);

  /// Makes a new current key at once; the current one becomes the previous.
  void rotate(Clock::time_point now = Clock::now());

  Clock::duration interval() const { return interval_; }

private:
  const Clock::duration interval_;
  std::atomic<std::shared_ptr<const TicketKeySet>> keys_;
};

} // namespace corral::tls
