#include "tls/ticket_key_ring.h"

#include <cstdlib>
#include <cstring>

#include <openssl/rand.h>

#include "corral/core/log.h"

namespace corral::tls {
namespace {

TicketKey newKey(TicketKeyRing::Clock::time_point now) {
  TicketKey key;
  key.created = now;
  if (RAND_bytes(key.name.data(), key.name.size()) != 1 ||
      RAND_bytes(key.aes_key.data(), key.aes_key.size()) != 1 ||
      RAND_bytes(key.hmac_key.data(), key.hmac_key.size()) != 1) {
    // A CSPRNG that fails after startup is a broken environment, not bad input (STYLE.md §5).
    log::proxy()->critical("RAND_bytes failed while making a TLS session ticket key");
    std::abort();
  }
  return key;
}

} // namespace

const TicketKey* TicketKeySet::find(const unsigned char* name) const {
  if (std::memcmp(name, current.name.data(), current.name.size()) == 0) {
    return &current;
  }
  if (previous && std::memcmp(name, previous->name.data(), previous->name.size()) == 0) {
    return &*previous;
  }
  return nullptr;
}

TicketKeyRing::TicketKeyRing(Clock::duration interval, Clock::time_point now)
    : interval_(interval),
      keys_(std::make_shared<const TicketKeySet>(TicketKeySet{.current = newKey(now)})) {}

std::shared_ptr<const TicketKeySet> TicketKeyRing::keysAt(Clock::time_point now) {
  auto keys = keys_.load();
  while (now - keys->current.created >= interval_) {
    const bool keep_previous = now - keys->current.created < 2 * interval_;
    auto next = std::make_shared<const TicketKeySet>(TicketKeySet{
        .current = newKey(now),
        .previous = keep_previous ? std::optional(keys->current) : std::nullopt});
    // Two threads may find the key due at once: one swap wins, the loser reloads the winner's.
    if (keys_.compare_exchange_strong(keys, next)) {
      return next;
    }
  }
  return keys;
}

void TicketKeyRing::rotate(Clock::time_point now) {
  auto keys = keys_.load();
  std::shared_ptr<const TicketKeySet> next;
  do {
    next = std::make_shared<const TicketKeySet>(
        TicketKeySet{.current = newKey(now), .previous = keys->current});
  } while (!keys_.compare_exchange_weak(keys, next));
}

} // namespace corral::tls
