#include "bench/gen/emit.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string_view>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "ingest/include/lineage/ingest/crypto.h"

namespace lineage::bench {
namespace {

constexpr std::string_view kPayloadType = "application/vnd.in-toto+json";

// Half of what lineage ingest reads as one document (IngestLimits), so a file
// is never refused for its size.
constexpr size_t kMaxFileBytes = 16u << 20;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct Signer {
  Pkey key;
  std::string fingerprint;  // hex SHA-256 of the DER SubjectPublicKeyInfo
  std::string pem;
};

absl::StatusOr<Signer> NewSigner() {
  Signer s;
  s.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!s.key) return absl::InternalError("P-256 key generation failed");
  unsigned char* der = nullptr;
  const int der_size = i2d_PUBKEY(s.key.get(), &der);
  if (der_size <= 0) return absl::InternalError("encoding a public key failed");
  s.fingerprint = ingest::Sha256Hex(std::string_view(reinterpret_cast<char*>(der), der_size));
  OPENSSL_free(der);
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio, s.key.get()) != 1) {
    BIO_free(bio);
    return absl::InternalError("writing a public key as PEM failed");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  s.pem.assign(data, static_cast<size_t>(len));
  BIO_free(bio);
  return s;
}

absl::StatusOr<std::string> Sign(EVP_MD_CTX* ctx, EVP_PKEY* key, std::string_view message) {
  // A context reused for another key must be reset first: OpenSSL 3.0 keeps
  // the previous key's operation state otherwise.
  EVP_MD_CTX_reset(ctx);
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) != 1) {
    return absl::InternalError("EVP_DigestSignInit failed");
  }
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  size_t len = 0;
  if (EVP_DigestSign(ctx, nullptr, &len, msg, message.size()) != 1) {
    return absl::InternalError("EVP_DigestSign (size) failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, msg,
                     message.size()) != 1) {
    return absl::InternalError("EVP_DigestSign failed");
  }
  sig.resize(len);
  return sig;
}

// Writes `content` to `path` through a temporary file and a rename, so a
// reader never sees half a file.
absl::Status WriteFile(const std::filesystem::path& path, std::string_view content) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) return absl::InternalError(fmt::format("{}: write failed", tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(fmt::format("{}: rename: {}", path.string(), ec.message()));
  return absl::OkStatus();
}

// "sha256:<hex>" -> ("sha256", "<hex>"); git commits ("sha1:") are named by
// the SLSA digest key "gitCommit".
std::string DigestSet(std::string_view ref) {
  const size_t colon = ref.find(':');
  std::string_view algo = ref.substr(0, colon);
  if (algo == "sha1") algo = "gitCommit";
  return fmt::format(R"({{"{}":"{}"}})", algo, ref.substr(colon + 1));
}

std::string_view Hex(std::string_view ref) {
  return ref.substr(ref.find(':') + 1);
}

std::string Uri(const SupplyChain& chain, uint32_t node) {
  const std::string_view hex = Hex(chain.refs[node]).substr(0, 12);
  switch (chain.roles[node]) {
    case ArtifactRole::kCommit:
      return fmt::format("git+https://git.example/src/{}", hex.substr(0, 4));
    case ArtifactRole::kLibrary:
      return fmt::format("pkg:generic/lib-{}", node);
    default:
      return fmt::format("oci://registry.example/images/{}", node);
  }
}

}  // namespace

