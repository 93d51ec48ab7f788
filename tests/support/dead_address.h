#pragma once
// Addresses of servers that are down, in the two ways a server can be down.
//
// RefusingAddress: a socket bound to 127.0.0.1:PORT that never listens. A connect to it is
// answered at once with RST (ECONNREFUSED). Keeping the socket bound, rather than closing it,
// stops anything else on the machine from taking the port while the test runs.
//
// UnresponsiveAddress: a connect that neither succeeds nor fails until the caller gives up, as
// with a host that drops packets. Loopback never drops packets, but Linux drops a SYN that
// arrives while the listener's accept queue is full (tcp_conn_request: "LISTENOVERFLOWS"), and
// the client retransmits it after 1 s, 3 s, ... So: listen with backlog 0 (a queue of one),
// fill the queue with one connection that is never accepted, and every later connect hangs.

#include <string>

namespace corral::test {

class RefusingAddress {
public:
  RefusingAddress();
  ~RefusingAddress();
  RefusingAddress(const RefusingAddress&) = delete;
  RefusingAddress& operator=(const RefusingAddress&) = delete;

  const std::string& address() const { return address_; }

private:
  int fd_ = -1;
  std::string address_;
};

class UnresponsiveAddress {
public:
  UnresponsiveAddress();
  ~UnresponsiveAddress();
  UnresponsiveAddress(const UnresponsiveAddress&) = delete;
  UnresponsiveAddress& operator=(const UnresponsiveAddress&) = delete;

  const std::string& address() const { return address_; }

private:
  int listener_ = -1;
  int filler_ = -1; // the one connection that fills the accept queue
  std::string address_;
};

} // namespace corral::test
