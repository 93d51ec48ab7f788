// balance: hash end to end (issue 16): the real corral binary, fake servers that hold connections
// open, and the access log to see where each connection went. Every key source, on plain TCP, on a
// TLS-terminated frontend and (sni) on a passthrough one; the fallback for connections without
// the key; `ctl route --key` (the admin API) against the next connection; two corral processes
// agreeing on 10,000 keys; bounded loads under Zipf keys.

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/edge/edge_support.h"
#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

// One backend per key source over the same four servers, each behind its own frontend; workers: 1
// so the access log lists connections in the order they closed.
constexpr std::string_view kConfig = R"(
workers: 1
admin: {listen: "127.0.0.1:0"}
frontends:
  - {name: header, listen: "127.0.0.1:0", backend: by_header}
  - {name: cookie, listen: "127.0.0.1:0", backend: by_cookie}
  - {name: query, listen: "127.0.0.1:0", backend: by_query}
  - {name: path, listen: "127.0.0.1:0", backend: by_path}
  - {name: client_ip, listen: "127.0.0.1:0", backend: by_client_ip}
  - name: tls
    listen: "127.0.0.1:0"
    backend: by_header
    tls: {certificates: [{cert: "${a_cert}", key: "${a_key}"}]}
  - name: pass
    listen: "127.0.0.1:0"
    tls_passthrough: {default_backend: by_sni}
backends:
  - {name: by_header, balance: hash, hash: {key: "header:X-Tenant"}, servers: &servers [
       {address: "${s0}", name: s0}, {address: "${s1}", name: s1},
       {address: "${s2}", name: s2}, {address: "${s3}", name: s3}]}
  - {name: by_cookie, balance: hash, hash: {key: "cookie:tenant"}, servers: *servers}
  - {name: by_query, balance: hash, hash: {key: "query:room", fallback: ip_hash}, servers: *servers}
  - {name: by_path, balance: hash, hash: {key: "path:2"}, servers: *servers}
  - {name: by_client_ip, balance: hash, hash: {key: client_ip}, servers: *servers}
  - {name: by_sni, balance: hash, hash: {key: sni}, servers: *servers}
)";

// A ClientHello asking for `server_name`, made by OpenSSL over memory BIOs: a passthrough
// frontend routes on it, and the silent server never answers it.
std::string clientHello(const std::string& server_name) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(context);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  if (!server_name.empty()) {
    SSL_set_tlsext_host_name(ssl, server_name.c_str());
  }
  SSL_connect(ssl); // wants to read the ServerHello: the hello is in `out`
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<size_t>(size));
  SSL_free(ssl);
  SSL_CTX_free(context);
  return hello;
}

// One GET after another on a keep-alive connection: the admin API, 10,000 times without 10,000
// connections.
class KeepAliveClient {
public:
  explicit KeepAliveClient(const std::string& address) : client_(address) {}
  std::string get(const std::string& target) {
    if (!client_.writeAll(fmt::format("GET {} HTTP/1.1\r\nHost: corral\r\n\r\n", target))) {
      return "";
    }
    while (true) {
      const size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t length_at = pending_.find("Content-Length: ");
        const size_t length = std::stoul(pending_.substr(length_at + 16));
        if (pending_.size() >= end + 4 + length) {
          std::string body = pending_.substr(end + 4, length);
          pending_.erase(0, end + 4 + length);
          return body;
        }
      }
      const std::string more = client_.readSome(5s);
      if (more.empty()) {
        return "";
      }
      pending_ += more;
    }
  }

private:
  TcpClient client_;
  std::string pending_;
};

class HashTest : public ::testing::Test {
protected:
  void SetUp() override {
    Substitutions substitutions = addressesOf({s0_, s1_, s2_, s3_});
    for (const auto& [name, value] : certificateSubstitutions()) {
      substitutions[name] = value;
    }
    corral_ = std::make_unique<CorralProcess>(kConfig, substitutions);
    ASSERT_TRUE(corral_->ready());
    const auto ready = nlohmann::json::parse(
        readFile(corral_->configPath().parent_path() / "ready.json"), nullptr, false);
    admin_ = std::make_unique<KeepAliveClient>(ready.value("admin", ""));
  }

