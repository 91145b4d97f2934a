/**
 * ACME: Debian's Pebble on 198.51.100.1:14000 (management :15000), validating for real
 * through the lab DNS (PEBBLE_VA_ALWAYS_VALID is never set). Its TLS certificate comes from
 * a small lab CA made with openssl; its issuing root is exported after each start.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { $, LabError, pidAlive, spawnDaemon, stopPid, tail, waitFor } from "./util.ts";
import { ensureDir, paths, type RunState } from "./state.ts";
import { LAB_NET } from "./hosts.ts";
import { DNS_PORT } from "./dns.ts";

export const ACME_DIRECTORY = `https://${LAB_NET.address}:14000/dir`;
export const acmePaths = {
  serverCa: join(paths.acme, "lab-ca.pem"),
  caKey: join(paths.acme, "lab-ca.key"),
  cert: join(paths.acme, "pebble-server.pem"),
  key: join(paths.acme, "pebble-server.key"),
  config: join(paths.acme, "pebble-config.json"),
  rootCa: join(paths.acme, "pebble-root.pem"),
};

/** Lab CA + server certificate for IP:198.51.100.1, made once per state dir. */
async function ensureCerts(): Promise<void> {
  ensureDir(paths.acme);
  const p = acmePaths;
  if (!existsSync(p.serverCa) || !existsSync(p.caKey)) {
    await $`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${p.caKey} -out ${p.serverCa} -days 3650 -subj ${"/CN=mailstead lab CA"} -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign`;
  }
  if (!existsSync(p.cert) || !existsSync(p.key)) {
    const csr = join(paths.acme, "pebble-server.csr");
    const ext = join(paths.acme, "pebble-server.ext");
    writeFileSync(ext, `subjectAltName=IP:${LAB_NET.address}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
    await $`openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${p.key} -out ${csr} -subj ${`/CN=${LAB_NET.address}`}`;
    await $`openssl x509 -req -in ${csr} -CA ${p.serverCa} -CAkey ${p.caKey} -CAcreateserial -days 825 -extfile ${ext} -out ${p.cert}`;
  }
  // pebble runs as nobody: it must read its key (a throwaway test key)
  await $`chmod 0644 ${p.key} ${p.cert} ${p.serverCa}`;
}

/** GET over HTTPS trusting only the lab CA. */
export function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(ca), timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout fetching ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

export async function ensurePebble(run: RunState): Promise<"reused" | "started"> {
  if (run.pebble && pidAlive(run.pebble.pid, "pebble") && existsSync(acmePaths.rootCa)) return "reused";
  await stopPebble(run);
  await ensureCerts();
  const cfg = {
    pebble: {
      listenAddress: `${LAB_NET.address}:14000`,
      managementListenAddress: `${LAB_NET.address}:15000`,
      certificate: acmePaths.cert,
      privateKey: acmePaths.key,
      httpPort: 80,
      tlsPort: 443,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(acmePaths.config, JSON.stringify(cfg, null, 2) + "\n");
  const logFile = join(ensureDir(paths.logs), "pebble.log");
  writeFileSync(logFile, "");
  const pid = spawnDaemon(
    "setpriv",
    ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/pebble", "-config", acmePaths.config, "-dnsserver", `${LAB_NET.address}:${DNS_PORT}`],
    logFile,
    // real validation; no nonce rejection or sleeping to keep tests fast. Never PEBBLE_VA_ALWAYS_VALID.
    { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
  );
  run.pebble = { pid };
  await waitFor("pebble serving https://198.51.100.1:14000/dir", 20_000, async () => {
    if (!pidAlive(pid)) throw new LabError(`pebble exited; log:\n${tail(logFile)}`);
    const r = await httpsGet(ACME_DIRECTORY, acmePaths.serverCa);
    return r.status === 200 && r.body.includes("newAccount");
  });
  // Pebble makes a new root on every start: export it now
  const root = await waitFor("pebble root at :15000/roots/0", 10_000, async () => {
    const r = await httpsGet(`https://${LAB_NET.address}:15000/roots/0`, acmePaths.serverCa);
    return r.status === 200 && r.body.includes("BEGIN CERTIFICATE") ? r.body : undefined;
  });
  writeFileSync(acmePaths.rootCa, root);
  return "started";
}

export async function stopPebble(run: RunState): Promise<string> {
  const r = await stopPid(run.pebble?.pid, "pebble");
  delete run.pebble;
  return r;
}
