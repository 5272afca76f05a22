@0xbd449741e18e58c3;
# The lineaged RPC service (docs/rpc.md is the reference).
#
# A client bootstraps the Lineage capability and logs in with a token; the
# answer holds exactly the capability of the token's role and nothing else,
# so a gate credential can never reach ingest or revocation: it never holds
# a reference to them.
#
# Engine outcomes (not found, invalid input, needs approval) travel as data
# in every result's `status`; exceptions are for the RPC layer itself
# (disconnects, overload, a malformed call).

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("lineage::rpc::schema");

enum Role {
  gate @0;       # check, why, revocations, deny list, subscribe
  ingest @1;     # attestations and workload inventories
  reader @2;     # traversals, show, plans, stats, revocations, audit, settings
  responder @3;  # plan, enforce, lift (and reading a plan back)
  approver @4;   # approve plans
  admin @5;      # credentials, backup, settings changes
}

struct Status {
  # The engine's absl::Status: code 0 is OK; otherwise the absl code number
  # (3 invalid argument, 5 not found, 6 already exists, 7 permission denied,
  # 9 failed precondition, ...) and its message.
  code @0 :UInt32;
  message @1 :Text;
}

interface Lineage {
  login @0 (token :Text) -> (status :Status, role :Role, gate :Gate, ingest :Ingest,
                             reader :Reader, responder :Responder, approver :Approver,
                             admin :Admin);
  # Unknown or revoked tokens get status code 16 (unauthenticated) and no
  # capability at all.
}

# ---- Gate ----

enum UnknownPolicy {
  allow @0;
  warn @1;
  deny @2;
}

struct CheckResult {
  digest @0 :Text;
  deny @1 :Bool;
  known @2 :Bool;
  deniedBy @3 :List(Text);
  advisories @4 :List(Text);
  advisoryOnly @5 :Bool;
  warnings @6 :List(Text);
}

struct DenyDelta {
  seq @0 :UInt64;
  timeMicros @1 :Int64;
  cause @2 :Text;
  added @3 :List(Text);
  removed @4 :List(Text);
  continued @5 :Bool;
  # A delta too large for one message travels as parts with the same seq,
  # in order: every part but the last has `continued` set. Each part holds
  # the next digests of `added`, then of `removed`. A receiver applies a
  # seq (moves its position to it) only when its last part has arrived.
}

enum RevocationMode {
  enforce @0;
  advisory @1;
}

struct Approval {
  principal @0 :Text;
  timeMicros @1 :Int64;
}

struct Revocation {
  # Every field of the engine's lineage::Revocation.
  id @0 :Text;
  planId @1 :Text;
  roots @2 :List(RevocationRoot);
  reason @3 :Text;
  mode @4 :RevocationMode;
  createdBy @5 :Text;
  approvals @6 :List(Approval);
  enforcedBy @7 :Text;
  enforcedAtMicros @8 :Int64;
  enforcedSeq @9 :UInt64;
  lifted @10 :Bool;
  liftedBy @11 :Text;
  liftedAtMicros @12 :Int64;
  liftReason @13 :Text;
  artifactCount @14 :UInt64;
}

struct SignerEvidence {
  # One signature's verified evidence (the engine's lineage::SignerEvidence).
  keyRef @0 :Text;
  issuer @1 :Text;             # keyless only
  san @2 :Text;                # keyless only
  certificateSha256 @3 :Text;  # keyless only
  logIndex @4 :Int64;          # -1: no transparency-log entry
  signedAtMicros @5 :Int64;
}

struct ChainHop {
  from @0 :Text;
  to @1 :Text;
  kind @2 :Text;  # derived, signed, built, runs
  attestation @3 :Text;
  signers @4 :List(Text);
  timeMicros @5 :Int64;
  evidence @6 :List(SignerEvidence);
}

