// Ingest micro-benchmarks: envelope parsing, raw signature verification per
// algorithm, the whole VerifyDocument path for one signed SLSA statement,
// and that plus storing it (BM_IngestSignedDocument). The DESIGN target (>= 70% of the machine's
// OpenSSL verify rate) is read by comparing BM_VerifyDocument/P256 with BM_VerifyP256.
//
// Keys are generated per run; the documents are built once per benchmark.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "engine/include/lineage/store.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/parse.h"
#include "tests/ingest/signing_helpers.h"

namespace lineage::ingest {
namespace {

using testing::KeyKind;
using testing::SignEnvelope;
using testing::SlsaV02Statement;
using testing::TestSigner;

constexpr std::string_view kInToto = "application/vnd.in-toto+json";

// A typical SLSA envelope: 3 subjects, 5 materials (about 2 KB).
void BM_ParseEnvelope(benchmark::State& state) {
  TestSigner signer(KeyKind::kP256);
  std::string envelope = SignEnvelope(kInToto, SlsaV02Statement(1, 3, 5), {&signer});
  IngestLimits limits;
  for (auto _ : state) {
    absl::StatusOr<DsseEnvelope> parsed = ParseEnvelope(envelope, limits);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * envelope.size()));
}
BENCHMARK(BM_ParseEnvelope);

void VerifyOnce(benchmark::State& state, KeyKind kind) {
  TestSigner signer(kind);
  std::string message = Pae(kInToto, SlsaV02Statement(1, 3, 5));
  std::string sig = signer.Sign(message);
  const PublicKey& key = *signer.public_key();
  for (auto _ : state) {
    absl::Status status = key.Verify(message, sig);
    if (!status.ok()) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(status);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifyP256(benchmark::State& state) {
  VerifyOnce(state, KeyKind::kP256);
}
void BM_VerifyEd25519(benchmark::State& state) {
  VerifyOnce(state, KeyKind::kEd25519);
}
BENCHMARK(BM_VerifyP256);
BENCHMARK(BM_VerifyEd25519);

// Parse, verify against a one-key policy, parse the statement, build the
// record: everything VerifyDocument does for one signed attestation.
void BM_VerifyDocument(benchmark::State& state) {
  const KeyKind kind = state.range(0) == 0 ? KeyKind::kP256 : KeyKind::kEd25519;
  state.SetLabel(std::string(testing::KeyKindName(kind)));
  TestSigner signer(kind);
  std::string envelope = SignEnvelope(kInToto, SlsaV02Statement(1, 3, 5), {&signer});
  TrustPolicy policy;
  policy.AddKey(TrustedKey{"bench", signer.public_key(), false});
  IngestOptions options;
  for (auto _ : state) {
    std::vector<ItemResult> items = VerifyDocument("bench.json", envelope, policy, options);
    if (items.size() != 1 || !items[0].record.ok()) state.SkipWithError("not verified");
    benchmark::DoNotOptimize(items);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyDocument)->Arg(0)->Arg(1);

// One signed attestation from envelope to store, on one thread: VerifyDocument
// then Store::Ingest (its own WriteBatch). Every iteration ingests a
// distinct, pre-signed P-256 envelope (1 subject, 3 materials), so none is a
// duplicate; the store starts empty and grows by one attestation per
// iteration.
void BM_IngestSignedDocument(benchmark::State& state) {
  constexpr int kEnvelopes = 20000;
  TestSigner signer(KeyKind::kP256);
  std::vector<std::string> envelopes;
  envelopes.reserve(kEnvelopes);
  for (int i = 0; i < kEnvelopes; ++i)
    envelopes.push_back(SignEnvelope(kInToto, SlsaV02Statement(i, 1, 3), {&signer}));
  TrustPolicy policy;
  policy.AddKey(TrustedKey{"bench", signer.public_key(), false});
  IngestOptions options;

  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("lineage-bm-ingest-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  StoreOptions store_options;
  store_options.logger = NewNullLogger();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir.string(), store_options);
  if (!store.ok()) {
    state.SkipWithError("cannot open a store");
    return;
  }
  size_t next = 0;
  for (auto _ : state) {
    std::vector<ItemResult> items =
        VerifyDocument("bench.json", envelopes[next++ % envelopes.size()], policy, options);
    if (items.size() != 1 || !items[0].record.ok()) {
      state.SkipWithError("not verified");
      break;
    }
    absl::StatusOr<IngestOutcome> stored = (*store)->Ingest(*items[0].record);
    if (!stored.ok() || stored->duplicate) {
      state.SkipWithError("not stored");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_IngestSignedDocument)->Iterations(20000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace lineage::ingest
