/**
 * verify.ts's HTTPS client: GET a web-side file as a sender or a mail client
 * does, from the operator's machine. The name is resolved through the same DNS
 * as the other checks (--resolver), the certificate verified against the
 * system's roots plus the inventory's private CA (certbot_ca_bundle), the SNI
 * and Host are the name. Bounded: one request, a timeout, 64 KB at most.
 */
import { request } from "node:https";
import { rootCertificates } from "node:tls";
import type { HttpsAnswer, HttpsFetch } from "./checks.js";
import type { DnsLookup } from "./resolver.js";

const MAX_BYTES = 64 * 1024;

export function nodeFetch(dns: DnsLookup, opts: { caPem?: string; timeoutMs?: number } = {}): HttpsFetch {
  const ca = opts.caPem ? [...rootCertificates, opts.caPem] : undefined;
  return async (name, path) => {
    const [address] = await dns.a(name);
    if (!address) throw new Error(`${name} has no A record`);
    return await new Promise<HttpsAnswer>((resolve, reject) => {
      const req = request(
        { host: address, servername: name, port: 443, path, method: "GET", headers: { host: name, "user-agent": "mailstead-verify" }, ...(ca ? { ca } : {}), timeout: opts.timeoutMs ?? 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_BYTES) req.destroy(new Error(`more than ${MAX_BYTES} bytes`));
            else chunks.push(c);
          });
          res.on("end", () => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
            resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer from ${address}:443 in ${(opts.timeoutMs ?? 10_000) / 1000} s`)));
      req.on("error", (e) => reject(new Error(`${address}:443: ${e.message}`)));
      req.end();
    });
  };
}
