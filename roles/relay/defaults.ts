import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";
import type { VarsOf } from "../../lib/defaults.js";

export type RelayVars = VarsOf<typeof relayDefaults>;

/** Settings of the `relay` role: outbound mail through a smarthost (Oracle blocks port 25 out). */
export const relayDefaults = defineDefaults("relay", {
  relay_enabled: {
    default: false,
    why: "Oracle Cloud blocks outbound port 25 for free accounts (docs/oracle-cloud.md): turn this on to send everything through a smarthost. Inbound mail is unchanged.",
    schema: { type: "boolean" },
  },
  relay_host: {
    format: formats.hostname(),
    default: "",
    why: "The smarthost's name, e.g. smtp.example.net (your provider's submission server).",
    schema: { type: "string", pattern: "^$|^[a-zA-Z0-9.-]+$" },
  },
  relay_port: {
    default: 587,
    why: "587 (STARTTLS, required) or 465 (implicit TLS); both are encrypted before SASL (RFC 8314).",
    schema: { type: "integer", enum: [587, 465, 25, 2525] },
  },
  relay_username: {
    format: formats.noSyntax(": ", "Postfix sasl_passwd (user:password)"),
    default: "",
    why: "The SASL login at the smarthost.",
    schema: { type: "string", pattern: "^[^\\s:]*$" },
  },
  relay_password: {
    format: formats.singleLine(),
    default: "",
    why: "The SASL password at the smarthost; secret: from the secrets file or MAILSTEAD_SECRET_RELAY_PASSWORD, never the inventory.",
    sensitive: true,
    schema: { type: "string", maxLength: 512 },
  },
  relay_tls_ca: {
    default: "",
    why: "The relay's certificate is verified (smtp_tls_security_level = secure), else a man in the middle gets the relay password; empty trusts the system CA store, which is right for a provider's public submission server. Set PEM certificates here for a private relay (your own second VM).",
    schema: { type: "string", maxLength: 65536, pattern: "^$|^-----BEGIN CERTIFICATE-----", "x-expected": "PEM certificates (-----BEGIN CERTIFICATE-----...), or \"\" for the system CA store" },
  },
});