struct WhyReason {
  revocation @0 :Revocation;
  root @1 :Text;
  chain @2 :List(ChainHop);  # root ... artifact; empty when the artifact is the root
  denies @3 :Bool;
}

struct WhyResult {
  # Every field of the engine's lineage::WhyResult.
  artifact @0 :Text;
  known @1 :Bool;
  check @2 :CheckResult;
  reasons @3 :List(WhyReason);
  ancestorArtifacts @4 :UInt64;
  signers @5 :List(Text);
  builders @6 :List(Text);
  materials @7 :List(Text);
  attestations @8 :List(Text);
  signerEvidence @9 :List(SignerEvidence);
}

interface Gate {
  check @0 (digest :Text, unknown :UnknownPolicy) -> (status :Status, result :CheckResult);
  checkBatch @1 (digests :List(Text), unknown :UnknownPolicy)
      -> (status :Status, results :List(CheckResult));
  # At most 100,000 digests per call.

  # `maxMessageBytes` below is the caller's own receive limit (0: the
  # daemon's, --max-message-mib); every answer and push stays under half of
  # the smaller of the two, splitting a large delta into parts (see
  # DenyDelta.continued) and the snapshot into pages.

  denyListSince @2 (afterSeq :UInt64, maxDeltas :UInt32, skipDigests :UInt64,
                    maxMessageBytes :UInt64)
      -> (status :Status, headSeq :UInt64, deltas :List(DenyDelta), truncated :Bool);
  # Deltas after `afterSeq`; of the first, the first `skipDigests` digests
  # (added, then removed) are left out: the caller has them from an earlier
  # part. The last delta may be a part (`continued`): ask again with the same
  # afterSeq and skipDigests + what arrived. truncated: more follows.
  snapshot @3 (afterDigest :Text, maxMessageBytes :UInt64)
      -> (status :Status, seq :UInt64, digests :List(Text), truncated :Bool);
  # One page of the sorted deny list: digests greater than `afterDigest`.
  # truncated: ask again from the last digest. Pages are read at their own
  # seq: a client that joins pages takes the smallest seq and applies the
  # deltas after it (adds and removes are set operations, so a page already
  # newer than that seq converges).

  subscribe @4 (afterSeq :UInt64, subscriber :DenyListSubscriber, maxMessageBytes :UInt64)
      -> (status :Status, subscription :Subscription);
  # Sends every delta after `afterSeq` in order, then live ones, each exactly
  # once per subscription. Dropping the Subscription ends it. At most 16
  # live subscriptions per login (beyond: status 8, resource exhausted).

  why @5 (digest :Text) -> (status :Status, result :WhyResult);
  # Each active revocation covering the digest with the shortest chain from
  # its root, and the digest's provenance: what a blocked developer reads.

  revocations @6 (ids :List(Text)) -> (status :Status, revocations :List(Revocation));
  # The named revocations in the order asked (check names them by id; this
  # gives their reasons). At most 1,000 ids; an unknown id is status 5.

  # -- history replay (lineage check --at)
  checkAt @7 (digest :Text, unknown :UnknownPolicy, atMicros :Int64)
      -> (status :Status, result :CheckResult);
  # The verdict as it was at `atMicros` (Unix microseconds), replayed from
  # the store's revocation history. Reads RocksDB, so it runs on the query
  # thread and never delays check; slower than check (it replays the
  # deny-list log up to that time). Statuses as check (3: not a digest).
}

interface DenyListSubscriber {
  deltas @0 (deltas :List(DenyDelta)) -> ();
  # The next deltas in sequence order. The server sends the next call only
  # after this one returns: a slow subscriber slows only itself.

  resync @1 (headSeq :UInt64, reason :Text) -> ();
  # The subscriber fell more than the server's limit behind, a push to it
  # failed on a live connection, or the server is shutting down: take a
  # snapshot and subscribe again from its seq.
  # No more deltas follow on this subscription.
}

interface Subscription {}

# ---- Ingest ----

