#include "bench/gen/records.h"

#include <string>

namespace lineage::bench {

AttestationRecord ToRecord(const SupplyChain& chain, size_t i) {
  const SyntheticAttestation& a = chain.attestations[i];
  AttestationRecord r;
  const std::string& subject = chain.refs[a.subject];
  r.id = subject.substr(subject.find(':') + 1);
  r.format = "dsse";
  r.payload_type = "application/vnd.in-toto+json";
  r.statement_type = "https://in-toto.io/Statement/v1";
  r.predicate_type = "https://slsa.dev/provenance/v1";
  r.subjects.push_back({{subject}, ""});
  r.materials.reserve(a.materials.size());
  for (uint32_t m : a.materials)
    r.materials.push_back({{chain.refs[m]}, ""});
  const std::string& builder = chain.refs[a.builder];
  r.builder_id = builder.substr(sizeof("builder:") - 1);
  VerifiedSigner signer;
  signer.key_ref = chain.refs[a.key];
  signer.algorithm = "ecdsa-p256-sha256";
  r.signers.push_back(std::move(signer));
  r.time = a.time;
  return r;
}

std::vector<AttestationRecord> ToRecords(const SupplyChain& chain) {
  std::vector<AttestationRecord> records;
  records.reserve(chain.attestations.size());
  for (size_t i = 0; i < chain.attestations.size(); ++i)
    records.push_back(ToRecord(chain, i));
  return records;
}

}  // namespace lineage::bench
