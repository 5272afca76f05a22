// The one place where engine values and outcomes become RPC data and back.
//
// Engine outcomes travel as a Status struct in every result (absl code number
// and message); only failures of the RPC layer itself are kj exceptions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <fmt/format.h>

#include "engine/include/lineage/revocation.h"
#include "engine/include/lineage/store.h"
#include "engine/include/lineage/types.h"
#include "ingest/include/lineage/ingest/inventory.h"
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

// ---- revocations, why

inline schema::RevocationMode ToSchema(RevocationMode mode) {
  return mode == RevocationMode::kAdvisory ? schema::RevocationMode::ADVISORY
                                           : schema::RevocationMode::ENFORCE;
}

inline RevocationMode FromSchema(schema::RevocationMode mode) {
  return mode == schema::RevocationMode::ADVISORY ? RevocationMode::kAdvisory
                                                  : RevocationMode::kEnforce;
}

inline void FillRoots(capnp::List<schema::RevocationRoot>::Builder out,
                      const std::vector<RevocationRoot>& in) {
  for (size_t i = 0; i < in.size(); ++i)
    FillRoot(out[i], in[i]);
}

inline std::vector<RevocationRoot> ToRoots(capnp::List<schema::RevocationRoot>::Reader in) {
  std::vector<RevocationRoot> out;
  out.reserve(in.size());
  for (auto root : in)
    out.push_back(FromSchema(root));
  return out;
}

inline void FillApprovals(capnp::List<schema::Approval>::Builder out,
                          const std::vector<Approval>& in) {
  for (size_t i = 0; i < in.size(); ++i) {
    out[i].setPrincipal(Text(in[i].principal));
    out[i].setTimeMicros(ToMicros(in[i].time));
  }
}

inline std::vector<Approval> ToApprovals(capnp::List<schema::Approval>::Reader in) {
  std::vector<Approval> out;
  for (auto a : in)
    out.push_back(Approval{std::string(View(a.getPrincipal())), FromMicros(a.getTimeMicros())});
  return out;
}

inline void FillRevocation(schema::Revocation::Builder out, const Revocation& in) {
  out.setId(Text(in.id));
  out.setPlanId(Text(in.plan_id));
  FillRoots(out.initRoots(in.roots.size()), in.roots);
  out.setReason(Text(in.reason));
  out.setMode(ToSchema(in.mode));
  out.setCreatedBy(Text(in.created_by));
  FillApprovals(out.initApprovals(in.approvals.size()), in.approvals);
  out.setEnforcedBy(Text(in.enforced_by));
  out.setEnforcedAtMicros(ToMicros(in.enforced_at));
  out.setEnforcedSeq(in.enforced_seq);
  out.setLifted(in.state == RevocationState::kLifted);
  out.setLiftedBy(Text(in.lifted_by));
  out.setLiftedAtMicros(ToMicros(in.lifted_at));
  out.setLiftReason(Text(in.lift_reason));
  out.setArtifactCount(in.artifact_count);
}

inline Revocation ToRevocation(schema::Revocation::Reader in) {
  Revocation out;
  out.id = std::string(View(in.getId()));
  out.plan_id = std::string(View(in.getPlanId()));
  out.roots = ToRoots(in.getRoots());
  out.reason = std::string(View(in.getReason()));
  out.mode = FromSchema(in.getMode());
  out.created_by = std::string(View(in.getCreatedBy()));
  out.approvals = ToApprovals(in.getApprovals());
  out.enforced_by = std::string(View(in.getEnforcedBy()));
  out.enforced_at = FromMicros(in.getEnforcedAtMicros());
  out.enforced_seq = in.getEnforcedSeq();
  out.state = in.getLifted() ? RevocationState::kLifted : RevocationState::kActive;
  out.lifted_by = std::string(View(in.getLiftedBy()));
  out.lifted_at = FromMicros(in.getLiftedAtMicros());
  out.lift_reason = std::string(View(in.getLiftReason()));
  out.artifact_count = in.getArtifactCount();
  return out;
}

// An edge kind the client does not know becomes `derived` (the kind names
// are part of the schema's contract, so this is only an older client).
inline EdgeKind ToEdgeKind(capnp::Text::Reader name) {
  return ParseEdgeKind(View(name)).value_or(EdgeKind::kDerived);
}