std::string StatementJson(const SupplyChain& chain, size_t i) {
  const SyntheticAttestation& a = chain.attestations[i];
  std::string deps;
  for (uint32_t m : a.materials) {
    if (!deps.empty()) deps += ',';
    deps += fmt::format(R"({{"uri":"{}","digest":{}}})", Uri(chain, m), DigestSet(chain.refs[m]));
  }
  const std::string& builder = chain.refs[a.builder];
  return fmt::format(
      R"({{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"{}","digest":{}}}],)"
      R"("predicateType":"https://slsa.dev/provenance/v1","predicate":{{"buildDefinition":{{)"
      R"("buildType":"https://ci.example/build-types/synthetic@v1","externalParameters":{{}},)"
      R"("resolvedDependencies":[{}]}},"runDetails":{{"builder":{{"id":"{}"}},)"
      R"("metadata":{{"invocationId":"{}","finishedOn":"{}"}}}}}}}})",
      Uri(chain, a.subject), DigestSet(chain.refs[a.subject]), deps,
      std::string_view(builder).substr(sizeof("builder:") - 1), i,
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", a.time, absl::UTCTimeZone()));
}

absl::StatusOr<EmitResult> EmitAttestations(const SupplyChain& chain, const EmitOptions& options) {
  if (options.out_dir.empty()) return absl::InvalidArgumentError("out_dir is empty");
  if (options.keys == 0) return absl::InvalidArgumentError("keys must be at least 1");
  if (options.per_file == 0) return absl::InvalidArgumentError("per_file must be at least 1");
  const std::filesystem::path dir(options.out_dir);
  std::error_code ec;
  for (const char* sub : {"keys", "attestations"}) {
    std::filesystem::create_directories(dir / sub, ec);
    if (ec) return absl::InternalError(fmt::format("{}: {}", (dir / sub).string(), ec.message()));
  }

  // Chain keys by rank: ids are dense and in rank order (Generate's contract
  // puts keys first), so rank = id - first key id.
  uint32_t first_key = 0;
  while (first_key < chain.kinds.size() && chain.kinds[first_key] != NodeKind::kKey)
    ++first_key;

  EmitResult result;
  std::vector<Signer> signers;
  std::string policy = "{\"version\":1,\"threshold\":1,\"keys\":[";
  for (uint32_t k = 0; k < options.keys; ++k) {
    absl::StatusOr<Signer> signer = NewSigner();
    if (!signer.ok()) return signer.status();
    const std::string name = fmt::format("key-{}.pub", k);
    if (absl::Status s = WriteFile(dir / "keys" / name, signer->pem); !s.ok()) return s;
    policy +=
        fmt::format(R"({}{{"name":"synthetic-{}","pem_file":"keys/{}"}})", k ? "," : "", k, name);
    result.key_refs.push_back("key:sha256:" + signer->fingerprint);
    signers.push_back(*std::move(signer));
  }
  policy += "]}\n";
  result.policy = (dir / "policy.json").string();
  if (absl::Status s = WriteFile(result.policy, policy); !s.ok()) return s;

  std::string key_map;
  for (uint32_t id = first_key; id < chain.kinds.size() && chain.kinds[id] == NodeKind::kKey;
       ++id) {
    key_map +=
        fmt::format("{}\t{}\n", chain.refs[id], result.key_refs[(id - first_key) % options.keys]);
  }
  if (absl::Status s = WriteFile(dir / "key-map.tsv", key_map); !s.ok()) return s;

  const uint64_t total = options.attestations == 0
                             ? chain.attestations.size()
                             : std::min<uint64_t>(options.attestations, chain.attestations.size());
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx) return absl::InternalError("EVP_MD_CTX_new failed");
  std::string file;
  uint64_t in_file = 0;
  for (uint64_t i = 0; i < total; ++i) {
    const std::string payload = StatementJson(chain, i);
    const Signer& signer = signers[(chain.attestations[i].key - first_key) % options.keys];
    absl::StatusOr<std::string> sig =
        Sign(ctx.get(), signer.key.get(), ingest::Pae(kPayloadType, payload));
    if (!sig.ok()) return sig.status();
    file += fmt::format(
        R"({{"payloadType":"{}","payload":"{}","signatures":[{{"keyid":"{}","sig":"{}"}}]}})",
        kPayloadType, ingest::EncodeBase64(payload), signer.fingerprint,
        ingest::EncodeBase64(*sig));
    file += '\n';
    ++in_file;
    if (in_file == options.per_file || file.size() >= kMaxFileBytes || i + 1 == total) {
      in_file = 0;
      const std::filesystem::path path =
          dir / "attestations" / fmt::format("{:05}.jsonl", result.files.size());
      if (absl::Status s = WriteFile(path, file); !s.ok()) return s;
      result.files.push_back(path.string());
      file.clear();
    }
  }
  result.envelopes = total;
  return result;
}

}  // namespace lineage::bench
