/**
 * Benchmark (issue 16): what a local caching resolver for postscreen's DNSBL lookups would cost
 * in the 100 MB budget. Measured on lab VMs without a mail role (outsider: Debian 12, vault:
 * Debian 13), the way tests/lab/mem.ts measures every unit (PSS per systemd unit):
 *   A. Debian's unbound as installed (its default caches), one thread;
 *   B. unbound with small caches (msg 1m, rrset 2m, key 1m, one thread), what a mail host would use.
 * Each answers 200 distinct DNSBL queries (the lab's lists, forwarded to the lab DNS) before it
 * is measured. unbound is purged afterwards, with everything it pulled in.
 *   npx tsx scripts/bench-resolver-mem.ts [--hosts outsider,vault] [--json]
 * Lab only (the VMs must be up).
 */
import { parseArgs } from "node:util";
import { LAB_NET, labHost, loadLabState, memReport, sshRun, type LabHost } from "../tests/lab/index.js";

const { values } = parseArgs({ options: { hosts: { type: "string", default: "outsider,vault" }, json: { type: "boolean", default: false } } });
const mib = (k: number) => Math.round((k / 1024) * 10) / 10;

const CONF = "/etc/unbound/unbound.conf.d/mailstead-bench.conf";
// No DNSSEC validator: the lab's zones are unsigned and its DNS does not serve the root's keys
// (a mail host would validate: add the key cache, 1m in B, and the validator's few hundred KiB).
const small = `server:
  module-config: "iterator"
  num-threads: 1
  msg-cache-size: 1m
  rrset-cache-size: 2m
  key-cache-size: 1m
  neg-cache-size: 512k
`;
const forward = `forward-zone:
  name: "."
  forward-addr: ${LAB_NET.address}
`;

async function measure(h: LabHost, conf: string): Promise<number> {
  await sshRun(h, `sudo sh -c 'cat > ${CONF}' && sudo systemctl restart unbound && sleep 2`, { input: conf });
  // 200 distinct lookups, the way postscreen asks: <reversed client address>.<list>.
  const q = Array.from({ length: 200 }, (_, i) => `${i % 250}.${Math.floor(i / 250)}.113.203.zen.spamhaus.org`).join(" ");
  await sshRun(h, `for n in ${q} 2.0.0.127.zen.spamhaus.org 2.0.0.127.bl.spamcop.net; do getent ahostsv4 "$n" >/dev/null 2>&1 || true; done; sleep 3`, { timeoutMs: 180_000 });
  const m = await memReport(h);
  const u = m.units.find((x) => x.unit === "unbound.service");
  if (!u) throw new Error(`unbound.service is not running on ${h.name}`);
  return u.pssKiB;
}

async function one(h: LabHost): Promise<{ host: string; release: string; version: string; defaultMiB: number; smallMiB: number }> {
  const release = (await sshRun(h, ". /etc/os-release; echo $VERSION_ID")).stdout.trim();
  const before = (await sshRun(h, "dpkg-query -W -f='${Package}\\n' | sort")).stdout.split("\n");
  const inst = await sshRun(h, "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends unbound dns-root-data >/dev/null 2>&1 && echo ok", { nothrow: true, timeoutMs: 300_000 });
  if (!inst.stdout.includes("ok")) throw new Error(`installing unbound on ${h.name} failed: ${inst.stderr}`);
  const added = (await sshRun(h, "dpkg-query -W -f='${Package}\\n' | sort")).stdout.split("\n").filter((p) => p && !before.includes(p));
  // The VM's own lookups go to it for the measurement, and back to the lab DNS afterwards.
  const resolv = (await sshRun(h, "cat /etc/resolv.conf")).stdout;
  try {
    await sshRun(h, "sudo sh -c 'echo nameserver 127.0.0.1 > /etc/resolv.conf'");
    const version = (await sshRun(h, "unbound -V | head -n 1")).stdout.trim();
    const defaultKiB = await measure(h, `server:\n  module-config: "iterator"\n  num-threads: 1\n${forward}`);
    const smallKiB = await measure(h, `${small}${forward}`);
    return { host: h.name, release, version, defaultMiB: mib(defaultKiB), smallMiB: mib(smallKiB) };
  } finally {
    await sshRun(h, "sudo sh -c 'cat > /etc/resolv.conf'", { input: resolv, nothrow: true });
    await sshRun(h, `sudo rm -f ${CONF}`, { nothrow: true });
    if (added.length) await sshRun(h, `sudo DEBIAN_FRONTEND=noninteractive apt-get purge -y ${added.join(" ")} >/dev/null 2>&1`, { nothrow: true, timeoutMs: 300_000 });
  }
}

async function main(): Promise<void> {
  const state = loadLabState();
  const results = [];
  for (const name of values.hosts!.split(",")) results.push(await one(labHost(state, name)));
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else {
    console.log("a local caching resolver (unbound) for postscreen's DNSBL lookups, PSS after 200 queries (MiB):");
    for (const r of results) console.log(`  Debian ${r.release} (${r.host}, ${r.version}): Debian's caches ${r.defaultMiB}, small caches ${r.smallMiB}`);
  }
}

main().catch((e: Error) => {
  console.error(`bench-resolver-mem: ${e.message}`);
  process.exit(1);
});