struct Document {
  name @0 :Text;     # for messages, e.g. the file name
  content @1 :Data;
}

struct ItemVerdict {
  source @0 :Text;
  accepted @1 :Bool;
  duplicate @2 :Bool;
  reason @3 :Text;
  newNodes @4 :UInt64;
  newEdges @5 :UInt64;
  attestation @6 :Text;     # its id, when accepted or a duplicate
  warnings @7 :List(Text);  # the verifier's, then the store's ("store: ...")
}

enum InventoryFormat {
  auto @0;
  kubectl @1;
  list @2;
}

struct InventoryDocument {
  name @0 :Text;      # for messages, e.g. the file name
  content @1 :Data;   # kubectl get pods -A -o json, or a lineage list
  cluster @2 :Text;   # required for kubectl output; checked against a list's
  format @3 :InventoryFormat;
}

struct InventoryVerdict {
  # `error` is empty unless the inventory was rejected (it names the file).
  error @0 :Text;
  duplicate @1 :Bool;
  stale @2 :Bool;
  cluster @3 :Text;
  inventory @4 :Text;  # its id
  format @5 :InventoryFormat;  # as detected
  pods @6 :UInt64;
  workloads @7 :UInt64;
  images @8 :UInt64;   # distinct digests
  replaced @9 :Text;   # the inventory it replaced as current; "" if none
  newNodes @10 :UInt64;
  newEdges @11 :UInt64;
  warnings @12 :List(Text);
}

interface Ingest {
  ingest @0 (documents :List(Document)) -> (status :Status, items :List(ItemVerdict));
  # Verified against the daemon's trust policy; each attestation is stored
  # whole or not at all.

  ingestInventories @1 (inventories :List(InventoryDocument))
      -> (status :Status, items :List(InventoryVerdict));
  # Parsed by the daemon and stored in order, each as its cluster's current
  # inventory (one WriteBatch each). A rejected inventory is an item with an
  # error; a store failure ends the call with a non-OK status and stores
  # nothing more.
}

# ---- Reader ----

struct TraversedNode {
  ref @0 :Text;
  kind @1 :Text;
  depth @2 :UInt32;
}

struct WorkloadImages {
  ref @0 :Text;                # workload:<cluster>/<namespace>/<kind>/<name>
  images @1 :List(Text);       # canonical artifact refs it runs, sorted
}

struct ClusterWorkloads {
  # A cluster's current inventory (the engine's lineage::ClusterInventory),
  # or, in a page of Reader.workloads, the next slice of its workloads.
  cluster @0 :Text;
  inventory @1 :Text;          # its id
  timeMicros @2 :Int64;        # when it was taken
  workloads @3 :List(WorkloadImages);  # sorted by ref
}

struct SignerUsage {
  # The engine's lineage::SignerUsage.
  key @0 :Text;
  keyless @1 :Bool;
  attestations @2 :UInt64;
  firstSignedMicros @3 :Int64;  # Int64 min: no known time
  lastSignedMicros @4 :Int64;
  beyondRotationAge @5 :Bool;
}

interface Reader {
  descendants @0 (ref :Text, maxDepth :Int32, limit :UInt64, kinds :List(Text))
      -> (status :Status, root :Text, nodes :List(TraversedNode), truncated :Bool);
  ancestors @1 (ref :Text, maxDepth :Int32, limit :UInt64, kinds :List(Text))
      -> (status :Status, root :Text, nodes :List(TraversedNode), truncated :Bool);
  # `kinds`: follow only these edge kinds (derived, signed, built, runs);
  # empty: every kind. An unknown name is status 3.
  stats @2 () -> (status :Status, nodes :UInt64, edges :UInt64, attestations :UInt64,
                  dbBytes :UInt64, nodesByKind :List(UInt64), edgesByKind :List(UInt64),
                  edgeAssertions :UInt64, unsignedAttestations :UInt64);
  # nodesByKind and edgesByKind are indexed by kind - 1 (artifact, key,
  # builder, workload; derived, signed, built, runs).

