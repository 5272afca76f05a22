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
  gate @0;       # check, why, deny list, subscribe
  ingest @1;     # attestations and workload inventories
  reader @2;     # traversals, plans, revocations, stats
  responder @3;  # plan, enforce, lift
  approver @4;   # approve plans
  admin @5;      # credentials
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
}

interface Gate {
  check @0 (digest :Text, unknown :UnknownPolicy) -> (status :Status, result :CheckResult);
  checkBatch @1 (digests :List(Text), unknown :UnknownPolicy)
      -> (status :Status, results :List(CheckResult));
  # At most 100,000 digests per call.

  denyListSince @2 (afterSeq :UInt64, maxDeltas :UInt32)
      -> (status :Status, headSeq :UInt64, deltas :List(DenyDelta), truncated :Bool);
  snapshot @3 () -> (status :Status, seq :UInt64, digests :List(Text));

  subscribe @4 (afterSeq :UInt64, subscriber :DenyListSubscriber)
      -> (status :Status, subscription :Subscription);
  # Sends every delta after `afterSeq` in order, then live ones, each exactly
  # once per subscription. Dropping the Subscription ends it.
}

interface DenyListSubscriber {
  deltas @0 (deltas :List(DenyDelta)) -> ();
  # The next deltas in sequence order. The server sends the next call only
  # after this one returns: a slow subscriber slows only itself.

  resync @1 (headSeq :UInt64, reason :Text) -> ();
  # The subscriber fell more than the server's limit behind (or the server
  # is shutting down): take a snapshot and subscribe again from its seq.
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
}

interface Ingest {
  ingest @0 (documents :List(Document)) -> (status :Status, items :List(ItemVerdict));
  # Verified against the daemon's trust policy; each attestation is stored
  # whole or not at all.
}

# ---- Reader ----

struct TraversedNode {
  ref @0 :Text;
  kind @1 :Text;
  depth @2 :UInt32;
}

interface Reader {
  descendants @0 (ref :Text, maxDepth :Int32, limit :UInt64)
      -> (status :Status, root :Text, nodes :List(TraversedNode), truncated :Bool);
  ancestors @1 (ref :Text, maxDepth :Int32, limit :UInt64)
      -> (status :Status, root :Text, nodes :List(TraversedNode), truncated :Bool);
  stats @2 () -> (status :Status, nodes :UInt64, edges :UInt64, attestations :UInt64,
                  dbBytes :UInt64);
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
}

interface Responder {
  plan @0 (roots :List(RevocationRoot), reason :Text, advisory :Bool, actor :Text,
           maxListed :UInt32) -> (status :Status, plan :PlanSummary);
  enforce @1 (planId :Text, actor :Text, acceptChanges :Bool)
      -> (status :Status, outcome :EnforceOutcome);
  lift @2 (revocation :Text, actor :Text, reason :Text)
      -> (status :Status, released :UInt64, stillCovered :UInt64, denySeq :UInt64);
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
}