  static std::string readFile(const std::filesystem::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // Sends `bytes` on a new connection to `frontend`, half-closes and waits for corral to close:
  // the server is silent, so the session ends when it sees the FIN. Returns its access log line.
  nlohmann::json exchange(const std::string& frontend, const std::string& bytes) {
    TcpClient client(corral_->listenAddress(frontend));
    EXPECT_TRUE(client.writeAll(bytes));
    client.shutdownWrite();
    client.readAll(5s);
    return nextLogLine();
  }

  nlohmann::json exchangeTls(const std::string& request) {
    TlsClient client(corral_->listenAddress("tls"), "a.example.com", caFile());
    EXPECT_TRUE(client.ok()) << client.error();
    EXPECT_TRUE(client.writeAll(request));
    client.shutdownWrite();
    client.readAll();
    return nextLogLine();
  }

  nlohmann::json nextLogLine() {
    const auto log = corral_->waitForAccessLog(++logged_, 5s);
    return log.size() >= logged_ ? log[logged_ - 1] : nlohmann::json();
  }

  // What the admin API says the next connection to `backend` carrying `key` gets.
  std::string route(const std::string& backend, const std::string& key,
                    KeepAliveClient* admin = nullptr) {
    const auto body = (admin ? admin : admin_.get())
                          ->get(fmt::format("/api/v1/route?backend={}&client=127.0.0.1&key={}",
                                            backend, key));
    return nlohmann::json::parse(body, nullptr, false).value("server", "");
  }

  static std::string request(const std::string& target, const std::string& fields = "") {
    return fmt::format("GET {} HTTP/1.1\r\nHost: app\r\n{}\r\n", target, fields);
  }

  FakeBackend s0_{"s0", {.mode = BackendMode::Silent}};
  FakeBackend s1_{"s1", {.mode = BackendMode::Silent}};
  FakeBackend s2_{"s2", {.mode = BackendMode::Silent}};
  FakeBackend s3_{"s3", {.mode = BackendMode::Silent}};
  std::unique_ptr<CorralProcess> corral_;
  std::unique_ptr<KeepAliveClient> admin_;
  size_t logged_ = 0;
};

struct Source {
  std::string frontend;
  std::string backend;
  std::string (*request)(const std::string& key, int variant); // variant: noise beside the key
  std::string (*key_value)(const std::string& key);            // as `ctl route --key` takes it
};

std::string same(const std::string& key) { return key; }

const Source kSources[] = {
    {"header", "by_header",
     [](const std::string& key, int v) {
       return fmt::format("GET /p{} HTTP/1.1\r\nHost: app\r\nX-Tenant: {}\r\n\r\n", v, key);
     },
     same},
    {"cookie", "by_cookie",
     [](const std::string& key, int v) {
       return fmt::format("GET / HTTP/1.1\r\nCookie: a={}; tenant={}; z=1\r\n\r\n", v, key);
     },
     same},
    {"query", "by_query",
     [](const std::string& key, int v) {
       return fmt::format("GET /socket/?v={}&room={}&x=1 HTTP/1.1\r\n\r\n", v, key);
     },
     same},
    {"path", "by_path",
     [](const std::string& key, int v) {
       return fmt::format("GET /t/{}/page/{}?q HTTP/1.1\r\n\r\n", key, v);
     },
     [](const std::string& key) { return "/t/" + key; }},
};

// Twenty keys, three connections each with different noise: every connection of a key reaches
// the server `ctl route --key` names, by hash, and the keys use every server.
TEST_F(HashTest, EachHttpSourceSendsAKeyToTheServerCtlRouteNames) {
  for (const Source& source : kSources) {
    std::map<std::string, int> per_server;
    for (int k = 0; k < 20; ++k) {
      const std::string key = fmt::format("tenant-{}", k);
      const std::string expected = route(source.backend, source.key_value(key));
      ASSERT_FALSE(expected.empty()) << source.backend;
      for (int variant = 0; variant < 3; ++variant) {
        const auto line = exchange(source.frontend, source.request(key, variant));
        EXPECT_EQ(line.value("server", ""), expected) << source.frontend << " " << key;
        EXPECT_EQ(line.value("chosen_by", ""), "hash") << source.frontend;
      }
      ++per_server[expected];
    }
    EXPECT_EQ(per_server.size(), 4u) << source.frontend;
  }
}

TEST_F(HashTest, AConnectionWithoutTheKeyGoesToTheFallback) {
  EXPECT_EQ(exchange("header", request("/")).value("chosen_by", ""), "round_robin");
  EXPECT_EQ(exchange("header", request("/", "X-Tenant: \r\n")).value("chosen_by", ""),
            "round_robin");
  EXPECT_EQ(exchange("cookie", request("/", "Cookie: other=1\r\n")).value("chosen_by", ""),
            "round_robin");
  EXPECT_EQ(exchange("query", request("/?rooms=1")).value("chosen_by", ""), "ip_hash");
  EXPECT_EQ(exchange("path", request("/")).value("chosen_by", ""), "round_robin");
}

// As in sticky_cookie mode: bytes that are not HTTP/1 are placed by the fallback and relayed
// unchanged; a head longer than max_header_size (16 KiB) closes the connection (bad_request).
TEST_F(HashTest, NonHttpGoesToTheFallbackAndAnOversizedHeadIsRefused) {
  const std::string binary = "\x16\x03\x01 binary protocol bytes\r\n\r\n";
  const auto line = exchange("header", binary);
  EXPECT_EQ(line.value("chosen_by", ""), "round_robin");
  EXPECT_EQ(line.value("bytes_in", size_t{0}), binary.size());
  const std::string huge = request("/", "X-Tenant: a\r\nX-Pad: " + std::string(17000, 'p') + "\r\n");
  const auto refused = exchange("header", huge);
  EXPECT_EQ(refused.value("termination", ""), "bad_request");
  EXPECT_EQ(refused.value("server", ""), "");
}

TEST_F(HashTest, ATlsTerminatedFrontendHashesTheDecryptedRequest) {
  for (int k = 0; k < 8; ++k) {
    const std::string key = fmt::format("tls-tenant-{}", k);
    const auto line = exchangeTls(request("/", "X-Tenant: " + key + "\r\n"));
    EXPECT_EQ(line.value("server", ""), route("by_header", key)) << key;
    EXPECT_EQ(line.value("chosen_by", ""), "hash");
  }
}

TEST_F(HashTest, SniOnAPassthroughFrontendPicksTheServerAndCaseDoesNotMatter) {
  std::map<std::string, int> per_server;
  for (int k = 0; k < 16; ++k) {
    const std::string name = fmt::format("t{}.example.com", k);
    const std::string expected = route("by_sni", name);
    const auto line = exchange("pass", clientHello(name));
    EXPECT_EQ(line.value("server", ""), expected) << name;
    EXPECT_EQ(line.value("chosen_by", ""), "hash");
    EXPECT_EQ(exchange("pass", clientHello(fmt::format("T{}.Example.COM", k))).value("server", ""),
              expected);
    ++per_server[expected];
  }
  EXPECT_GE(per_server.size(), 3u);
  EXPECT_EQ(exchange("pass", clientHello("")).value("chosen_by", ""), "round_robin");
}

TEST_F(HashTest, ClientIpKeysByTheClientAddress) {
  const auto first = exchange("client_ip", "any bytes at all");
  EXPECT_EQ(first.value("chosen_by", ""), "hash");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(exchange("client_ip", request("/")).value("server", ""), first.value("server", ""));
  }
}