inline NodeKind ToNodeKind(capnp::Text::Reader name) {
  return ParseNodeKind(View(name)).value_or(NodeKind::kArtifact);
}

inline std::string KindText(EdgeKind kind) {
  return std::string(EdgeKindName(kind));
}

inline std::string KindText(NodeKind kind) {
  return std::string(NodeKindName(kind));
}

inline void FillEvidence(schema::SignerEvidence::Builder out, const SignerEvidence& in) {
  out.setKeyRef(Text(in.key_ref));
  out.setIssuer(Text(in.issuer));
  out.setSan(Text(in.san));
  out.setCertificateSha256(Text(in.certificate_sha256));
  out.setLogIndex(in.log_index);
  out.setSignedAtMicros(ToMicros(in.signed_at));
}

inline SignerEvidence ToEvidence(schema::SignerEvidence::Reader in) {
  SignerEvidence out;
  out.key_ref = std::string(View(in.getKeyRef()));
  out.issuer = std::string(View(in.getIssuer()));
  out.san = std::string(View(in.getSan()));
  out.certificate_sha256 = std::string(View(in.getCertificateSha256()));
  out.log_index = in.getLogIndex();
  out.signed_at = FromMicros(in.getSignedAtMicros());
  return out;
}

inline void FillEvidenceList(capnp::List<schema::SignerEvidence>::Builder out,
                             const std::vector<SignerEvidence>& in) {
  for (size_t i = 0; i < in.size(); ++i)
    FillEvidence(out[i], in[i]);
}

inline std::vector<SignerEvidence> ToEvidenceList(capnp::List<schema::SignerEvidence>::Reader in) {
  std::vector<SignerEvidence> out;
  out.reserve(in.size());
  for (auto e : in)
    out.push_back(ToEvidence(e));
  return out;
}

inline void FillWhy(schema::WhyResult::Builder out, const WhyResult& in) {
  out.setArtifact(Text(in.artifact));
  out.setKnown(in.known);
  FillCheck(out.initCheck(), in.check);
  auto reasons = out.initReasons(in.reasons.size());
  for (size_t i = 0; i < in.reasons.size(); ++i) {
    const WhyReason& r = in.reasons[i];
    FillRevocation(reasons[i].initRevocation(), r.revocation);
    reasons[i].setRoot(Text(r.root));
    reasons[i].setDenies(r.denies);
    auto chain = reasons[i].initChain(r.chain.size());
    for (size_t j = 0; j < r.chain.size(); ++j) {
      const ChainHop& hop = r.chain[j];
      chain[j].setFrom(Text(hop.from));
      chain[j].setTo(Text(hop.to));
      chain[j].setKind(Text(KindText(hop.kind)));
      chain[j].setAttestation(Text(hop.attestation));
      FillTexts(chain[j].initSigners(hop.signers.size()), hop.signers);
      FillEvidenceList(chain[j].initEvidence(hop.evidence.size()), hop.evidence);
      chain[j].setTimeMicros(ToMicros(hop.time));
    }
  }
  out.setAncestorArtifacts(in.ancestor_artifacts);
  FillTexts(out.initSigners(in.signers.size()), in.signers);
  FillEvidenceList(out.initSignerEvidence(in.signer_evidence.size()), in.signer_evidence);
  FillTexts(out.initBuilders(in.builders.size()), in.builders);
  FillTexts(out.initMaterials(in.materials.size()), in.materials);
  FillTexts(out.initAttestations(in.attestations.size()), in.attestations);
}

inline WhyResult ToWhy(schema::WhyResult::Reader in) {
  WhyResult out;
  out.artifact = std::string(View(in.getArtifact()));
  out.known = in.getKnown();
  out.check = ToCheck(in.getCheck());
  for (auto r : in.getReasons()) {
    WhyReason reason;
    reason.revocation = ToRevocation(r.getRevocation());
    reason.root = std::string(View(r.getRoot()));
    reason.denies = r.getDenies();
    for (auto hop : r.getChain()) {
      ChainHop h;
      h.from = std::string(View(hop.getFrom()));
      h.to = std::string(View(hop.getTo()));
      h.kind = ToEdgeKind(hop.getKind());
      h.attestation = std::string(View(hop.getAttestation()));
      h.signers = ToStrings(hop.getSigners());
      h.evidence = ToEvidenceList(hop.getEvidence());
      h.time = FromMicros(hop.getTimeMicros());
      reason.chain.push_back(std::move(h));
    }
    out.reasons.push_back(std::move(reason));
  }
  out.ancestor_artifacts = in.getAncestorArtifacts();
  out.signers = ToStrings(in.getSigners());
  out.signer_evidence = ToEvidenceList(in.getSignerEvidence());
  out.builders = ToStrings(in.getBuilders());
  out.materials = ToStrings(in.getMaterials());
  out.attestations = ToStrings(in.getAttestations());
  return out;
}