  show @3 (ref :Text) -> (status :Status, node :NodeInfo);
  getPlan @4 (planId :Text, maxListed :UInt32) -> (status :Status, plan :PlanSummary);
  # Every field of the plan; maxListed bounds its artifact and workload lists.
  listPlans @5 () -> (status :Status, plans :List(PlanSummary));
  # Newest first, with no artifacts or workloads listed.

  # ---- revocations, audit and settings (lineage revocations, audit, settings)

  listRevocations @6 (all :Bool, afterId :Text, maxMessageBytes :UInt64)
      -> (status :Status, revocations :List(Revocation), truncated :Bool);
  # Revocations oldest first, active ones only unless `all` (then lifted
  # ones too, with `lifted` set). One page: those after the revocation
  # `afterId` ("" from the first; an unknown id is status 5), cut to half the
  # smaller of the caller's `maxMessageBytes` (0: the daemon's) and the
  # daemon's limit, at least one per page. truncated: ask again from the last
  # id. A revocation is never split: one whose roots alone pass the limit
  # fails the call (raise the limits).
  verifyAudit @7 () -> (status :Status, ok :Bool, entries :UInt64, headHash :Text,
                        problems :List(Text), problemsLeftOut :UInt64);
  # Re-hashes the whole audit chain and its evidence (Store::VerifyAudit),
  # on the query thread. ok false: tampered. Problems are cut to the
  # message budget (as listRevocations); problemsLeftOut counts the rest.
  auditLog @8 (fromSeq :UInt64, maxEntries :UInt32, maxMessageBytes :UInt64)
      -> (status :Status, entries :List(AuditEntry), truncated :Bool);
  # Audit entries with seq >= fromSeq (0 counts as 1), at most maxEntries
  # (0: 256; capped at 256) and cut to the message budget (as
  # listRevocations), at least one per page. truncated: ask again from the
  # last seq + 1.
  getSettings @9 () -> (status :Status, settings :RevocationSettings);

  # -- workload inventories and key hygiene (lineage workloads list, keys)
  workloads @10 (cluster :Text, afterCluster :Text, afterInventory :Text, afterWorkload :Text,
                maxMessageBytes :UInt64)
      -> (status :Status, clusters :List(ClusterWorkloads), truncated :Bool);
  # One page of the current inventories of every cluster (sorted by name),
  # or of `cluster` alone (status 5 if it has none), each with its workloads
  # sorted by ref. A page stays under half the smaller of the daemon's and
  # the caller's `maxMessageBytes` (0: the daemon's), but always holds at
  # least one workload. truncated: ask again with afterCluster, afterInventory
  # and afterWorkload set to the last cluster, its inventory id and its last
  # workload ("" if it had none) in this page; the next page starts with the
  # rest of that cluster's workloads, under the same cluster name, when any
  # remain. If that cluster's current inventory is no longer afterInventory
  # (replaced between pages) the answer is status 10 (aborted): start again.
  keyUsage @11 (rotationAgeMicros :Int64, maxMessageBytes :UInt64)
      -> (status :Status, signers :List(SignerUsage), signedAttestations :UInt64,
          keylessAttestations :UInt64, longLivedAttestations :UInt64);
  # Store::KeyUsage: every key node's usage (sorted by key ref) with the
  # rotation age given (status 3 unless positive), on the query thread.
  # One message: status 8 (resource exhausted) when the signers do not fit
  # half the smaller of the daemon's and the caller's `maxMessageBytes`
  # (0: the daemon's); about 200,000 signers fit the default 64 MiB.

