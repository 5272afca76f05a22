// The one place where engine values and outcomes become RPC data and back.
//
// Engine outcomes travel as a Status struct in every result (absl code number
// and message); only failures of the RPC layer itself are kj exceptions.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/include/lineage/revocation.h"
#include "engine/include/lineage/store.h"
#include "engine/include/lineage/types.h"
#include "rpc/include/lineage/rpc/credentials.h"
#include "schemas/lineage.capnp.h"

namespace lineage::rpc {

inline std::string_view View(capnp::Text::Reader text) {
  return std::string_view(text.begin(), text.size());
}

// A capnp Text view of a std::string (which is NUL-terminated, as Text
// requires). The string must outlive the use.
inline capnp::Text::Reader Text(const std::string& s) {
  return capnp::Text::Reader(s.data(), s.size());
}

inline void FillStatus(schema::Status::Builder out, const absl::Status& status) {
  out.setCode(static_cast<uint32_t>(status.code()));
  std::string message(status.message());
  out.setMessage(Text(message));
}

inline absl::Status ToStatus(schema::Status::Reader in) {
  if (in.getCode() == 0) return absl::OkStatus();
  // Codes outside absl's range are reported as unknown rather than trusted.
  uint32_t code = in.getCode() <= 16 ? in.getCode() : 2;
  return absl::Status(static_cast<absl::StatusCode>(code), std::string(View(in.getMessage())));
}

inline void FillTexts(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& in) {
  for (size_t i = 0; i < in.size(); ++i)
    out.set(i, Text(in[i]));
}

inline std::vector<std::string> ToStrings(capnp::List<capnp::Text>::Reader in) {
  std::vector<std::string> out;
  out.reserve(in.size());
  for (auto t : in)
    out.emplace_back(View(t));
  return out;
}

inline int64_t ToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

inline absl::Time FromMicros(int64_t micros) {
  if (micros == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (micros == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(micros);
}

inline UnknownPolicy FromSchema(schema::UnknownPolicy p) {
  switch (p) {
    case schema::UnknownPolicy::ALLOW:
      return UnknownPolicy::kAllow;
    case schema::UnknownPolicy::DENY:
      return UnknownPolicy::kDeny;
    default:
      return UnknownPolicy::kWarn;
  }
}

inline schema::UnknownPolicy ToSchema(UnknownPolicy p) {
  switch (p) {
    case UnknownPolicy::kAllow:
      return schema::UnknownPolicy::ALLOW;
    case UnknownPolicy::kDeny:
      return schema::UnknownPolicy::DENY;
    case UnknownPolicy::kWarn:
      break;
  }
  return schema::UnknownPolicy::WARN;
}

inline schema::Role ToSchema(Role role) {
  return static_cast<schema::Role>(static_cast<uint16_t>(role));
}

inline Role FromSchema(schema::Role role) {
  return static_cast<Role>(static_cast<uint16_t>(role));
}

inline RevocationRoot FromSchema(schema::RevocationRoot::Reader in) {
  return RevocationRoot{std::string(View(in.getRef())), FromMicros(in.getSinceMicros()),
                        FromMicros(in.getUntilMicros())};
}

inline void FillRoot(schema::RevocationRoot::Builder out, const RevocationRoot& in) {
  out.setRef(Text(in.ref));
  out.setSinceMicros(ToMicros(in.since));
  out.setUntilMicros(ToMicros(in.until));
}

inline void FillCheck(schema::CheckResult::Builder out, const CheckResult& in) {
  out.setDigest(Text(in.digest));
  out.setDeny(in.verdict == Verdict::kDeny);
  out.setKnown(in.known);
  FillTexts(out.initDeniedBy(in.denied_by.size()), in.denied_by);
  FillTexts(out.initAdvisories(in.advisories.size()), in.advisories);
  out.setAdvisoryOnly(in.advisory_only);
  FillTexts(out.initWarnings(in.warnings.size()), in.warnings);
}

inline CheckResult ToCheck(schema::CheckResult::Reader in) {
  CheckResult out;
  out.digest = std::string(View(in.getDigest()));
  out.verdict = in.getDeny() ? Verdict::kDeny : Verdict::kAllow;
  out.known = in.getKnown();
  out.denied_by = ToStrings(in.getDeniedBy());
  out.advisories = ToStrings(in.getAdvisories());
  out.advisory_only = in.getAdvisoryOnly();
  out.warnings = ToStrings(in.getWarnings());
  return out;
}

inline void FillDeltas(capnp::List<schema::DenyDelta>::Builder out,
                       const std::vector<DenyDelta>& in) {
  for (size_t i = 0; i < in.size(); ++i) {
    out[i].setSeq(in[i].seq);
    out[i].setTimeMicros(ToMicros(in[i].time));
    out[i].setCause(Text(in[i].cause));
    FillTexts(out[i].initAdded(in[i].added.size()), in[i].added);
    FillTexts(out[i].initRemoved(in[i].removed.size()), in[i].removed);
  }
}

inline DenyDelta ToDelta(schema::DenyDelta::Reader in) {
  DenyDelta out;
  out.seq = in.getSeq();
  out.time = FromMicros(in.getTimeMicros());
  out.cause = std::string(View(in.getCause()));
  out.added = ToStrings(in.getAdded());
  out.removed = ToStrings(in.getRemoved());
  return out;
}

inline void FillPlan(schema::PlanSummary::Builder out, const Plan& in) {
  out.setId(Text(in.id));
  out.setArtifactCount(in.artifact_count);
  out.setWorkloadCount(in.workload_count);
  out.setBulk(in.bulk);
  auto approvals = out.initApprovals(in.approvals.size());
  for (size_t i = 0; i < in.approvals.size(); ++i)
    approvals.set(i, Text(in.approvals[i].principal));
  out.setEnforced(in.state == PlanState::kEnforced);
  out.setRevocation(Text(in.revocation));
  FillTexts(out.initArtifacts(in.artifacts.size()), in.artifacts);
  FillTexts(out.initWorkloads(in.workloads.size()), in.workloads);
}

inline void FillEnforce(schema::EnforceOutcome::Builder out, const EnforceResult& in) {
  out.setEnforced(in.enforced);
  out.setChangedAdded(in.change.added);
  out.setChangedRemoved(in.change.removed);
  out.setRevocation(Text(in.revocation.id));
  out.setNewlyDenied(in.newly_denied);
  out.setDenySeq(in.deny_seq);
  FillTexts(out.initWorkloads(in.workloads.size()), in.workloads);
  out.setDurationMicros(absl::ToInt64Microseconds(in.duration));
}

// The reverse of FillPlan, for clients. What PlanSummary does not carry
// (roots, reason, mode, creator, per-root summaries, counts by depth,
// approval times) stays default; approval times are InfinitePast.
inline Plan ToPlan(schema::PlanSummary::Reader in) {
  Plan out;
  out.id = std::string(View(in.getId()));
  out.artifact_count = in.getArtifactCount();
  out.workload_count = in.getWorkloadCount();
  out.bulk = in.getBulk();
  for (auto principal : in.getApprovals())
    out.approvals.push_back(Approval{std::string(View(principal)), absl::InfinitePast()});
  out.state = in.getEnforced() ? PlanState::kEnforced : PlanState::kPending;
  out.revocation = std::string(View(in.getRevocation()));
  out.artifacts = ToStrings(in.getArtifacts());
  out.workloads = ToStrings(in.getWorkloads());
  return out;
}

// The reverse of FillEnforce: change counts without samples, and of the
// revocation only its id.
inline EnforceResult ToEnforce(schema::EnforceOutcome::Reader in) {
  EnforceResult out;
  out.enforced = in.getEnforced();
  out.change.added = in.getChangedAdded();
  out.change.removed = in.getChangedRemoved();
  out.revocation.id = std::string(View(in.getRevocation()));
  out.newly_denied = in.getNewlyDenied();
  out.deny_seq = in.getDenySeq();
  out.workloads = ToStrings(in.getWorkloads());
  out.duration = absl::Microseconds(in.getDurationMicros());
  return out;
}

// A Reader.descendants or .ancestors answer (their result types differ
// only by name). A node kind the client does not know becomes an artifact.
template <typename Results>
TraversalResult ToTraversal(const Results& in) {
  TraversalResult out;
  out.root = std::string(View(in.getRoot()));
  out.truncated = in.getTruncated();
  for (auto node : in.getNodes()) {
    std::optional<NodeKind> kind = ParseNodeKind(View(node.getKind()));
    out.nodes.push_back(TraversedNode{std::string(View(node.getRef())),
                                      kind.value_or(NodeKind::kArtifact), node.getDepth()});
  }
  return out;
}

}  // namespace lineage::rpc
