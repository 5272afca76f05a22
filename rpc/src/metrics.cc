#include "rpc/include/lineage/rpc/metrics.h"

#include "absl/time/clock.h"

#include <fmt/format.h>

namespace lineage::rpc {
namespace {

void Header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Sample(std::string* out, std::string_view name, double value) {
  *out += fmt::format("{} {}\n", name, value);
}

std::string EscapeLabel(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i)
    counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(absl::Duration d) {
  double seconds = absl::ToDoubleSeconds(d);
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(absl::ToInt64Nanoseconds(d)),
                       std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::Render(std::string_view name, std::string* out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    *out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  cumulative += counts_[bounds_.size()].load(std::memory_order_relaxed);
  *out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  *out += fmt::format("{}_sum {}\n", name,
                      static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9);
  *out += fmt::format("{}_count {}\n", name, count_.load(std::memory_order_relaxed));
}

Metrics::Metrics()
    : check_latency_({1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2}),
      enforce_duration_({1e-3, 1e-2, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600}) {}

void Metrics::CountCheck(bool deny, bool error, absl::Duration latency) {
  if (error) {
    checks_error_.fetch_add(1, std::memory_order_relaxed);
  } else if (deny) {
    checks_deny_.fetch_add(1, std::memory_order_relaxed);
  } else {
    checks_allow_.fetch_add(1, std::memory_order_relaxed);
  }
  check_latency_.Observe(latency);
}

void Metrics::CountIngest(bool accepted, bool duplicate, std::string_view rejection_reason) {
  if (accepted) {
    (duplicate ? ingest_duplicate_ : ingest_accepted_).fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(mu_);
  rejections_[std::string(rejection_reason)]++;
}

void Metrics::CountEnforce(absl::Duration duration) {
  enforcements_.fetch_add(1, std::memory_order_relaxed);
  enforce_duration_.Observe(duration);
  std::lock_guard lock(mu_);
  last_enforce_ = absl::Now();
  last_enforce_seconds_ = absl::ToDoubleSeconds(duration);
}

std::string Metrics::RejectionReason(std::string_view message) {
  // The verifier's messages name the check that failed; the label keeps
  // only which one, never the file or the key.
  struct Rule {
    std::string_view needle;
    std::string_view label;
  };
  static constexpr Rule kRules[] = {
      {"required trusted signatures", "threshold"},
      {"unsigned", "unsigned"},
      {"trusted key", "untrusted_key"},
      {"verification failed", "signature"},
      {"chain", "certificate"},
      {"certificate", "certificate"},
      {"tlog", "tlog"},
      {"inclusion", "tlog"},
      {"checkpoint", "tlog"},
      {"timestamp", "timestamp"},
      {"identity", "identity"},
      {"exceeds", "limit"},
      {"at most", "limit"},
      {"JSON", "malformed"},
  };
  for (const Rule& r : kRules) {
    if (message.find(r.needle) != std::string_view::npos) return std::string(r.label);
  }
  return "other";
}

std::string Metrics::Render(Store* store, absl::Duration rotation_age, absl::Duration key_refresh) {
  std::string out;
  Header(&out, "lineage_checks_total", "counter", "Gate checks answered, by verdict.");
  out += fmt::format("lineage_checks_total{{verdict=\"allow\"}} {}\n", checks_allow_.load());
  out += fmt::format("lineage_checks_total{{verdict=\"deny\"}} {}\n", checks_deny_.load());
  out += fmt::format("lineage_checks_total{{verdict=\"error\"}} {}\n", checks_error_.load());
  Header(&out, "lineage_check_latency_seconds", "histogram",
         "Time to answer one gate check inside the daemon.");
  check_latency_.Render("lineage_check_latency_seconds", &out);

  Header(&out, "lineage_ingest_attestations_total", "counter",
         "Attestations received over RPC, by outcome.");
  out += fmt::format("lineage_ingest_attestations_total{{outcome=\"accepted\"}} {}\n",
                     ingest_accepted_.load());
  out += fmt::format("lineage_ingest_attestations_total{{outcome=\"duplicate\"}} {}\n",
                     ingest_duplicate_.load());
  Header(&out, "lineage_ingest_rejections_total", "counter",
         "Attestations rejected over RPC, by reason.");
  {
    std::lock_guard lock(mu_);
    if (rejections_.empty()) out += "lineage_ingest_rejections_total{reason=\"signature\"} 0\n";
    for (const auto& [reason, n] : rejections_) {
      out += fmt::format("lineage_ingest_rejections_total{{reason=\"{}\"}} {}\n",
                         EscapeLabel(reason), n);
    }
  }

  Header(&out, "lineage_enforcements_total", "counter", "Revocations enforced through the daemon.");
  Sample(&out, "lineage_enforcements_total", static_cast<double>(enforcements_.load()));
  Header(&out, "lineage_enforce_duration_seconds", "histogram",
         "From enforce request to durable, visible taint (the 10-minute SLO is 600 s).");
  enforce_duration_.Render("lineage_enforce_duration_seconds", &out);
  {
    std::lock_guard lock(mu_);
    Header(&out, "lineage_last_enforce_duration_seconds", "gauge",
           "Duration of the most recent enforcement.");
    Sample(&out, "lineage_last_enforce_duration_seconds", last_enforce_seconds_);
  }

  Header(&out, "lineage_subscribers", "gauge", "Gates subscribed to deny-list pushes.");
  Sample(&out, "lineage_subscribers", static_cast<double>(subscribers_.load()));

  absl::StatusOr<DenyListPage> head = store->DenyListSince(UINT64_MAX - 1, 0);
  Header(&out, "lineage_deny_list_sequence", "gauge", "The latest deny-list sequence number.");
  Sample(&out, "lineage_deny_list_sequence", head.ok() ? static_cast<double>(head->head_seq) : 0);

  absl::StatusOr<StoreStats> stats = store->Stats();
  if (stats.ok()) {
    Header(&out, "lineage_nodes", "gauge", "Nodes in the lineage graph, by kind.");
    for (int k = 1; k <= kNodeKindCount; ++k) {
      out += fmt::format("lineage_nodes{{kind=\"{}\"}} {}\n",
                         NodeKindName(static_cast<NodeKind>(k)), stats->nodes_by_kind[k - 1]);
    }
    Header(&out, "lineage_edges", "gauge", "Distinct edges in the lineage graph, by kind.");
    for (int k = 1; k <= kEdgeKindCount; ++k) {
      out += fmt::format("lineage_edges{{kind=\"{}\"}} {}\n",
                         EdgeKindName(static_cast<EdgeKind>(k)), stats->edges_by_kind[k - 1]);
    }
    Header(&out, "lineage_attestations", "gauge", "Attestations stored.");
    Sample(&out, "lineage_attestations", static_cast<double>(stats->attestations));
  }

  {
    std::lock_guard lock(mu_);
    absl::Time now = absl::Now();
    if (now - keys_computed_ >= key_refresh) {
      absl::StatusOr<KeyUsageReport> keys = store->KeyUsage(rotation_age);
      if (keys.ok()) {
        keys_past_rotation_ = 0;
        for (const SignerUsage& s : keys->signers)
          keys_past_rotation_ += s.beyond_rotation_age ? 1 : 0;
        keys_computed_ = now;
      }
    }
    Header(&out, "lineage_keys_past_rotation_age", "gauge",
           "Long-lived keys still signing beyond the rotation age.");
    Sample(&out, "lineage_keys_past_rotation_age", static_cast<double>(keys_past_rotation_));
  }
  return out;
}

}  // namespace lineage::rpc