// The table comes from the file alone: a second process, started later, agrees on every key.
TEST_F(HashTest, TwoCorralProcessesWithTheSameFileAgreeOnTenThousandKeys) {
  Substitutions substitutions = addressesOf({s0_, s1_, s2_, s3_});
  for (const auto& [name, value] : certificateSubstitutions()) {
    substitutions[name] = value;
  }
  CorralProcess second(kConfig, substitutions);
  ASSERT_TRUE(second.ready());
  const auto ready = nlohmann::json::parse(
      readFile(second.configPath().parent_path() / "ready.json"), nullptr, false);
  KeepAliveClient other(ready.value("admin", ""));
  int agreed = 0;
  std::map<std::string, int> per_server;
  for (int k = 0; k < 10'000; ++k) {
    const std::string key = fmt::format("key-{}", k);
    const std::string here = route("by_header", key);
    agreed += !here.empty() && here == route("by_header", key, &other) ? 1 : 0;
    ++per_server[here];
  }
  EXPECT_EQ(agreed, 10'000);
  EXPECT_EQ(per_server.size(), 4u);
}

// Bounded loads: ten silent servers, 200 connections that stay open, keys drawn from Zipf(1.1)
// over 1,000 keys (the same draw for both backends). Each connection is opened once the previous
// one reached its server, so every pick sees the loads before it.
constexpr std::string_view kBoundedConfig = R"(
workers: 2
access_log: "off"
frontends:
  - {name: bounded, listen: "127.0.0.1:0", backend: bounded}
  - {name: strict, listen: "127.0.0.1:0", backend: strict}
backends:
  - {name: bounded, balance: hash, hash: {key: "header:X-Key", bounded_load: 1.25},
     servers: &servers [${servers}]}
  - {name: strict, balance: hash, hash: {key: "header:X-Key"}, servers: *servers}
)";

