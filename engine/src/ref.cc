#include "engine/include/lineage/ref.h"

#include <array>
#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"

#include <fmt/format.h>

namespace lineage {
namespace {

struct KnownAlgorithm {
  std::string_view name;
  size_t hex_length;
  std::string_view empty_digest;  // hex of the empty input
  int preference;
};

// Algorithms whose value length we can check. Preference: the node's primary
// ref is its strongest common digest, so that the same artifact reached via
// different attestations lands on the same primary.
constexpr std::array<KnownAlgorithm, 12> kKnown = {{
    {"sha256", 64, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0},
    {"sha512", 128,
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877"
     "eec2f63b931bd47417a81a538327af927da3e",
     1},
    {"sha384", 96,
     "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f1489"
     "8b95b",
     2},
    {"sha3_256", 64, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a", 3},
    {"sha3_512", 128,
     "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f94c11e3e9402c3"
     "ac558f500199d95b6d3e301758586281dcd26",
     4},
    {"sha512_256", 64, "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a", 5},
    {"sha224", 56, "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f", 6},
    {"sha512_224", 56, "", 7},
    {"sha3_384", 96, "", 8},
    {"sha1", 40, "da39a3ee5e6b4b0d3255bfef95601890afd80709", 9},
    {"md5", 32, "d41d8cd98f00b204e9800998ecf8427e", 10},
    // git's object id of the empty blob; a git blob id is not a file digest,
    // so it keeps its own name.
    {"gitblob", 40, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", 11},
}};

constexpr int kUnknownPreference = 100;
constexpr size_t kMaxAlgorithmLength = 64;
constexpr size_t kMaxUnknownValueLength = 256;
constexpr size_t kMaxIdLength = 2048;

const KnownAlgorithm* FindKnown(std::string_view name) {
  for (const KnownAlgorithm& a : kKnown) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// Debian's abseil has its own string_view, so its string helpers do not take
// std::string_view; these two small ones stand in.
std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ToLower(a) == ToLower(b);
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

// Printable ASCII and UTF-8 continuation bytes; no controls, no spaces at the
// ends. Identifiers go into keys and messages, so control characters are out.
bool IsCleanId(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return s.front() != ' ' && s.back() != ' ';
}

// Normalises an algorithm name: lower case, '-' as '_' (sha3-256 and sha3_256
// are spelled both ways in the wild), gitcommit as git's hash.
std::string NormaliseAlgorithm(std::string_view algorithm) {
  std::string a = ToLower(algorithm);
  for (char& c : a) {
    if (c == '-') c = '_';
  }
  return a;
}

constexpr std::string_view kKeylessPrefix = "keyless:";

bool NeedsEscape(unsigned char c) {
  return c == '%' || c == '|' || c <= 0x20 || c == 0x7f;
}

std::string EscapeKeylessPart(std::string_view part) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(part.size());
  for (unsigned char c : part) {
    if (NeedsEscape(c)) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> UnescapeKeylessPart(std::string_view part) {
  std::string out;
  out.reserve(part.size());
  for (size_t i = 0; i < part.size(); ++i) {
    if (part[i] != '%') {
      out.push_back(part[i]);
      continue;
    }
    int hi = i + 2 < part.size() ? HexValue(part[i + 1]) : -1;
    int lo = i + 2 < part.size() ? HexValue(part[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError("keyless ref has a '%' not followed by two hex digits");
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> CanonicalDigest(std::string_view algorithm, std::string_view value) {
  if (algorithm.empty() || algorithm.size() > kMaxAlgorithmLength) {
    return absl::InvalidArgumentError("digest algorithm name is empty or too long");
  }
  std::string algo = NormaliseAlgorithm(algorithm);
  for (char c : algo) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) {
      return absl::InvalidArgumentError(fmt::format("{}{}{}", "digest algorithm \"", algorithm,
                                                    "\" has characters outside [a-z0-9_.-]"));
    }
  }

  // These names are ref prefixes of other node kinds: a digest spelled so
  // would turn into a key, builder or workload ref.
  if (algo == "key" || algo == "builder" || algo == "workload") {
    return absl::InvalidArgumentError(
        fmt::format("{}{}{}", "\"", algorithm, "\" is not a digest algorithm"));
  }

  // A git commit id is the SHA-1 (or, in SHA-256 repositories, SHA-256) of
  // the commit object; SLSA materials spell the same id as "sha1". Storing
  // both spellings under one name makes them the same node.
  if (algo == "gitcommit") {
    if (value.size() == 40) {
      algo = "sha1";
    } else if (value.size() == 64) {
      algo = "sha256";
    } else {
      return absl::InvalidArgumentError(fmt::format("{}{}{}", "gitCommit digest has ", value.size(),
                                                    " characters, expected 40 or 64 hex"));
    }
  }

  if (const KnownAlgorithm* known = FindKnown(algo)) {
    if (value.size() != known->hex_length || !IsHex(value)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}{}{}{}{}{}", algo, " digest must be ", known->hex_length, " hex digits, got ",
          value.size(),
          value.size() == 40 ? " characters (a SHA-1 under the wrong name?)" : " characters"));
    }
    return fmt::format("{}{}{}", algo, ":", ToLower(value));
  }

  // Unknown algorithm: kept verbatim under its own name. It can only ever
  // match the same claim under the same name, so it links nothing unrelated.
  if (value.empty() || value.size() > kMaxUnknownValueLength) {
    return absl::InvalidArgumentError(fmt::format(
        "{}{}{}", algo, " digest value is empty or longer than ", kMaxUnknownValueLength));
  }
  for (unsigned char c : value) {
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(
          fmt::format("{}{}", algo, " digest value has a non-printable or space character"));
    }
  }
  return fmt::format("{}{}{}", algo, ":", value);
}

bool IsEmptyContentDigest(std::string_view canonical_digest) {
  size_t colon = canonical_digest.find(':');
  if (colon == std::string_view::npos) return false;
  const KnownAlgorithm* known = FindKnown(canonical_digest.substr(0, colon));
  return known != nullptr && !known->empty_digest.empty() &&
         canonical_digest.substr(colon + 1) == known->empty_digest;
}

int DigestPreference(std::string_view canonical_digest) {
  size_t colon = canonical_digest.find(':');
  if (colon == std::string_view::npos) return kUnknownPreference;
  const KnownAlgorithm* known = FindKnown(canonical_digest.substr(0, colon));
  return known != nullptr ? known->preference : kUnknownPreference;
}

std::string KeyRefFromFingerprint(std::string_view sha256_hex) {
  return fmt::format("{}{}", "key:sha256:", ToLower(sha256_hex));
}

absl::StatusOr<Ref> BuilderRef(std::string_view builder_id) {
  if (!IsCleanId(builder_id)) {
    return absl::InvalidArgumentError(
        "builder id is empty, longer than 2048 bytes or has control characters");
  }
  return Ref{NodeKind::kBuilder, fmt::format("{}{}", "builder:", builder_id)};
}

absl::StatusOr<Ref> WorkloadRef(std::string_view cluster, std::string_view ns,
                                std::string_view kind, std::string_view name) {
  for (std::string_view part : {cluster, ns, kind, name}) {
    if (!IsCleanId(part) || part.find('/') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          "workload parts (cluster, namespace, kind, name) must be non-empty, without '/' or "
          "control characters");
    }
  }
  return Ref{NodeKind::kWorkload,
             fmt::format("{}{}{}{}{}{}{}{}", "workload:", cluster, "/", ns, "/", kind, "/", name)};
}

absl::StatusOr<Ref> KeylessRef(std::string_view issuer, std::string_view san) {
  if (issuer.empty() || san.empty() || issuer.size() > kMaxIdLength || san.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        "keyless identity needs a non-empty issuer and SAN of at most 2048 bytes each");
  }
  return Ref{NodeKind::kKey, fmt::format("key:{}{}|{}", kKeylessPrefix, EscapeKeylessPart(issuer),
                                         EscapeKeylessPart(san))};
}

absl::StatusOr<std::pair<std::string, std::string>> ParseKeylessRef(std::string_view text) {
  if (text.size() < 4 || !EqualsIgnoreCase(text.substr(0, 4), "key:")) {
    return absl::InvalidArgumentError("keyless ref must start with key:keyless:");
  }
  std::string_view rest = text.substr(4);
  if (rest.size() < kKeylessPrefix.size() ||
      !EqualsIgnoreCase(rest.substr(0, kKeylessPrefix.size()), kKeylessPrefix)) {
    return absl::InvalidArgumentError("keyless ref must start with key:keyless:");
  }
  rest.remove_prefix(kKeylessPrefix.size());
  size_t bar = rest.find('|');
  if (bar == std::string_view::npos || rest.find('|', bar + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "keyless ref must be key:keyless:<issuer>|<san> with exactly one '|'");
  }
  absl::StatusOr<std::string> issuer = UnescapeKeylessPart(rest.substr(0, bar));
  if (!issuer.ok()) return issuer.status();
  absl::StatusOr<std::string> san = UnescapeKeylessPart(rest.substr(bar + 1));
  if (!san.ok()) return san.status();
  if (issuer->empty() || san->empty()) {
    return absl::InvalidArgumentError("keyless ref has an empty issuer or SAN");
  }
  return std::make_pair(*std::move(issuer), *std::move(san));
}

absl::StatusOr<Ref> ParseRef(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}{}{}", "ref \"", text.substr(0, 80),
                    "\" has no prefix: expected sha256:<hex>, key:<fingerprint>, builder:<id> or "
                    "workload:<cluster>/<namespace>/<kind>/<name>"));
  }
  std::string prefix = ToLower(text.substr(0, colon));
  std::string_view rest = text.substr(colon + 1);

  if (prefix == "builder") return BuilderRef(rest);

  if (prefix == "workload") {
    std::vector<std::string_view> parts;
    for (size_t start = 0;;) {
      size_t slash = rest.find('/', start);
      parts.push_back(rest.substr(start, slash - start));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    if (parts.size() != 4) {
      return absl::InvalidArgumentError(
          "workload ref must be workload:<cluster>/<namespace>/<kind>/<name>");
    }
    return WorkloadRef(parts[0], parts[1], parts[2], parts[3]);
  }

  if (prefix == "key") {
    // key:sha256:<hex> is a fingerprint and is canonicalised; anything else is
    // a keyid alias (case-sensitive, e.g. base64 keyids) and kept verbatim.
    if (rest.size() == 7 + 64 && EqualsIgnoreCase(rest.substr(0, 7), "sha256:") &&
        IsHex(rest.substr(7))) {
      return Ref{NodeKind::kKey, KeyRefFromFingerprint(rest.substr(7))};
    }
    // A keyless identity has one canonical spelling; parse and rebuild it
    // so that two spellings of one identity are one node.
    if (rest.size() >= kKeylessPrefix.size() &&
        EqualsIgnoreCase(rest.substr(0, kKeylessPrefix.size()), kKeylessPrefix)) {
      absl::StatusOr<std::pair<std::string, std::string>> identity = ParseKeylessRef(text);
      if (!identity.ok()) return identity.status();
      return KeylessRef(identity->first, identity->second);
    }
    if (!IsCleanId(rest) || rest.size() > 512) {
      return absl::InvalidArgumentError("key ref must be key:sha256:<hex> or key:<keyid>");
    }
    return Ref{NodeKind::kKey, fmt::format("{}{}", "key:", rest)};
  }

  absl::StatusOr<std::string> digest = CanonicalDigest(text.substr(0, colon), rest);
  if (!digest.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}{}{}{}", "ref \"", text.substr(0, 80),
                                                  "\": ", std::string(digest.status().message())));
  }
  return Ref{NodeKind::kArtifact, *std::move(digest)};
}

}  // namespace lineage
