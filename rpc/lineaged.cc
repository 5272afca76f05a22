// lineaged: the lineage daemon. Opens one database, serves the Cap'n Proto
// service of schemas/lineage.capnp on a TCP address, and pushes deny-list
// deltas to subscribed gates. Wiring only; the logic lives in lineage_rpc.
//
//   lineaged --db /var/lib/lineage --listen 127.0.0.1:7744 --policy policy.json
//
// Signals: SIGTERM/SIGINT drain (queued writes finish, subscribers are told
// to resync, then exit 0); SIGHUP re-reads the credentials and the trust
// policy.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/compat/tls.h>
#include <kj/debug.h>
#include <CLI/CLI.hpp>

#include "engine/include/lineage/store.h"
#include "ingest/include/lineage/ingest/trust_policy.h"
#include "rpc/include/lineage/rpc/client.h"
#include "rpc/include/lineage/rpc/http.h"
#include "rpc/include/lineage/rpc/server.h"

namespace {

// Plaintext is allowed on loopback only: anywhere else tokens would cross
// the network in the clear. By address, not by text (see IsLoopbackHost).
bool IsLoopback(const std::string& host) {
  return lineage::rpc::IsLoopbackHost(host);
}

std::shared_ptr<const lineage::ingest::TrustPolicy> LoadPolicy(const std::string& path,
                                                               lineage::Logger* logger) {
  if (path.empty()) return nullptr;
  absl::StatusOr<lineage::ingest::TrustPolicy> policy =
      lineage::ingest::TrustPolicy::LoadFile(path);
  if (!policy.ok()) {
    LINEAGE_LOG(logger, kError, "{}", std::string(policy.status().message()));
    return nullptr;
  }
  return std::make_shared<const lineage::ingest::TrustPolicy>(*std::move(policy));
}

// The whole file, for PEM material; throws a kj exception naming the file.
kj::String ReadText(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  KJ_REQUIRE(f != nullptr, "cannot read", path);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0)
    text.append(buffer, n);
  std::fclose(f);
  return kj::heapString(text.data(), text.size());
}

kj::Promise<void> ReloadOnHangup(kj::UnixEventPort& port, lineage::rpc::Server* server,
                                 std::string policy_path, lineage::Logger* logger) {
  return port.onSignal(SIGHUP).then([&port, server, policy_path, logger](siginfo_t) {
    absl::Status s = server->ReloadCredentials();
    if (!s.ok()) {
      LINEAGE_LOG(logger, kError, "SIGHUP: credentials kept: {}", std::string(s.message()));
    }
    if (!policy_path.empty()) {
      if (auto policy = LoadPolicy(policy_path, logger)) server->SetPolicy(std::move(policy));
    }
    LINEAGE_LOG(logger, kInfo, "SIGHUP: reloaded credentials{}",
                policy_path.empty() ? "" : " and trust policy");
    return ReloadOnHangup(port, server, policy_path, logger);
  });
}

// One accepted RPC connection: its network and RPC system, alive until the
// peer disconnects.
struct Connection {
  Connection(kj::Own<kj::AsyncIoStream>&& stream, capnp::Capability::Client bootstrap,
             capnp::ReaderOptions options)
      : stream(kj::mv(stream)),
        network(*this->stream, capnp::rpc::twoparty::Side::SERVER, options),
        rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))) {}

  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

// What capnp::TwoPartyServer::listen does, but with `options` on every
// connection. Cap'n Proto refuses to send a message larger than the
// connection's own receive limit, and a deny-list delta of a million digests
// (about 80 MiB) is past the default 64 MiB: without a higher limit the
// push of such a delta is dropped.
kj::Promise<void> AcceptLoop(kj::ConnectionReceiver& receiver, capnp::Capability::Client bootstrap,
                             capnp::ReaderOptions options, kj::TaskSet& connections) {
  return receiver.accept().then([&receiver, bootstrap = kj::mv(bootstrap), options,
                                 &connections](kj::Own<kj::AsyncIoStream>&& stream) mutable {
    auto connection = kj::heap<Connection>(kj::mv(stream), bootstrap, options);
    connections.add(connection->network.onDisconnect().attach(kj::mv(connection)));
    return AcceptLoop(receiver, kj::mv(bootstrap), options, connections);
  });
}

class LogConnectionErrors final : public kj::TaskSet::ErrorHandler {
 public:
  explicit LogConnectionErrors(lineage::Logger* logger) : logger_(logger) {}
  void taskFailed(kj::Exception&& e) override {
    LINEAGE_LOG(logger_, kInfo, "connection: {}", e.getDescription().cStr());
  }

