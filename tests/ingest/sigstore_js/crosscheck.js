// Runs sigstore-js (@sigstore/verify) offline on every Sigstore bundle of
// the corpus and prints one verdict per bundle, for sigstore_js_test.cc to
// compare with lineage's. Usage:
//   node crosscheck.js <corpus dir> <node_modules dir> > verdicts.tsv
// Output lines: <source>\t<ok|fail|na>\t<message> (na: not comparable). Sources are named as
// lineage names them: "file", "file:LINE" for JSON Lines, and
// "file#attestations[i]" for npm's wrapper.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [corpus, modules] = process.argv.slice(2);
const { Verifier, toSignedEntity, toTrustMaterial } = require(path.join(modules, '@sigstore/verify'));
const { bundleFromJSON } = require(path.join(modules, '@sigstore/bundle'));
const { TrustedRoot } = require(path.join(modules, '@sigstore/protobuf-specs'));

// The same trust as lineage's test policy: every trusted root of the corpus
// (merged into one), and the corpus' managed keys by their bundle hints.
const rootFiles = [
  'sigstore__sigstore-go__trusted-root-public-good.json',
  'sigstore__sigstore-conformance__intoto-with-custom-trust-root__trusted_root.json',
  'sigstore__sigstore-python__tuf-repo-cdn.sigstage.dev__trusted_root.json',
];
const merged = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
                 tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
for (const file of rootFiles) {
  const root = JSON.parse(fs.readFileSync(path.join(corpus, 'keys', file), 'utf8'));
  for (const key of Object.keys(merged)) if (Array.isArray(root[key])) merged[key].push(...root[key]);
}
function pemToDer(pem) {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
function managedKey(file) {
  return { rawBytes: pemToDer(fs.readFileSync(path.join(corpus, 'keys', file), 'utf8')),
           keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: new Date(0) } };
}
const keys = {
  'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA': managedKey('sigstore__sigstore-go__publish_key.pub'),
};
const trust = toTrustMaterial(TrustedRoot.fromJSON(merged), (hint) => {
  if (keys[hint]) return { publicKey: crypto.createPublicKey({ key: keys[hint].rawBytes, format: 'der', type: 'spki' }),
                           validFor: () => true };
  // Any other hint: the public-key-validity managed key, as lineage's policy
  // tries every trusted key.
  const der = pemToDer(fs.readFileSync(path.join(corpus, 'keys', 'sigstore__sigstore-go__public-key-validity.pem'), 'utf8'));
  return { publicKey: crypto.createPublicKey({ key: der, format: 'der', type: 'spki' }), validFor: () => true };
});
// One verified SCT per Fulcio certificate, as lineage's default
// sct_threshold (docs/trust-policy.md). timestampThreshold (3.x; 2.x
// ignores it) asks for one verified time, as lineage requires for keyless
// signers; 2.x requires a time from a log entry or a timestamp by itself.
const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 1, timestampThreshold: 1 });

// Artifacts of message signatures, by SHA-256, when the corpus has them.
const artifacts = {};
for (const file of fs.readdirSync(path.join(corpus, 'other'))) {
  const data = fs.readFileSync(path.join(corpus, 'other', file));
  artifacts[crypto.createHash('sha256').update(data).digest('base64')] = data;
}

function verify(source, json) {
  try {
    const bundle = bundleFromJSON(json);
    let artifact;
    if (json.messageSignature && json.messageSignature.messageDigest) {
      artifact = artifacts[json.messageSignature.messageDigest.digest];
      // sigstore-js verifies a message signature over the artifact itself;
      // without it there is nothing to compare.
      if (!artifact) return console.log(`${source}\tna\tartifact not in the corpus`);
    }
    verifier.verify(toSignedEntity(bundle, artifact));
    console.log(`${source}\tok\t`);
  } catch (e) {
    console.log(`${source}\tfail\t${String(e.message || e).replace(/\s+/g, ' ').slice(0, 300)}`);
  }
}

function visit(source, value) {
  if (value && typeof value === 'object' && value.verificationMaterial) return verify(source, value);
  if (value && Array.isArray(value.attestations)) {
    value.attestations.forEach((a, i) => verify(`${source}#attestations[${i}]`, a.bundle));
  }
}

const folders = ['sigstore-bundle-v0.1', 'sigstore-bundle-v0.2', 'sigstore-bundle-v0.3', 'invalid'];
for (const folder of folders) {
  for (const file of fs.readdirSync(path.join(corpus, folder)).sort()) {
    const relative = `${folder}/${file}`;
    const text = fs.readFileSync(path.join(corpus, relative), 'utf8');
    let doc;
    try { doc = JSON.parse(text); } catch (e) { doc = undefined; }
    if (doc !== undefined) {
      visit(relative, doc);
      continue;
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try { visit(`${relative}:${i + 1}`, JSON.parse(line)); } catch (e) { /* not JSON */ }
    });
  }
}
