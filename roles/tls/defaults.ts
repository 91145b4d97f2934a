import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/**
 * Settings of the `tls` role: the certificate every mail service reads, at
 * stable paths, and the TLS parameters shared by Postfix and Dovecot.
 */
export const tlsDefaults = defineDefaults("tls", {
  tls_dir: {
    format: formats.path({ owned: true }),
    default: "/etc/mailstead/tls",
    why: "Postfix and Dovecot read <tls_dir>/fullchain.pem and <tls_dir>/privkey.pem (symlinks); a certificate role only re-points them, the services need no edits.",
    schema: { type: "string", pattern: "^/[^\\s]+[^/]$" },
  },
  tls_selfsigned_days: {
    default: 825,
    why: "Validity of the stand-in self-signed certificate: long enough not to expire before a real one replaces it (825 days is the CA/B limit that clients still accept).",
    schema: { type: "integer", minimum: 1, maximum: 3650 },
  },
  tls_ciphers_tls12: {
    default: [
      "ECDHE-ECDSA-AES128-GCM-SHA256",
      "ECDHE-RSA-AES128-GCM-SHA256",
      "ECDHE-ECDSA-AES256-GCM-SHA384",
      "ECDHE-RSA-AES256-GCM-SHA384",
      "ECDHE-ECDSA-CHACHA20-POLY1305",
      "ECDHE-RSA-CHACHA20-POLY1305",
    ],
    why: "TLS 1.2 suites: Mozilla's intermediate list minus DHE (https://ssl-config.mozilla.org/); ECDHE + AEAD only, which NCSC-NL rates good (no CBC, no RSA key exchange, no SHA-1).",
    schema: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", pattern: "^ECDHE-(ECDSA|RSA)-[A-Z0-9-]+$", "x-expected": "an OpenSSL ECDHE suite name such as ECDHE-ECDSA-AES128-GCM-SHA256" } },
  },
  tls_curves: {
    default: ["X25519", "prime256v1", "secp384r1"],
    why: "Key exchange groups X25519, P-256, P-384 (Mozilla intermediate; NCSC-NL 'good'); OpenSSL names.",
    schema: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", enum: ["X25519", "X448", "prime256v1", "secp384r1", "secp521r1"] } },
  },
});
