// One logged-in connection to lineaged for the SLO run's responder,
// approvers, first-check probe and ingest stream. Several sessions share the calling
// thread's event loop, which rpc::Client cannot do (it owns a loop per
// client). Calls wait on that loop; engine outcomes come back as statuses.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "absl/status/statusor.h"
#include "engine/include/lineage/revocation.h"
#include "rpc/src/convert.h"
#include "schemas/lineage.capnp.h"

namespace lineage::bench {

class RpcSession {
 public:
  struct PlanOutcome {
    std::string id;
    uint64_t artifacts = 0;
    uint64_t workloads = 0;
    bool bulk = false;
  };
  struct EnforceOutcome {
    std::string revocation;
    uint64_t deny_seq = 0;
    uint64_t newly_denied = 0;
    double server_ms = 0;  // the daemon's own account of the enforcement
  };

  // Connects to 127.0.0.1:`port` on `io` (which must outlive the session)
  // and logs in. Throws kj exceptions for a broken connection; a refused
  // login is a status from Login(). Answers up to `receive_limit_words`
  // (8-byte words) are accepted: an enforcement's answer lists every
  // affected workload, past Cap'n Proto's default 64 MiB at 10M artifacts.
  RpcSession(kj::AsyncIoContext& io, unsigned port, uint64_t receive_limit_words = 1ull << 27)
      : io_(io) {
    auto address = io.provider->getNetwork().parseAddress("127.0.0.1", port).wait(io.waitScope);
    stream_ = address->connect().wait(io.waitScope);
    capnp::ReaderOptions options;
    options.traversalLimitInWords = receive_limit_words;
    network_ =
        kj::heap<capnp::TwoPartyVatNetwork>(*stream_, capnp::rpc::twoparty::Side::CLIENT, options);
    rpc_ = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(capnp::makeRpcClient(*network_));
  }

  absl::Status Login(const std::string& token) {
    capnp::MallocMessageBuilder vat_message;
    auto vat = vat_message.initRoot<capnp::rpc::twoparty::VatId>();
    vat.setSide(capnp::rpc::twoparty::Side::SERVER);
    auto request = rpc_->bootstrap(vat).castAs<rpc::schema::Lineage>().loginRequest();
    request.setToken(rpc::Text(token));
    auto login = request.send().wait(io_.waitScope);
    if (absl::Status s = rpc::ToStatus(login.getStatus()); !s.ok()) return s;
    gate_ = login.getGate();
    responder_ = login.getResponder();
    approver_ = login.getApprover();
    ingest_ = login.getIngest();
    return absl::OkStatus();
  }

  // The verdict, "ALLOW" or "DENY".
  absl::StatusOr<std::string> Check(const std::string& digest) {
    auto request = gate_.checkRequest();
    request.setDigest(rpc::Text(digest));
    request.setUnknown(rpc::schema::UnknownPolicy::WARN);
    auto r = request.send().wait(io_.waitScope);
    if (absl::Status s = rpc::ToStatus(r.getStatus()); !s.ok()) return s;
    return std::string(r.getResult().getDeny() ? "DENY" : "ALLOW");
  }

  absl::StatusOr<PlanOutcome> Plan(const RevocationRoot& root, const std::string& reason) {
    auto request = responder_.planRequest();
    rpc::FillRoot(request.initRoots(1)[0], root);
    request.setReason(rpc::Text(reason));
    request.setMaxListed(0);  // counts only: a million refs would not fit one message
    auto r = request.send().wait(io_.waitScope);
    if (absl::Status s = rpc::ToStatus(r.getStatus()); !s.ok()) return s;
    auto p = r.getPlan();
    return PlanOutcome{std::string(rpc::View(p.getId())), p.getArtifactCount(),
                       p.getWorkloadCount(), p.getBulk()};
  }