 private:
  lineage::Logger* logger_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lineaged: the lineage daemon for gates, CI and responders", "lineaged"};
  std::string db = "./var/lineage";
  std::string listen = "127.0.0.1:7744";
  std::string policy_path;
  std::string credentials;
  uint64_t lag_limit = 10000;
  int verify_threads = 2;
  std::string http;
  std::string tls_cert, tls_key, tls_client_ca;
  int rotation_days = 90;
  uint64_t max_message_mib = 64;
  std::string backup_dir;
  bool debug = false;
  app.add_option("--db", db, "Database directory (created if missing)");
  app.add_option("--listen", listen, "HOST:PORT to serve on; port 0 picks a free one")
      ->capture_default_str();
  app.add_option("--policy", policy_path, "Trust policy for Ingest (docs/trust-policy.md)");
  app.add_option("--credentials", credentials,
                 "Credentials file (default: DB/credentials); see lineage admin token");
  app.add_option("--verify-threads", verify_threads,
                 "Threads that verify ingested signatures before the writer stores them "
                 "(default: 2)")
      ->check(CLI::Range(1, 64));
  app.add_option("--lag-limit", lag_limit,
                 "Sequences a subscriber may fall behind before it must resync")
      ->capture_default_str();
  app.add_option("--http", http, "HOST:PORT for /metrics, /healthz and /readyz (default: off)");
  app.add_option("--rotation-days", rotation_days,
                 "Rotation age for the keys-past-rotation metric, in days")
      ->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve RPC over TLS");
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", tls_client_ca,
                 "PEM CA certificates: require client certificates signed by them");
  app.add_option("--max-message-mib", max_message_mib,
                 "Largest RPC message sent or accepted, in MiB (a deny-list delta of N digests "
                 "needs about N * 80 bytes)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{4096}))
      ->capture_default_str();
  app.add_option("--backup-dir", backup_dir,
                 "Directory that remote backups go to, each as a new subdirectory (created "
                 "0700; default: remote backups refused)");
  app.add_flag("--debug", debug, "Log at debug level");
  // Every option above may also come from a TOML file (tools/lineaged.toml);
  // flags given on the command line win.
  app.set_config("--config", "", "Configuration file (TOML: key = value per option)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (credentials.empty()) credentials = db + "/credentials";

  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "lineaged: --listen wants HOST:PORT, got %s\n", listen.c_str());
    return 2;
  }
  std::string host = listen.substr(0, colon);
  std::string http_host = http.empty() ? "127.0.0.1" : http.substr(0, http.rfind(':'));
  bool tls = !tls_cert.empty() || !tls_key.empty();
  if (tls && (tls_cert.empty() || tls_key.empty())) {
    std::fprintf(stderr, "lineaged: --tls-cert and --tls-key go together\n");
    return 2;
  }
  if (!tls_client_ca.empty() && !tls) {
    std::fprintf(stderr, "lineaged: --tls-client-ca needs --tls-cert and --tls-key\n");
    return 2;
  }
  // Limitation: /metrics is served in plaintext, so its address must be
  // loopback (scrape it through a local agent or a TLS-terminating proxy).
  if ((!tls && !IsLoopback(host)) || !IsLoopback(http_host)) {
    std::fprintf(stderr,
                 "lineaged: refusing to serve plaintext on %s: only loopback addresses are "
                 "allowed until TLS is configured\n",
                 IsLoopback(host) ? http_host.c_str() : host.c_str());
    return 2;
  }

  if (!backup_dir.empty()) {
    // A backup root inside the database would be copied into every backup
    // and could be mistaken for (or overwrite) the database's own files.
    std::error_code ec;
    auto absolute = [&ec](const std::string& path) {
      std::filesystem::path p = std::filesystem::weakly_canonical(path, ec).lexically_normal();
      return p.has_filename() ? p : p.parent_path();  // "a/b/" is a/b
    };
    std::filesystem::path root = absolute(backup_dir);
    std::filesystem::path dbp = absolute(db);
    auto [d, r] = std::mismatch(dbp.begin(), dbp.end(), root.begin(), root.end());
    if (ec || d == dbp.end()) {
      std::fprintf(stderr, "lineaged: --backup-dir %s: must not be inside --db %s\n",
                   backup_dir.c_str(), db.c_str());
      return 2;
    }
    backup_dir = root.string();
  }

  std::shared_ptr<lineage::Logger> logger =
      lineage::NewStderrLogger(debug ? lineage::LogLevel::kDebug : lineage::LogLevel::kInfo);
  // Signals must be captured before any thread starts (the store's and the
  // server's), so that they are delivered to the event loop.
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  kj::UnixEventPort::captureSignal(SIGHUP);

  lineage::StoreOptions store_options;
  store_options.logger = logger;
  absl::StatusOr<std::unique_ptr<lineage::Store>> store = lineage::Store::Open(db, store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "lineaged: %s\n", std::string(store.status().message()).c_str());
    return 4;
  }

  try {
    auto io = kj::setupAsyncIo();
    lineage::rpc::ServerOptions options;
    options.credentials_path = credentials;
    options.policy = LoadPolicy(policy_path, logger.get());
    options.lag_limit = lag_limit;
    options.verify_threads = verify_threads;
    options.max_message_bytes = max_message_mib << 20;
    options.backup_root = backup_dir;
    options.logger = logger;
    absl::StatusOr<std::unique_ptr<lineage::rpc::Server>> server =
        lineage::rpc::Server::Create(store->get(), options);
    if (!server.ok()) {
      std::fprintf(stderr, "lineaged: %s\n", std::string(server.status().message()).c_str());
      return 2;
    }

    // Declared before the receiver that wraps them, so they outlive it.
    kj::Own<kj::TlsContext> tls_context;
    std::vector<kj::TlsCertificate> client_cas;
    kj::Own<kj::TlsKeypair> keypair;
    kj::Own<kj::NetworkAddress> address =
        io.provider->getNetwork().parseAddress(listen).wait(io.waitScope);
    kj::Own<kj::ConnectionReceiver> receiver = address->listen();
    unsigned port = receiver->getPort();

    // TLS wraps the listening port: every accepted connection completes a
    // handshake (and, with --tls-client-ca, presents a trusted client
    // certificate) before any RPC is read.
    if (tls) {
      kj::String cert_pem = ReadText(tls_cert), key_pem = ReadText(tls_key);
      keypair = kj::heap<kj::TlsKeypair>(
          kj::TlsKeypair{kj::TlsPrivateKey(key_pem), kj::TlsCertificate(cert_pem)});
      kj::TlsContext::Options tls_options;
      tls_options.defaultKeypair = *keypair;
      tls_options.useSystemTrustStore = false;
      if (!tls_client_ca.empty()) {
        client_cas.push_back(kj::TlsCertificate(ReadText(tls_client_ca)));
        tls_options.verifyClients = true;
        tls_options.trustedCertificates = kj::arrayPtr(client_cas.data(), client_cas.size());
      }
      tls_options.timer = io.provider->getTimer();
      tls_options.acceptTimeout = 10 * kj::SECONDS;
      tls_context = kj::heap<kj::TlsContext>(kj::mv(tls_options));
      receiver = tls_context->wrapPort(kj::mv(receiver));
    }
    {
      LogConnectionErrors connection_errors(logger.get());
      kj::TaskSet connections(connection_errors);
      capnp::ReaderOptions reader_options;
      reader_options.traversalLimitInWords = max_message_mib << 17;  // 8-byte words
      kj::Promise<void> serving =
          AcceptLoop(*receiver, (*server)->Bootstrap(), reader_options, connections);
      // Tests and service managers read this line for the bound port.
      std::fprintf(stderr, "lineaged: listening on %s:%u%s\n", host.c_str(), port,
                   tls ? (tls_client_ca.empty() ? " (TLS)" : " (TLS, client certificates)") : "");
      std::fflush(stderr);

      kj::Own<lineage::rpc::HttpEndpoint> endpoint;
      kj::Own<kj::ConnectionReceiver> http_receiver;
      kj::Promise<void> http_serving = kj::NEVER_DONE;
      if (!http.empty()) {
        http_receiver = io.provider->getNetwork().parseAddress(http).wait(io.waitScope)->listen();
        endpoint = kj::heap<lineage::rpc::HttpEndpoint>(
            io.provider->getTimer(), store->get(), server->get(), absl::Hours(24 * rotation_days));
        http_serving = endpoint->Listen(*http_receiver);
        std::fprintf(stderr, "lineaged: http on %s:%u\n", http_host.c_str(),
                     http_receiver->getPort());
        std::fflush(stderr);
      }

      kj::Promise<void> reload =
          ReloadOnHangup(io.unixEventPort, server->get(), policy_path, logger.get());
      kj::Promise<void> stop = io.unixEventPort.onSignal(SIGTERM).ignoreResult().exclusiveJoin(
          io.unixEventPort.onSignal(SIGINT).ignoreResult());
      serving.exclusiveJoin(kj::mv(http_serving))
          .exclusiveJoin(kj::mv(reload))
          .exclusiveJoin(kj::mv(stop))
          .wait(io.waitScope);

      LINEAGE_LOG(logger.get(), kInfo, "draining: finishing queued writes, telling subscribers");
      if (endpoint) endpoint->SetReady(false);
      (*server)->Shutdown();
      // Let the answers of drained requests and the resync calls go out.
      io.provider->getTimer().afterDelay(200 * kj::MILLISECONDS).wait(io.waitScope);
      // Connections (and with them every capability) go before the server.
    }
    server->reset();
  } catch (const kj::Exception& e) {
    std::fprintf(stderr, "lineaged: %s\n", e.getDescription().cStr());
    return 4;
  }
  LINEAGE_LOG(logger.get(), kInfo, "stopped");
  return 0;
}
