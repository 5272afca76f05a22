// The daemon's HTTP side: /metrics (Prometheus text format), /healthz
// (the process serves) and /readyz (the store is open and RPC is accepting).
// Runs on the daemon's kj event loop.
#pragma once

#include <functional>
#include <memory>

#include <kj/async-io.h>
#include <kj/compat/http.h>

#include "absl/time/time.h"
#include "engine/include/lineage/store.h"
#include "rpc/include/lineage/rpc/metrics.h"
#include "rpc/include/lineage/rpc/server.h"

namespace lineage::rpc {

class HttpEndpoint {
 public:
  // `store`, `server` and `metrics` outlive the endpoint. `rotation_age`
  // decides which keys count as past rotation in the metrics.
  HttpEndpoint(kj::Timer& timer, Store* store, Server* server, absl::Duration rotation_age);
  ~HttpEndpoint() noexcept(false);

  // Serves until the promise is dropped.
  kj::Promise<void> Listen(kj::ConnectionReceiver& receiver);
  // Stops accepting requests; /readyz answers 503 from now on.
  void SetReady(bool ready) { ready_ = ready; }

 private:
  class Service;
  bool ready_ = true;
  kj::Own<kj::HttpHeaderTable> headers_;
  kj::Own<Service> service_;
  kj::Own<kj::HttpServer> http_;
};

}  // namespace lineage::rpc