class BoundedLoadTest : public ::testing::Test {
protected:
  static constexpr int kServers = 10;
  static constexpr int kConnections = 200;

  void SetUp() override {
    std::string servers;
    Substitutions substitutions;
    for (int i = 0; i < kServers; ++i) {
      backends_.push_back(std::make_unique<FakeBackend>(fmt::format("s{}", i),
                                                        FakeBackendOptions{.mode = BackendMode::Silent}));
      servers += fmt::format("{}{{address: \"{}\", name: s{}}}", i ? ", " : "",
                             backends_.back()->address(), i);
    }
    corral_ = std::make_unique<CorralProcess>(kBoundedConfig, Substitutions{{"servers", servers}});
    ASSERT_TRUE(corral_->ready());
  }

  int accepted() const {
    int total = 0;
    for (const auto& backend : backends_) {
      total += backend->acceptedConnections();
    }
    return total;
  }

  // Opens the 200 connections on `frontend`, and returns how many each server took.
  std::vector<int> load(const std::string& frontend) {
    std::vector<int> before;
    for (const auto& backend : backends_) {
      before.push_back(backend->acceptedConnections());
    }
    std::vector<double> weights;
    for (int rank = 1; rank <= 1000; ++rank) {
      weights.push_back(1.0 / std::pow(rank, 1.1));
    }
    std::mt19937_64 random(2018);
    std::discrete_distribution<int> zipf(weights.begin(), weights.end());
    std::vector<std::unique_ptr<TcpClient>> open;
    for (int c = 0; c < kConnections; ++c) {
      const int reached = accepted();
      open.push_back(std::make_unique<TcpClient>(corral_->listenAddress(frontend)));
      EXPECT_TRUE(open.back()->writeAll(
          fmt::format("GET / HTTP/1.1\r\nX-Key: key-{}\r\n\r\n", zipf(random))));
      EXPECT_TRUE(pollUntil([&] { return accepted() > reached; }, 10s, 1ms)) << c;
    }
    std::vector<int> loads;
    for (size_t i = 0; i < backends_.size(); ++i) {
      loads.push_back(backends_[i]->acceptedConnections() - before[i]);
    }
    return loads;
  }

  std::vector<std::unique_ptr<FakeBackend>> backends_;
  std::unique_ptr<CorralProcess> corral_;
};

TEST_F(BoundedLoadTest, ZipfKeysStayWithinTheBoundOnlyWithBoundedLoad) {
  const double mean = double(kConnections) / kServers;
  const auto bounded = load("bounded");
  const auto strict = load("strict");
  const int bounded_max = *std::max_element(bounded.begin(), bounded.end());
  const int strict_max = *std::max_element(strict.begin(), strict.end());
  std::cout << fmt::format("Zipf(1.1) over 1000 keys, {} open connections, {} servers (mean {}): "
                           "hottest server {} with bounded_load 1.25 (bound {}), {} without\n",
                           kConnections, kServers, mean, bounded_max, 1.25 * mean + 1, strict_max);
  EXPECT_LE(bounded_max, 1.25 * mean + 1);
  EXPECT_GT(strict_max, 1.5 * mean);
}

} // namespace
} // namespace corral::test