// ---- show

inline void FillEdges(capnp::List<schema::EdgeInfo>::Builder out, const std::vector<EdgeInfo>& in) {
  for (size_t i = 0; i < in.size(); ++i) {
    out[i].setFrom(Text(in[i].from));
    out[i].setTo(Text(in[i].to));
    out[i].setKind(Text(KindText(in[i].kind)));
    out[i].setAttestation(Text(in[i].attestation));
    out[i].setTimeMicros(ToMicros(in[i].time));
    if (in[i].evidence) {
      FillEvidence(out[i].initEvidence(1)[0], *in[i].evidence);
    } else {
      out[i].initEvidence(0);
    }
  }
}

inline std::vector<EdgeInfo> ToEdges(capnp::List<schema::EdgeInfo>::Reader in) {
  std::vector<EdgeInfo> out;
  out.reserve(in.size());
  for (auto e : in) {
    EdgeInfo edge;
    edge.from = std::string(View(e.getFrom()));
    edge.to = std::string(View(e.getTo()));
    edge.kind = ToEdgeKind(e.getKind());
    edge.attestation = std::string(View(e.getAttestation()));
    edge.time = FromMicros(e.getTimeMicros());
    if (e.getEvidence().size() > 0) edge.evidence = ToEvidence(e.getEvidence()[0]);
    out.push_back(std::move(edge));
  }
  return out;
}

inline void FillNode(schema::NodeInfo::Builder out, const NodeInfo& in) {
  out.setRef(Text(in.ref));
  out.setKind(Text(KindText(in.kind)));
  FillTexts(out.initAliases(in.aliases.size()), in.aliases);
  FillEdges(out.initInEdges(in.in_edges.size()), in.in_edges);
  FillEdges(out.initOutEdges(in.out_edges.size()), in.out_edges);
}

inline NodeInfo ToNode(schema::NodeInfo::Reader in) {
  NodeInfo out;
  out.ref = std::string(View(in.getRef()));
  out.kind = ToNodeKind(in.getKind());
  out.aliases = ToStrings(in.getAliases());
  out.in_edges = ToEdges(in.getInEdges());
  out.out_edges = ToEdges(in.getOutEdges());
  return out;
}

// ---- stats

template <typename Results>
void FillStats(Results out, const StoreStats& in) {
  uint64_t nodes = 0, edges = 0;
  auto by_node = out.initNodesByKind(kNodeKindCount);
  for (int i = 0; i < kNodeKindCount; ++i) {
    by_node.set(i, in.nodes_by_kind[i]);
    nodes += in.nodes_by_kind[i];
  }
  auto by_edge = out.initEdgesByKind(kEdgeKindCount);
  for (int i = 0; i < kEdgeKindCount; ++i) {
    by_edge.set(i, in.edges_by_kind[i]);
    edges += in.edges_by_kind[i];
  }
  out.setNodes(nodes);
  out.setEdges(edges);
  out.setEdgeAssertions(in.edge_assertions);
  out.setAttestations(in.attestations);
  out.setUnsignedAttestations(in.unsigned_attestations);
  out.setDbBytes(in.db_bytes);
}

// Kinds beyond what this client knows are dropped; missing ones stay 0.
template <typename Results>
StoreStats ToStats(const Results& in) {
  StoreStats out;
  auto by_node = in.getNodesByKind();
  for (uint32_t i = 0; i < by_node.size() && i < kNodeKindCount; ++i)
    out.nodes_by_kind[i] = by_node[i];
  auto by_edge = in.getEdgesByKind();
  for (uint32_t i = 0; i < by_edge.size() && i < kEdgeKindCount; ++i)
    out.edges_by_kind[i] = by_edge[i];
  out.edge_assertions = in.getEdgeAssertions();
  out.attestations = in.getAttestations();
  out.unsigned_attestations = in.getUnsignedAttestations();
  out.db_bytes = in.getDbBytes();
  return out;
}

