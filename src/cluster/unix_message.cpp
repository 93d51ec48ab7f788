#include "corral/cluster/unix_message.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace corral::cluster {

Result<void> sendMessage(int socket, const std::string& text, const std::vector<int>& fds) {
  if (fds.size() > kMaxFds || text.size() > kMaxMessage) {
    return fail(ErrorCode::BadInput, "message too large");
  }
  iovec data{.iov_base = const_cast<char*>(text.data()), .iov_len = text.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  if (!fds.empty()) {
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    return fail(ErrorCode::Io, fmt::format("sendmsg: {}", std::strerror(errno)));
  }
  return {};
}

Result<UnixMessage> receiveMessage(int socket, bool wait) {
  std::string text(kMaxMessage, '\0');
  iovec data{.iov_base = text.data(), .iov_len = text.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds));
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  ssize_t received;
  do {
    received = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT));
  } while (received < 0 && errno == EINTR);
  if (received < 0) {
    const bool none = errno == EAGAIN || errno == EWOULDBLOCK;
    return fail(none ? ErrorCode::Unavailable : ErrorCode::Io,
                fmt::format("recvmsg: {}", std::strerror(errno)));
  }
  if (received == 0) {
    return fail(ErrorCode::NotFound, "the peer closed the socket");
  }
  UnixMessage result;
  text.resize(static_cast<size_t>(received));
  result.text = std::move(text);
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      const size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const auto* first = reinterpret_cast<const int*>(CMSG_DATA(header));
      result.fds.insert(result.fds.end(), first, first + count);
    }
  }
  if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    for (int fd : result.fds) {
      ::close(fd);
    }
    return fail(ErrorCode::Io, "message truncated");
  }
  return result;
}

} // namespace corral::cluster