  # -- evidence records, paged (`lineage evidence --server`)
  evidence @12 (subject :Text, afterSeq :UInt64, skipItems :UInt64, maxMessageBytes :UInt64)
      -> (status :Status, records :List(EvidenceRecord), truncated :Bool);
  # The evidence records of a revocation or plan id (Store::Evidence) with
  # seq > afterSeq, oldest first; of the first, the first `skipItems` items
  # (artifacts, then workloads) are left out: the caller has them from an
  # earlier part. Like Gate.denyListSince, the answer stays under half of
  # the smaller of the daemon's limit and `maxMessageBytes` (0: the
  # daemon's): a record too large for it travels as parts, the last record
  # of an answer may be one (`continued`): ask again with afterSeq = its seq
  # - 1 and skipItems + what arrived. truncated: more follows. Status 5 for
  # an unknown subject.
}

struct AuditEntry {
  # Every field of the engine's lineage::AuditEntry.
  seq @0 :UInt64;
  timeMicros @1 :Int64;
  actor @2 :Text;
  action @3 :Text;
  subject @4 :Text;
  evidenceHash @5 :Text;
  prevHash @6 :Text;
  hash @7 :Text;
}

struct RevocationSettings {
  # The engine's lineage::RevocationSettings.
  advisoryOnly @0 :Bool;
  bulkThreshold @1 :UInt64;
}

struct EvidenceRecord {
  # Every field of the engine's lineage::EvidenceRecord.
  seq @0 :UInt64;  # its audit-log sequence
  action @1 :Text;
  actor @2 :Text;
  timeMicros @3 :Int64;
  planId @4 :Text;
  revocation @5 :Text;
  roots @6 :List(RevocationRoot);
  reason @7 :Text;
  mode @8 :RevocationMode;
  artifacts @9 :List(Text);
  workloads @10 :List(Text);
  durationMicros @11 :Int64;
  denySeq @12 :UInt64;
  details @13 :Text;
  continued @14 :Bool;
  # A part of a record: every part but the last has `continued` set; each
  # holds the record's fields and the next items of `artifacts`, then of
  # `workloads`.
}

struct EdgeInfo {
  from @0 :Text;
  to @1 :Text;
  kind @2 :Text;
  attestation @3 :Text;
  timeMicros @4 :Int64;
  evidence @5 :List(SignerEvidence);  # signed edges: none or one
}

struct NodeInfo {
  # Every field of the engine's lineage::NodeInfo.
  ref @0 :Text;
  kind @1 :Text;
  aliases @2 :List(Text);
  inEdges @3 :List(EdgeInfo);
  outEdges @4 :List(EdgeInfo);
}

# ---- Revocation ----

struct RevocationRoot {
  ref @0 :Text;
  sinceMicros @1 :Int64;  # Int64 min: no lower bound
  untilMicros @2 :Int64;  # Int64 max: no upper bound
}

struct PlanSummary {
  id @0 :Text;
  artifactCount @1 :UInt64;
  workloadCount @2 :UInt64;
  bulk @3 :Bool;
  approvals @4 :List(Text);
  enforced @5 :Bool;
  revocation @6 :Text;
  artifacts @7 :List(Text);   # at most the requested listing
  workloads @8 :List(Text);
  # The rest of the engine's lineage::Plan: with these a client prints the
  # same review as the embedded CLI.
  roots @9 :List(RevocationRoot);
  reason @10 :Text;
  mode @11 :RevocationMode;
  createdBy @12 :Text;
  createdAtMicros @13 :Int64;
  perRoot @14 :List(RootSummary);
  artifactsByDepth @15 :List(UInt64);
  approvalTimes @16 :List(Int64);  # parallel to approvals
}

struct RootSummary {
  ref @0 :Text;
  kind @1 :Text;
  known @2 :Bool;
  subjects @3 :UInt64;
  artifacts @4 :UInt64;
  shared @5 :UInt64;
}