  // Approves under this session's own credential name.
  absl::Status Approve(const std::string& plan_id) {
    auto request = approver_.approveRequest();
    request.setPlanId(rpc::Text(plan_id));
    auto r = request.send().wait(io_.waitScope);
    return rpc::ToStatus(r.getStatus());
  }

  absl::StatusOr<EnforceOutcome> Enforce(const std::string& plan_id) {
    auto request = responder_.enforceRequest();
    request.setPlanId(rpc::Text(plan_id));
    auto r = request.send().wait(io_.waitScope);
    if (absl::Status s = rpc::ToStatus(r.getStatus()); !s.ok()) return s;
    auto o = r.getOutcome();
    if (!o.getEnforced()) {
      return absl::AbortedError(fmt::format("not enforced: the closure changed (+{} -{})",
                                            o.getChangedAdded(), o.getChangedRemoved()));
    }
    return EnforceOutcome{std::string(rpc::View(o.getRevocation())), o.getDenySeq(),
                          o.getNewlyDenied(), static_cast<double>(o.getDurationMicros()) / 1000};
  }

  struct IngestOutcome {
    uint64_t accepted = 0;
    uint64_t rejected = 0;
    std::string first_rejection;
  };

  // Sends `documents` through Ingest.ingest, `per_call` documents a call,
  // with up to `in_flight` calls outstanding (the daemon verifies on a pool
  // of threads and stores in arrival order), and waits for every answer.
  absl::StatusOr<IngestOutcome> IngestAll(const std::vector<std::string>& documents,
                                          size_t per_call, int in_flight) {
    IngestOutcome out;
    absl::Status failed;
    size_t next = 0;
    std::function<kj::Promise<void>()> slot = [&]() -> kj::Promise<void> {
      if (next >= documents.size() || !failed.ok()) return kj::READY_NOW;
      size_t from = next, n = std::min(per_call, documents.size() - next);
      next += n;
      auto request = ingest_.ingestRequest();
      auto list = request.initDocuments(static_cast<unsigned>(n));
      for (size_t i = 0; i < n; ++i) {
        const std::string& d = documents[from + i];
        list[i].setName(rpc::Text(fmt::format("signed-{}", from + i)));
        list[i].setContent(
            capnp::Data::Reader(reinterpret_cast<const kj::byte*>(d.data()), d.size()));
      }
      return request.send().then([&](auto&& r) {
        if (absl::Status s = rpc::ToStatus(r.getStatus()); !s.ok()) {
          failed = s;
          return kj::Promise<void>(kj::READY_NOW);
        }
        for (auto item : r.getItems()) {
          if (item.getAccepted()) {
            out.accepted++;
          } else {
            if (out.rejected++ == 0) out.first_rejection = std::string(rpc::View(item.getReason()));
          }
        }
        return slot();
      });
    };
    kj::Vector<kj::Promise<void>> slots;
    for (int i = 0; i < in_flight; ++i)
      slots.add(slot());
    kj::joinPromises(slots.releaseAsArray()).wait(io_.waitScope);
    if (!failed.ok()) return failed;
    return out;
  }

  // The deny-list sequence after the lift.
  absl::StatusOr<uint64_t> Lift(const std::string& revocation, const std::string& reason) {
    auto request = responder_.liftRequest();
    request.setRevocation(rpc::Text(revocation));
    request.setReason(rpc::Text(reason));
    auto r = request.send().wait(io_.waitScope);
    if (absl::Status s = rpc::ToStatus(r.getStatus()); !s.ok()) return s;
    return r.getDenySeq();
  }

 private:
  kj::AsyncIoContext& io_;
  kj::Own<kj::AsyncIoStream> stream_;
  kj::Own<capnp::TwoPartyVatNetwork> network_;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc_;
  rpc::schema::Gate::Client gate_ = nullptr;
  rpc::schema::Responder::Client responder_ = nullptr;
  rpc::schema::Approver::Client approver_ = nullptr;
  rpc::schema::Ingest::Client ingest_ = nullptr;
};

}  // namespace lineage::bench
