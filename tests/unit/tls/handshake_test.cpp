#include "corral/tls/handshake.h"

#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/err.h>

namespace corral::tls {
namespace {

unsigned long sslError(int reason) { return ERR_PACK(ERR_LIB_SSL, 0, reason); }

TEST(HandshakeTest, ClassifiesTheErrorsScannersAndMisconfiguredClientsCause) {
  const std::vector<std::pair<int, HandshakeFailure>> cases = {
      {SSL_R_NO_SHARED_CIPHER, HandshakeFailure::NoSharedCipher},
      {SSL_R_UNSUPPORTED_PROTOCOL, HandshakeFailure::UnsupportedProtocol},
      {SSL_R_HTTP_REQUEST, HandshakeFailure::HttpRequest},
      {SSL_R_WRONG_VERSION_NUMBER, HandshakeFailure::NotTls},
      {SSL_R_UNEXPECTED_EOF_WHILE_READING, HandshakeFailure::PeerClosed},
      {SSL_R_TLSV1_ALERT_UNKNOWN_CA, HandshakeFailure::ClientAlert},
      {SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, HandshakeFailure::UnsupportedProtocol},
      {SSL_R_BAD_PACKET_LENGTH, HandshakeFailure::Other},
  };
  for (const auto& [reason, failure] : cases) {
    EXPECT_EQ(classifyHandshakeError(sslError(reason)), failure) << reason;
  }
  EXPECT_EQ(classifyHandshakeError(ERR_PACK(ERR_LIB_EVP, 0, SSL_R_NO_SHARED_CIPHER)),
            HandshakeFailure::Other); // the same number in another library means something else
}

TEST(HandshakeTest, TheFirstKnownReasonWinsAndNoErrorMeansThePeerClosed) {
  const std::vector<unsigned long> errors = {sslError(SSL_R_BAD_PACKET_LENGTH),
                                             sslError(SSL_R_HTTP_REQUEST),
                                             sslError(SSL_R_NO_SHARED_CIPHER)};
  EXPECT_EQ(handshakeFailure(errors), HandshakeFailure::HttpRequest);
  EXPECT_EQ(handshakeFailure({}), HandshakeFailure::PeerClosed);
}

TEST(HandshakeTest, DrainsThisThreadsErrorQueue) {
  ERR_put_error(ERR_LIB_SSL, 0, SSL_R_NO_SHARED_CIPHER, __FILE__, __LINE__);
  EXPECT_EQ(handshakeFailureFromQueue(), HandshakeFailure::NoSharedCipher);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Labels go to Prometheus: distinct, and snake_case so that they need no quoting anywhere.
TEST(HandshakeTest, EveryFailureHasADistinctLabelAndDescription) {
  std::set<std::string_view> labels, descriptions;
  for (const HandshakeFailure failure : kHandshakeFailures) {
    labels.insert(label(failure));
    descriptions.insert(describe(failure));
    EXPECT_EQ(label(failure).find(' '), std::string_view::npos);
  }
  EXPECT_EQ(labels.size(), kHandshakeFailures.size());
  EXPECT_EQ(descriptions.size(), kHandshakeFailures.size());
  EXPECT_EQ(describe(HandshakeFailure::NoSharedCipher), "no shared cipher");
  EXPECT_EQ(label(HandshakeFailure::Timeout), "timeout");
}

} // namespace
} // namespace corral::tls
