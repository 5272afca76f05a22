#include "rpc/include/lineage/rpc/http.h"

#include <string>

namespace lineage::rpc {

class HttpEndpoint::Service final : public kj::HttpService {
 public:
  Service(const kj::HttpHeaderTable& table, Store* store, Server* server,
          absl::Duration rotation_age, const bool* ready)
      : table_(table), store_(store), server_(server), rotation_age_(rotation_age), ready_(ready) {}

  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url,
                            const kj::HttpHeaders& headers, kj::AsyncInputStream& body,
                            Response& response) override {
    if (method != kj::HttpMethod::GET) return response.sendError(405, "Method Not Allowed", table_);
    if (url == "/metrics") {
      server_->metrics()->SetSubscribers(server_->subscriber_count());
      return Send(response, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                  server_->metrics()->Render(store_, rotation_age_));
    }
    if (url == "/healthz") return Send(response, 200, "OK", "text/plain", "ok\n");
    if (url == "/readyz") {
      return *ready_ ? Send(response, 200, "OK", "text/plain", "ready\n")
                     : Send(response, 503, "Service Unavailable", "text/plain", "draining\n");
    }
    return response.sendError(404, "Not Found", table_);
  }

 private:
  kj::Promise<void> Send(Response& response, unsigned code, kj::StringPtr status,
                         kj::StringPtr type, std::string body) {
    kj::HttpHeaders out(table_);
    out.set(kj::HttpHeaderId::CONTENT_TYPE, type);
    auto stream = response.send(code, status, out, body.size());
    auto text = kj::heapString(body.data(), body.size());
    auto promise = stream->write(text.begin(), text.size());
    return promise.attach(kj::mv(stream), kj::mv(text));
  }

  const kj::HttpHeaderTable& table_;
  Store* store_;
  Server* server_;
  absl::Duration rotation_age_;
  const bool* ready_;
};

HttpEndpoint::HttpEndpoint(kj::Timer& timer, Store* store, Server* server,
                           absl::Duration rotation_age)
    : headers_(kj::heap<kj::HttpHeaderTable>()),
      service_(kj::heap<Service>(*headers_, store, server, rotation_age, &ready_)),
      http_(kj::heap<kj::HttpServer>(timer, *headers_, *service_)) {}

HttpEndpoint::~HttpEndpoint() noexcept(false) = default;

kj::Promise<void> HttpEndpoint::Listen(kj::ConnectionReceiver& receiver) {
  return http_->listenHttp(receiver);
}

}  // namespace lineage::rpc
