#pragma once
// A one-connection HTTP server that answers `Expect: 100-continue` the way RFC 9110 §10.1.1
// describes: it reads the request head, sends an interim "100 Continue", reads the body, then
// sends the final "200 OK" echoing the body and closes. With `together` it waits for the whole
// request first and sends both heads in one write, so the client's proxy sees them in one read.

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace corral::test {

class ContinueServer {
public:
  explicit ContinueServer(bool together);
  ~ContinueServer();
  ContinueServer(const ContinueServer&) = delete;
  ContinueServer& operator=(const ContinueServer&) = delete;

  /// "127.0.0.1:PORT".
  const std::string& address() const { return address_; }
  /// Every byte of the request as it arrived, once the server has answered; "" before.
  std::string received() const;

private:
  void serve();

  bool together_;
  int listener_ = -1;
  std::string address_;
  mutable std::mutex mutex_;
  std::string received_;
  std::atomic<bool> stop_ = false;
  std::thread thread_;
};

} // namespace corral::test
