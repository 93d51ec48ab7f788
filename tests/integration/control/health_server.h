#pragma once
// An HTTP server for health-check tests whose answer to GET /healthz the test can switch (200 to
// 503 and back), that answers every other request with its name, and that can be killed outright.
// It counts health checks and proxied requests apart, so that a test can tell whether clients
// still reach it while corral keeps checking it.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace corral::test {

class HealthServer {
public:
  /// Listens on 127.0.0.1:0; /healthz answers 200 until setHealthStatus() says otherwise.
  explicit HealthServer(std::string name);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }

  void setHealthStatus(int status) { health_status_ = status; }
  /// Closes the listener, as when the process behind it dies. The port stays bound to a socket
  /// that does not listen, so connects are refused and nothing else can take the port.
  void kill();

  /// GET /healthz requests answered.
  int healthChecks() const { return health_checks_.load(); }
  /// Requests for any other path: clients that corral sent here.
  int requests() const { return requests_.load(); }

private:
  struct Connection {
    int fd = -1;
    std::string received;
  };

  void run();
  void holdPort();
  void acceptAll();
  bool serve(Connection& connection); // false once the connection is finished
  void answer(Connection& connection);

  std::string name_;
  std::string address_;
  int listener_ = -1;
  int placeholder_ = -1;               // holds the port after kill()
  int wake_ = -1;                      // eventfd: kill() and the destructor wake the thread
  std::atomic<bool> killed_ = false;   // kill(): stop serving, keep the port
  std::atomic<bool> stopping_ = false; // the destructor: stop
  std::atomic<bool> dead_ = false;     // the listener is closed and the placeholder holds the port
  std::atomic<int> health_status_ = 200;
  std::atomic<int> health_checks_ = 0;
  std::atomic<int> requests_ = 0;
  std::vector<Connection> connections_; // the thread's own
  std::thread thread_;
};

} // namespace corral::test