// ---- workload inventories

inline schema::InventoryFormat ToSchema(ingest::InventoryFormat format) {
  switch (format) {
    case ingest::InventoryFormat::kKubectl:
      return schema::InventoryFormat::KUBECTL;
    case ingest::InventoryFormat::kList:
      return schema::InventoryFormat::LIST;
    case ingest::InventoryFormat::kAuto:
      break;
  }
  return schema::InventoryFormat::AUTO;
}

inline ingest::InventoryFormat FromSchema(schema::InventoryFormat format) {
  switch (format) {
    case schema::InventoryFormat::KUBECTL:
      return ingest::InventoryFormat::kKubectl;
    case schema::InventoryFormat::LIST:
      return ingest::InventoryFormat::kList;
    default:
      return ingest::InventoryFormat::kAuto;
  }
}

inline void FillInventoryReport(schema::InventoryVerdict::Builder out,
                                const ingest::InventoryReport& in) {
  out.setError(Text(in.error));
  FillTexts(out.initWarnings(in.warnings.size()), in.warnings);
  out.setCluster(Text(in.cluster));
  out.setInventory(Text(in.id));
  out.setFormat(ToSchema(in.format));
  out.setPods(in.pods);
  out.setWorkloads(in.workloads);
  out.setImages(in.images);
  out.setDuplicate(in.outcome.duplicate);
  out.setStale(in.outcome.stale);
  out.setReplaced(Text(in.outcome.replaced));
  out.setNewNodes(in.outcome.new_nodes);
  out.setNewEdges(in.outcome.new_edges);
}

inline ingest::InventoryReport ToInventoryReport(schema::InventoryVerdict::Reader in) {
  ingest::InventoryReport out;
  out.error = std::string(View(in.getError()));
  out.warnings = ToStrings(in.getWarnings());
  out.cluster = std::string(View(in.getCluster()));
  out.id = std::string(View(in.getInventory()));
  out.format = FromSchema(in.getFormat());
  out.pods = in.getPods();
  out.workloads = in.getWorkloads();
  out.images = in.getImages();
  out.outcome.duplicate = in.getDuplicate();
  out.outcome.stale = in.getStale();
  out.outcome.replaced = std::string(View(in.getReplaced()));
  out.outcome.new_nodes = in.getNewNodes();
  out.outcome.new_edges = in.getNewEdges();
  return out;
}

inline void FillPlan(schema::PlanSummary::Builder out, const Plan& in) {
  out.setId(Text(in.id));
  FillRoots(out.initRoots(in.roots.size()), in.roots);
  out.setReason(Text(in.reason));
  out.setMode(ToSchema(in.mode));
  out.setCreatedBy(Text(in.created_by));
  out.setCreatedAtMicros(ToMicros(in.created_at));
  auto per_root = out.initPerRoot(in.per_root.size());
  for (size_t i = 0; i < in.per_root.size(); ++i) {
    const RootSummary& r = in.per_root[i];
    per_root[i].setRef(Text(r.ref));
    per_root[i].setKind(Text(KindText(r.kind)));
    per_root[i].setKnown(r.known);
    per_root[i].setSubjects(r.subjects);
    per_root[i].setArtifacts(r.artifacts);
    per_root[i].setShared(r.shared);
  }
  out.setArtifactCount(in.artifact_count);
  auto by_depth = out.initArtifactsByDepth(in.artifacts_by_depth.size());
  for (size_t i = 0; i < in.artifacts_by_depth.size(); ++i)
    by_depth.set(i, in.artifacts_by_depth[i]);
  FillTexts(out.initArtifacts(in.artifacts.size()), in.artifacts);
  out.setWorkloadCount(in.workload_count);
  FillTexts(out.initWorkloads(in.workloads.size()), in.workloads);
  out.setBulk(in.bulk);
  auto approvals = out.initApprovals(in.approvals.size());
  auto approval_times = out.initApprovalTimes(in.approvals.size());
  for (size_t i = 0; i < in.approvals.size(); ++i) {
    approvals.set(i, Text(in.approvals[i].principal));
    approval_times.set(i, ToMicros(in.approvals[i].time));
  }
  out.setEnforced(in.state == PlanState::kEnforced);
  out.setRevocation(Text(in.revocation));
}

