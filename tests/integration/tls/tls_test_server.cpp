#include "tests/integration/tls/tls_test_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "tests/support/wait.h"

namespace corral::test {
namespace {

constexpr timeval kIoTimeout{.tv_sec = 5, .tv_usec = 0}; // the test's handshake timeout

// Reads the request head so that closing afterwards does not reset the connection under curl.
void readRequestHead(SSL* ssl) {
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
    const int n = SSL_read(ssl, buffer, sizeof buffer);
    if (n <= 0) {
      return;
    }
    head.append(buffer, static_cast<size_t>(n));
  }
}

} // namespace

std::string describeHandshake(const tls::HandshakeInfo& info) {
  return fmt::format("sni={} alpn={} version={} resumed={}", info.server_name, info.alpn,
                     info.version, info.resumed ? 1 : 0);
}

TlsTestServer::TlsTestServer(std::shared_ptr<tls::ServerContext> context)
    : context_(std::move(context)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t length = sizeof address;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throwSystemError("listen on 127.0.0.1:0");
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { serve(); });
}

TlsTestServer::~TlsTestServer() {
  shutdown(listen_fd_, SHUT_RDWR); // wakes accept() with an error
  thread_.join();
  close(listen_fd_);
}

void TlsTestServer::serve() {
  for (;;) {
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      return;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &kIoTimeout, sizeof kIoTimeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &kIoTimeout, sizeof kIoTimeout);
    handle(fd);
    close(fd);
  }
}

void TlsTestServer::handle(int fd) {
  SSL* ssl = context_->newSsl();
  SSL_set_fd(ssl, fd);
  HandshakeOutcome outcome;
  if (SSL_accept(ssl) == 1) {
    outcome.info = tls::handshakeInfo(ssl);
    readRequestHead(ssl);
    const std::string body = describeHandshake(*outcome.info);
    const std::string response = fmt::format(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.size(), body);
    SSL_write(ssl, response.data(), static_cast<int>(response.size()));
    SSL_shutdown(ssl); // close_notify, then close: the client reads a clean end
  } else {
    outcome.failure = tls::handshakeFailureFromQueue();
  }
  SSL_free(ssl);
  std::lock_guard lock(mutex_);
  outcomes_.push_back(std::move(outcome));
  changed_.notify_all();
}

HandshakeOutcome TlsTestServer::outcome(size_t index) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, std::chrono::seconds(5), [&] { return outcomes_.size() > index; })) {
    throw std::runtime_error(fmt::format("no handshake #{} within 5 s", index));
  }
  return outcomes_[index];
}

} // namespace corral::test
