// Certificates for the TLS tests of lineaged, made with the openssl command
// line (Debian's openssl package) in a test's directory.
#pragma once

#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace lineage::testing {

// Writes into `dir`: ca.pem/ca.key (a test CA), server.pem/server.key and
// client.pem/client.key (P-256, issued by that CA for DNS:localhost) and
// other.pem/other.key (a second, unrelated CA). True when openssl succeeded.
inline bool MakeTestCertificates(const std::string& dir) {
  std::string script = fmt::format(
      "cd {} && set -e && "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
      "-out ca.pem -days 1 -subj /CN=lineage-test-ca 2>/dev/null && "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key "
      "-out other.pem -days 1 -subj /CN=other-ca 2>/dev/null && "
      "printf 'subjectAltName=DNS:localhost\\n' > san.ext && "
      "for who in server client; do "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $who.key "
      "-out $who.csr -subj /CN=localhost 2>/dev/null && "
      "openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem "
      "-days 1 -extfile san.ext 2>/dev/null; done",
      dir);
  return std::system(script.c_str()) == 0;
}

}  // namespace lineage::testing