// `listed`: how many of in.workloads the outcome lists (the first ones; the
// server cuts the list to the message limit). workloadCount is always all
// of them.
inline void FillEnforce(schema::EnforceOutcome::Builder out, const EnforceResult& in,
                        size_t listed = std::numeric_limits<size_t>::max()) {
  out.setEnforced(in.enforced);
  out.setChangedAdded(in.change.added);
  out.setChangedRemoved(in.change.removed);
  out.setRevocation(Text(in.revocation.id));
  out.setNewlyDenied(in.newly_denied);
  out.setDenySeq(in.deny_seq);
  listed = std::min(listed, in.workloads.size());
  auto workloads = out.initWorkloads(listed);
  for (size_t i = 0; i < listed; ++i)
    workloads.set(i, Text(in.workloads[i]));
  out.setWorkloadCount(in.workloads.size());
  out.setDurationMicros(absl::ToInt64Microseconds(in.duration));
  FillRevocation(out.initRecord(), in.revocation);
  FillTexts(out.initAddedSample(in.change.added_sample.size()), in.change.added_sample);
  FillTexts(out.initRemovedSample(in.change.removed_sample.size()), in.change.removed_sample);
  out.setWorkloadsAdded(in.change.workloads_added);
  out.setWorkloadsRemoved(in.change.workloads_removed);
}

inline Plan ToPlan(schema::PlanSummary::Reader in) {
  Plan out;
  out.id = std::string(View(in.getId()));
  out.roots = ToRoots(in.getRoots());
  out.reason = std::string(View(in.getReason()));
  out.mode = FromSchema(in.getMode());
  out.created_by = std::string(View(in.getCreatedBy()));
  out.created_at = FromMicros(in.getCreatedAtMicros());
  for (auto r : in.getPerRoot()) {
    out.per_root.push_back(RootSummary{std::string(View(r.getRef())), ToNodeKind(r.getKind()),
                                       r.getKnown(), r.getSubjects(), r.getArtifacts(),
                                       r.getShared()});
  }
  out.artifact_count = in.getArtifactCount();
  for (uint64_t n : in.getArtifactsByDepth())
    out.artifacts_by_depth.push_back(n);
  out.artifacts = ToStrings(in.getArtifacts());
  out.workload_count = in.getWorkloadCount();
  out.workloads = ToStrings(in.getWorkloads());
  out.bulk = in.getBulk();
  auto times = in.getApprovalTimes();
  auto principals = in.getApprovals();
  for (uint32_t i = 0; i < principals.size(); ++i) {
    // A daemon older than approvalTimes sends none: the time is unknown.
    absl::Time time = i < times.size() ? FromMicros(times[i]) : absl::InfinitePast();
    out.approvals.push_back(Approval{std::string(View(principals[i])), time});
  }
  out.state = in.getEnforced() ? PlanState::kEnforced : PlanState::kPending;
  out.revocation = std::string(View(in.getRevocation()));
  return out;
}

inline EnforceResult ToEnforce(schema::EnforceOutcome::Reader in) {
  EnforceResult out;
  out.enforced = in.getEnforced();
  out.change.added = in.getChangedAdded();
  out.change.removed = in.getChangedRemoved();
  out.change.added_sample = ToStrings(in.getAddedSample());
  out.change.removed_sample = ToStrings(in.getRemovedSample());
  out.change.workloads_added = in.getWorkloadsAdded();
  out.change.workloads_removed = in.getWorkloadsRemoved();
  if (in.hasRecord()) out.revocation = ToRevocation(in.getRecord());
  out.revocation.id = std::string(View(in.getRevocation()));
  out.newly_denied = in.getNewlyDenied();
  out.deny_seq = in.getDenySeq();
  out.workloads = ToStrings(in.getWorkloads());
  out.duration = absl::Microseconds(in.getDurationMicros());
  return out;
}

// ---- evidence records
//
// A record travels whole or as parts (EvidenceRecord.continued); these map
// one record or part. The server cuts, the client joins.