struct EnforceOutcome {
  enforced @0 :Bool;
  changedAdded @1 :UInt64;
  changedRemoved @2 :UInt64;
  revocation @3 :Text;
  newlyDenied @4 :UInt64;
  denySeq @5 :UInt64;
  workloads @6 :List(Text);
  durationMicros @7 :Int64;
  # The rest of the engine's lineage::EnforceResult.
  record @8 :Revocation;  # the revocation made (when enforced)
  addedSample @9 :List(Text);
  removedSample @10 :List(Text);
  workloadsAdded @11 :UInt64;
  workloadsRemoved @12 :UInt64;
  workloadCount @13 :UInt64;
  # How many workloads the enforcement affects; `workloads` holds the first
  # of them, as many as fit the answer (see Responder.enforce), and
  # Responder.enforcedWorkloads gives the rest.
}

interface Responder {
  plan @0 (roots :List(RevocationRoot), reason :Text, advisory :Bool, actor :Text,
           maxListed :UInt32) -> (status :Status, plan :PlanSummary);
  enforce @1 (planId :Text, actor :Text, acceptChanges :Bool, maxMessageBytes :UInt64)
      -> (status :Status, outcome :EnforceOutcome);
  # The answer stays under half of the smaller of the daemon's limit and
  # `maxMessageBytes` (0: the daemon's), as Gate.denyListSince: at 10M
  # artifacts an enforcement can affect a million workloads (about 80 MiB
  # of refs), so the outcome lists the first ones that fit and
  # `workloadCount`; enforcedWorkloads pages through the rest.
  lift @2 (revocation :Text, actor :Text, reason :Text)
      -> (status :Status, released :UInt64, stillCovered :UInt64, denySeq :UInt64,
          record :Revocation);

  # ---- reading a plan back (the replan hint of an enforce that found the
  # closure changed)

  getPlan @3 (planId :Text, maxListed :UInt32) -> (status :Status, plan :PlanSummary);
  # The same answer as Reader.getPlan.

  # -- the workloads of an enforcement, paged
  enforcedWorkloads @4 (revocation :Text, offset :UInt64, maxMessageBytes :UInt64)
      -> (status :Status, workloads :List(Text), workloadCount :UInt64, truncated :Bool);
  # The workloads an enforcement affected (from its evidence record), in
  # the order of EnforceOutcome.workloads, from index `offset`, as many as
  # fit under half of the smaller limit (at least one). truncated: ask
  # again from offset + what arrived. Status 5 when `revocation` is not an
  # enforced revocation; status 3 for an offset past workloadCount.
}

interface Approver {
  approve @0 (planId :Text, principal :Text) -> (status :Status, plan :PlanSummary);
}

# ---- Admin ----

struct Credential {
  name @0 :Text;
  role @1 :Role;
  createdMicros @2 :Int64;
  revoked @3 :Bool;
}

interface Admin {
  listTokens @0 () -> (status :Status, credentials :List(Credential));
  createToken @1 (name :Text, role :Role) -> (status :Status, token :Text);
  # The token is returned once; the daemon keeps only its hash.
  revokeToken @2 (name :Text) -> (status :Status);
  backup @3 (dir :Text) -> (status :Status, durationMicros :Int64);
  # An online RocksDB checkpoint of the database into `dir` on the daemon's
  # machine (which must not exist). The credentials file is not part of it.
  # It runs on its own thread, beside ingest and enforcement; one at a
  # time: a backup asked for while another runs is status 8 (resource
  # exhausted).

  # ---- settings changes (lineage settings --advisory-only / --bulk-threshold)

  updateSettings @4 (setAdvisoryOnly :Bool, advisoryOnly :Bool, setBulkThreshold :Bool,
                     bulkThreshold :UInt64, actor :Text, reason :Text)
      -> (status :Status, settings :RevocationSettings);
  # Changes the fields whose set* flag is true, keeps the others, on the
  # writer thread (Store::UpdateSettings: audited, and a change of
  # advisoryOnly is a deny-list delta). Admin only: advisory-only turns off
  # every block. The change is recorded as the credential's name; an
  # `actor` naming anyone else is status 7. An empty reason, or no field
  # set, is status 3. Answers the settings now in force.
}
