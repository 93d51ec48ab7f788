#include "tests/integration/edge/edge_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tests/support/tcp_client.h"

namespace corral::test {
namespace {

SSL* asSsl(void* ssl) { return static_cast<SSL*>(ssl); }

std::string openSslError() {
  std::array<char, 256> text{};
  ERR_error_string_n(ERR_get_error(), text.data(), text.size());
  ERR_clear_error();
  return text.data();
}

sockaddr_in ipv4(const std::string& ip, uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  return address;
}

void setTimeouts(int fd, std::chrono::milliseconds timeout) {
  const timeval tv{static_cast<time_t>(timeout.count() / 1000),
                   static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

} // namespace

EdgeCertificates::EdgeCertificates() {
  const auto year = std::chrono::hours(24 * 365);
  a = folder.issue({.file_stem = "a",
                    .dns_names = {"a.example.com"},
                    .common_name = "edge-a",
                    .valid_until = year});
  b = folder.issue({.file_stem = "b",
                    .dns_names = {"b.example.com", "*.b.example.com"},
                    .common_name = "edge-b",
                    .valid_until = year});
  backend = folder.issue({.file_stem = "backend",
                          .dns_names = {"backend.internal"},
                          .common_name = "edge-backend",
                          .valid_until = year});
}

const EdgeCertificates& edgeCertificates() {
  static const EdgeCertificates made;
  return made;
}

const std::string& caFile() { return edgeCertificates().folder.caFile(); }

Substitutions certificateSubstitutions() {
  const EdgeCertificates& c = edgeCertificates();
  return {{"a_cert", c.a.cert}, {"a_key", c.a.key},
          {"b_cert", c.b.cert}, {"b_key", c.b.key},
          {"backend_cert", c.backend.cert}, {"backend_key", c.backend.key},
          {"ca", caFile()}};
}

CommandResult sClient(const std::string& address, const std::string& server_name,
                      const std::vector<std::string>& extra, const std::string& request) {
  std::vector<std::string> argv = {"openssl", "s_client", "-connect", address,
                                   "-servername", server_name, "-verify_hostname", server_name,
                                   "-CAfile", caFile(), "-ign_eof"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return runCommand(argv, {.input = request, .timeout = 15s, .merge_output = true});
}

CommandResult curl(const std::string& server_name, const std::string& port,
                   const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10", "--cacert", caFile(),
                                   "--resolve", fmt::format("{}:{}:127.0.0.1", server_name, port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(fmt::format("https://{}:{}/", server_name, port));
  return runCommand(argv, {.timeout = 15s, .merge_output = true});
}

int connectFrom(const std::string& source_ip, const std::string& address,
                std::chrono::milliseconds timeout) {
  const size_t colon = address.rfind(':');
  const auto port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setTimeouts(fd, timeout);
  const sockaddr_in source = ipv4(source_ip, 0);
  const sockaddr_in target = ipv4(address.substr(0, colon), port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof(source)) != 0 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof(target)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string exchangeFrom(const std::string& source_ip, const std::string& address,
                         std::string_view request) {
  const int fd = connectFrom(source_ip, address);
  if (fd < 0) {
    return "connect failed";
  }
  std::string reply;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    ::shutdown(fd, SHUT_WR);
    std::array<char, 4096> buffer{};
    for (int reads = 0; reads < 1000; ++reads) { // bounded; each read waits at most the timeout
      const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (n <= 0) {
        break;
      }
      reply.append(buffer.data(), static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return reply;
}

TlsClient::TlsClient(const std::string& address, const std::string& server_name,
                     const std::string& ca_file, std::chrono::milliseconds timeout) {
  fd_ = connectFrom("127.0.0.1", address, timeout);
  if (fd_ < 0) {
    error_ = "connect failed";
    return;
  }
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  context_ = context;
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_load_verify_locations(context, ca_file.c_str(), nullptr);
  SSL* ssl = SSL_new(context);
  SSL_set_tlsext_host_name(ssl, server_name.c_str());
  SSL_set1_host(ssl, server_name.c_str());
  SSL_set_fd(ssl, fd_);
  if (SSL_connect(ssl) != 1) {
    error_ = fmt::format("handshake failed: {}", openSslError());
    SSL_free(ssl);
    return;
  }
  ssl_ = ssl;
}

TlsClient::~TlsClient() {
  if (ssl_ != nullptr) {
    SSL_free(asSsl(ssl_));
  }
  SSL_CTX_free(static_cast<SSL_CTX*>(context_));
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::string TlsClient::peerCommonName() const {
  X509* peer = SSL_get1_peer_certificate(asSsl(ssl_));
  if (peer == nullptr) {
    return {};
  }
  std::array<char, 256> name{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name.data(),
                            static_cast<int>(name.size()));
  X509_free(peer);
  return name.data();
}

bool TlsClient::writeAll(std::string_view data) {
  size_t written = 0;
  while (written < data.size()) {
    size_t n = 0;
    if (SSL_write_ex(asSsl(ssl_), data.data() + written, data.size() - written, &n) != 1) {
      error_ = fmt::format("write failed: {}", openSslError());
      return false;
    }
    written += n;
  }
  return true;
}

bool TlsClient::writePattern(uint64_t seed, uint64_t size) {
  PatternStream pattern(seed);
  std::vector<char> chunk(256 * 1024);
  for (uint64_t left = size; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    pattern.fill(std::span(chunk.data(), n));
    if (!writeAll(std::string_view(chunk.data(), n))) {
      return false;
    }
    left -= n;
  }
  return true;
}

void TlsClient::shutdownWrite() {
  SSL_shutdown(asSsl(ssl_));
  ::shutdown(fd_, SHUT_WR);
}

std::string TlsClient::readAll() {
  std::string received;
  std::array<char, 16384> buffer{};
  size_t n = 0;
  while (SSL_read_ex(asSsl(ssl_), buffer.data(), buffer.size(), &n) == 1) {
    received.append(buffer.data(), n);
  }
  ERR_clear_error();
  return received;
}

Digest TlsClient::readDigest(uint64_t limit) {
  Digest digest;
  std::vector<char> buffer(64 * 1024);
  size_t n = 0;
  while (digest.count < limit &&
         SSL_read_ex(asSsl(ssl_), buffer.data(),
                     static_cast<size_t>(std::min<uint64_t>(buffer.size(), limit - digest.count)),
                     &n) == 1) {
    digest.update(std::span(buffer.data(), n));
  }
  ERR_clear_error();
  return digest;
}

void TlsClient::resetAbruptly() {
  const linger abort{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  ::close(fd_);
  fd_ = -1;
}

double metricValue(const std::string& exposition, std::string_view name,
                   const std::map<std::string, std::string>& labels) {
  std::istringstream lines(exposition);
  std::string line;
  double total = -1;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != '{') {
      continue;
    }
    bool all = true;
    for (const auto& [key, value] : labels) {
      all = all && line.find(fmt::format("{}=\"{}\"", key, value)) != std::string::npos;
    }
    if (all) {
      total = std::max(total, 0.0) + std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return total;
}

double scrape(const CorralProcess& corral, std::string_view name,
              const std::map<std::string, std::string>& labels) {
  return metricValue(httpGet(corral.readyValue("metrics"), "/metrics").raw, name, labels);
}

} // namespace corral::test