inline void FillEvidenceRecord(schema::EvidenceRecord::Builder out, const EvidenceRecord& in) {
  out.setSeq(in.seq);
  out.setAction(Text(in.action));
  out.setActor(Text(in.actor));
  out.setTimeMicros(ToMicros(in.time));
  out.setPlanId(Text(in.plan_id));
  out.setRevocation(Text(in.revocation));
  FillRoots(out.initRoots(in.roots.size()), in.roots);
  out.setReason(Text(in.reason));
  out.setMode(ToSchema(in.mode));
  FillTexts(out.initArtifacts(in.artifacts.size()), in.artifacts);
  FillTexts(out.initWorkloads(in.workloads.size()), in.workloads);
  out.setDurationMicros(absl::ToInt64Microseconds(in.duration));
  out.setDenySeq(in.deny_seq);
  out.setDetails(Text(in.details));
}

inline EvidenceRecord ToEvidenceRecord(schema::EvidenceRecord::Reader in) {
  EvidenceRecord out;
  out.seq = in.getSeq();
  out.action = std::string(View(in.getAction()));
  out.actor = std::string(View(in.getActor()));
  out.time = FromMicros(in.getTimeMicros());
  out.plan_id = std::string(View(in.getPlanId()));
  out.revocation = std::string(View(in.getRevocation()));
  out.roots = ToRoots(in.getRoots());
  out.reason = std::string(View(in.getReason()));
  out.mode = FromSchema(in.getMode());
  out.artifacts = ToStrings(in.getArtifacts());
  out.workloads = ToStrings(in.getWorkloads());
  out.duration = absl::Microseconds(in.getDurationMicros());
  out.deny_seq = in.getDenySeq();
  out.details = std::string(View(in.getDetails()));
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

// ---- audit and settings

inline void FillAuditEntry(schema::AuditEntry::Builder out, const AuditEntry& in) {
  out.setSeq(in.seq);
  out.setTimeMicros(ToMicros(in.time));
  out.setActor(Text(in.actor));
  out.setAction(Text(in.action));
  out.setSubject(Text(in.subject));
  out.setEvidenceHash(Text(in.evidence_hash));
  out.setPrevHash(Text(in.prev_hash));
  out.setHash(Text(in.hash));
}

inline AuditEntry ToAuditEntry(schema::AuditEntry::Reader in) {
  AuditEntry out;
  out.seq = in.getSeq();
  out.time = FromMicros(in.getTimeMicros());
  out.actor = std::string(View(in.getActor()));
  out.action = std::string(View(in.getAction()));
  out.subject = std::string(View(in.getSubject()));
  out.evidence_hash = std::string(View(in.getEvidenceHash()));
  out.prev_hash = std::string(View(in.getPrevHash()));
  out.hash = std::string(View(in.getHash()));
  return out;
}

// A Reader.verifyAudit answer with the first `listed` problems of `in`
// (the rest are counted in problemsLeftOut). REQUIRES: listed <=
// in.problems.size().
template <typename Results>
void FillAuditVerification(Results out, const AuditVerification& in, size_t listed) {
  out.setOk(in.ok);
  out.setEntries(in.entries);
  out.setHeadHash(Text(in.head_hash));
  auto problems = out.initProblems(listed);
  for (size_t i = 0; i < listed; ++i)
    problems.set(i, Text(in.problems[i]));
  out.setProblemsLeftOut(in.problems.size() - listed);
}

// Problems the daemon left out of its answer become one last line that
// says how many and where to see them.
template <typename Results>
AuditVerification ToAuditVerification(const Results& in) {
  AuditVerification out;
  out.ok = in.getOk();
  out.entries = in.getEntries();
  out.head_hash = std::string(View(in.getHeadHash()));
  out.problems = ToStrings(in.getProblems());
  if (in.getProblemsLeftOut() > 0) {
    out.problems.push_back(fmt::format(
        "… and {} more problems, left out of the RPC answer (run audit verify with --db on the "
        "database host to list them)",
        in.getProblemsLeftOut()));
  }
  return out;
}

inline void FillSettings(schema::RevocationSettings::Builder out, const RevocationSettings& in) {
  out.setAdvisoryOnly(in.advisory_only);
  out.setBulkThreshold(in.bulk_threshold);
}

inline RevocationSettings ToSettings(schema::RevocationSettings::Reader in) {
  RevocationSettings out;
  out.advisory_only = in.getAdvisoryOnly();
  out.bulk_threshold = in.getBulkThreshold();
  return out;
}

// ---- traversal edge kinds, workloads list, keys, check --at

// Reader.descendants/ancestors `kinds`: the names of the kinds in `mask`,
// or none for every kind (what an older client sends, and means).
inline void FillEdgeKinds(capnp::List<capnp::Text>::Builder out, const std::vector<EdgeKind>& in) {
  for (size_t i = 0; i < in.size(); ++i)
    out.set(i, Text(KindText(in[i])));
}

inline std::vector<EdgeKind> EdgeKindsOf(EdgeKindMask mask) {
  std::vector<EdgeKind> out;
  if (mask.bits() == EdgeKindMask::All().bits()) return out;
  for (EdgeKind kind : {EdgeKind::kDerived, EdgeKind::kSigned, EdgeKind::kBuilt, EdgeKind::kRuns})
    if (mask.Contains(kind)) out.push_back(kind);
  return out;
}

// Empty: every kind. InvalidArgument names an unknown kind.
inline absl::StatusOr<EdgeKindMask> ToEdgeKindMask(capnp::List<capnp::Text>::Reader in) {
  if (in.size() == 0) return EdgeKindMask::All();
  EdgeKindMask mask;
  for (auto name : in) {
    std::optional<EdgeKind> kind = ParseEdgeKind(View(name));
    if (!kind) {
      return absl::InvalidArgumentError("kinds: unknown edge kind \"" + std::string(View(name)) +
                                        "\" (derived, signed, built, runs)");
    }
    mask.Add(*kind);
  }
  return mask;
}

inline void FillClusterWorkloads(schema::ClusterWorkloads::Builder out,
                                 const ClusterInventory& in) {
  out.setCluster(Text(in.cluster));
  out.setInventory(Text(in.inventory));
  out.setTimeMicros(ToMicros(in.time));
  auto list = out.initWorkloads(in.workloads.size());
  for (size_t i = 0; i < in.workloads.size(); ++i) {
    list[i].setRef(Text(in.workloads[i].ref));
    FillTexts(list[i].initImages(in.workloads[i].images.size()), in.workloads[i].images);
  }
}

inline ClusterInventory ToClusterInventory(schema::ClusterWorkloads::Reader in) {
  ClusterInventory out;
  out.cluster = std::string(View(in.getCluster()));
  out.inventory = std::string(View(in.getInventory()));
  out.time = FromMicros(in.getTimeMicros());
  out.workloads.reserve(in.getWorkloads().size());
  for (auto w : in.getWorkloads())
    out.workloads.push_back(
        ClusterWorkload{std::string(View(w.getRef())), ToStrings(w.getImages())});
  return out;
}

inline void FillSigner(schema::SignerUsage::Builder out, const SignerUsage& in) {
  out.setKey(Text(in.key));
  out.setKeyless(in.keyless);
  out.setAttestations(in.attestations);
  out.setFirstSignedMicros(ToMicros(in.first_signed));
  out.setLastSignedMicros(ToMicros(in.last_signed));
  out.setBeyondRotationAge(in.beyond_rotation_age);
}

inline SignerUsage ToSigner(schema::SignerUsage::Reader in) {
  SignerUsage out;
  out.key = std::string(View(in.getKey()));
  out.keyless = in.getKeyless();
  out.attestations = in.getAttestations();
  out.first_signed = FromMicros(in.getFirstSignedMicros());
  out.last_signed = FromMicros(in.getLastSignedMicros());
  out.beyond_rotation_age = in.getBeyondRotationAge();
  return out;
}

// A Reader.keyUsage answer; the rotation age is the caller's own.
template <typename Results>
void FillKeyUsage(Results out, const KeyUsageReport& in) {
  auto signers = out.initSigners(in.signers.size());
  for (size_t i = 0; i < in.signers.size(); ++i)
    FillSigner(signers[i], in.signers[i]);
  out.setSignedAttestations(in.signed_attestations);
  out.setKeylessAttestations(in.keyless_attestations);
  out.setLongLivedAttestations(in.long_lived_attestations);
}

template <typename Results>
KeyUsageReport ToKeyUsage(const Results& in, absl::Duration rotation_age) {
  KeyUsageReport out;
  out.rotation_age = rotation_age;
  for (auto s : in.getSigners())
    out.signers.push_back(ToSigner(s));
  out.signed_attestations = in.getSignedAttestations();
  out.keyless_attestations = in.getKeylessAttestations();
  out.long_lived_attestations = in.getLongLivedAttestations();
  return out;
}

}  // namespace lineage::rpc
