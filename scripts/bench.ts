/**
 * `npm run bench`: the budget issue's benchmark, on the lab's mail hosts (Debian 12 and 13).
 *   npm run bench -- [--quick] [--hosts mx1,mx2] [--fresh] [--json FILE] [--svg FILE] [--md FILE]
 *                    [--baseline bench/baseline.json] [--soak MINUTES]
 * Brings the lab up if needed and converges, then per host: the no-op re-converge (site.ts as a
 * user runs it, and in-process as scripts/bench-noop.ts measures it), a burst through submission
 * with IMAP clients idling and a webmail session reading (peak slice memory, anonymous and page
 * cache apart, peak PSS per service, OOM kills, delivered, drain time), delivery latency to the
 * other host and locally, IMAP on a large folder, and the idle PSS of every mail service after
 * the traffic. --fresh recreates the VMs first and times a whole converge of each. --quick is the
 * smoke run CI makes (a few messages, small folder, short idle). Prints a table and the goals,
 * and flags (never fails on: the machine is shared and noisy) any figure more than 10% worse than
 * the baseline of the same mode. Exit 1 only when the benchmark itself could not run.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { ensureLab, labHost, recreate, sshRun, type LabHost, type LabState } from "../tests/lab/index.js";
import { ROOT, site } from "../tests/e2e/helpers.js";
import { chartSvg } from "./bench/chart.js";
import { noopRuns } from "./bench/noop.js";
import { sample, watch, type Sample } from "./bench/remote.js";
import { compare, dist, goals, markdown, mib, round, soakVerdict, table, type BenchResult, type HostResult, type UnitFigure } from "./bench/report.js";
import { addClientAddresses, burst, deleteBench, deliveryTimes, idlers, imapClient, imapTimes, sleep, webmailSession, type Account } from "./bench/traffic.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    hosts: { type: "string", default: "mx1,mx2" },
    fresh: { type: "boolean", default: false },
    json: { type: "string" },
    svg: { type: "string" },
    md: { type: "string" },
    baseline: { type: "string", default: join(ROOT, "bench/baseline.json") },
    soak: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!.replace(/^\/\*\*?|^ \* ?/gm, "").trim());
  process.exit(0);
}

const quick = values.quick!;
/** Sizes of each measurement: the issue's in a full run, a few in the smoke run. */
const N = quick
  ? { burst: 20, addresses: 4, idlers: 2, delivery: 5, senders: 1, imapMessages: 1_000, imapTries: 5, idleSeconds: 5, noopRuns: 1 }
  : { burst: 1_000, addresses: 20, idlers: 5, delivery: 100, senders: 4, imapMessages: 20_000, imapTries: 20, idleSeconds: 40, noopRuns: 5 };
/** Units outside mail.slice still counted as the mail stack's (each runs only when its role is on). */
const EXTRAS = ["monit.service", "lighttpd.service", "mailstead-webmail.service", "mailstead-webmail-php.service"];
/** Units reported beside the stack, for the budget issue's decisions. */
const OTHERS = ["unattended-upgrades.service"];
const FOLDER = "mailstead-bench";

const log = (s: string) => console.error(`bench: ${s}`);
const tag = `${Date.now().toString(36)}`;

function account(lab: LabState, h: LabHost): Account {
  const u = lab.mail.users.find((x) => x.host === h.name);
  if (!u) throw new Error(`${h.name} has no lab mailbox`);
  return { host: h.address, name: h.fqdn, user: u.address, pass: u.password };
}

const root = (h: LabHost, cmd: string, timeoutMs = 120_000) => sshRun(h, `sudo -n sh -c '${cmd.replace(/'/g, `'\\''`)}'`, { timeoutMs });

function idleFigures(s: Sample): HostResult["idle"] {
  const fig = (u: Sample["units"][number]): UnitFigure => ({ unit: u.unit, slice: u.slice, pssMiB: mib(u.pssKiB, "KiB"), processes: u.processes });
  const services = s.units.filter((u) => u.slice === "mail.slice" || EXTRAS.includes(u.unit)).map(fig);
  return {
    services,
    totalMiB: round(services.reduce((a, u) => a + u.pssMiB, 0)),
    others: s.units.filter((u) => OTHERS.includes(u.unit)).map(fig),
    sliceCurrentMiB: mib(s.slice.usageBytes),
    sliceAnonMiB: mib(s.slice.anonBytes),
    sliceCacheMiB: mib(s.slice.cacheBytes),
    swapMiB: s.slice.swapBytes === null ? null : mib(s.slice.swapBytes),
  };
}

/** Active services with a main process, in mail.slice or among the extras: unit → main PID. */
async function units(h: LabHost): Promise<Map<string, string>> {
  const out = (await root(h, `systemctl show --type=service --state=active -p Id,MainPID,Slice '*'`)).stdout;
  const m = new Map<string, string>();
  for (const block of out.split(/\n\n+/)) {
    const kv = Object.fromEntries(block.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    if (kv.Id && kv.MainPID && kv.MainPID !== "0" && (kv.Slice === "mail.slice" || EXTRAS.includes(kv.Id))) m.set(kv.Id, kv.MainPID);
  }
  return m;
}

/** Waits (60 s at most) until every service of `before` runs again; the ones with a new main PID. */
async function settled(h: LabHost, before: Map<string, string>): Promise<string[]> {
  const end = Date.now() + 60_000;
  for (;;) {
    const now = await units(h);
    // the webmail's PHP stops by itself when idle: only the always-on services must come back
    const missing = [...before.keys()].filter((u) => !now.has(u) && !u.startsWith("mailstead-webmail"));
    if (!missing.length || Date.now() > end) {
      if (missing.length) log(`${h.name}: still not running 60 s after the burst: ${missing.join(", ")}`);
      return [...before].filter(([u, pid]) => !u.startsWith("mailstead-webmail") && now.get(u) !== pid).map(([u]) => u);
    }
    await sleep(1000);
  }
}

/** A folder of `n` small messages written straight into the Maildir (one needle among them). */
async function bigFolder(h: LabHost, user: string, n: number): Promise<string> {
  const needle = `needle-${tag}`;
  await root(h, `doveadm mailbox create -u ${user} ${FOLDER} 2>/dev/null; true`);
  const path = (await root(h, `doveadm mailbox path -u ${user} ${FOLDER} 2>/dev/null || echo "$(doveadm user -f home ${user})/Maildir/.${FOLDER}"`)).stdout.trim();
  const py = String.raw`
import os, sys, time
path, n, needle = sys.argv[1], int(sys.argv[2]), sys.argv[3]
st = os.stat(os.path.dirname(path.rstrip('/')))
for d in ('cur', 'new', 'tmp'):
    os.makedirs(os.path.join(path, d), exist_ok=True)
    os.chown(os.path.join(path, d), st.st_uid, st.st_gid)
os.chown(path, st.st_uid, st.st_gid)
t = int(time.time()) - n
for i in range(n):
    subj = needle if i == n // 2 else 'Weekly report %d: numbers, plans and the usual' % i
    msg = ('From: Bench <bench@example.org>\r\nTo: you@example.org\r\nSubject: %s\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n'
           'Message-ID: <%d.%s@bench>\r\n\r\n' % (subj, i, needle)) + ('Line of text for message %d.\r\n' % i) * 30
    name = os.path.join(path, 'cur', '%d.M%dP1.bench,S=%d:2,S' % (t + i, i, len(msg)))
    with open(name, 'w') as f: f.write(msg)
    os.chown(name, st.st_uid, st.st_gid)
`;
  await sshRun(h, `sudo python3 - ${path} ${n} ${needle}`, { input: py, timeoutMs: 300_000 });
  return needle;
}

async function measureHost(lab: LabState, h: LabHost, other: LabHost | undefined, freshSeconds: number | null): Promise<HostResult> {
  const acct = account(lab, h);
  const release = (await sshRun(h, "sed -n 's/^VERSION_ID=//p' /etc/os-release | tr -d '\"'")).stdout.trim() || h.os;
  log(`${h.name} (Debian ${release}): no-op converge`);
  const noop = await site(["-i", lab.inventory, "--limit", h.name]);
  const changed = noop.report.steps.filter((s) => s.status === "changed" || s.status === "failed");
  if (noop.code !== 0 || changed.length) throw new Error(`${h.name}: the re-converge was not a no-op (exit ${noop.code}): ${changed.map((s) => `${s.role}: ${s.title} ${s.status}`).join("; ")}`);
  const inproc = await noopRuns(lab.inventory, h.name, N.noopRuns);
  const converge: HostResult["converge"] = {
    freshSeconds,
    noopSeconds: round(noop.seconds, 2),
    noopSteps: noop.report.steps.length,
    noopMsPerStep: round((noop.seconds * 1000) / Math.max(1, noop.report.steps.length)),
    inProcessSeconds: round(inproc.median.ms / 1000, 3),
    inProcessSteps: inproc.median.steps,
    inProcessMsPerStep: round(inproc.median.ms / inproc.median.steps),
  };

  const mainPids = await units(h);
  log(`${h.name}: burst of ${N.burst} messages from ${N.addresses} addresses, ${N.idlers} IMAP clients idling, a webmail session reading`);
  const before = await sample(h);
  const clients = await addClientAddresses(N.addresses);
  const idle = await idlers(acct, N.idlers);
  const web = await webmailSession(acct, lab.acme.rootCa);
  let webReads = 0;
  const webErrors: string[] = [];
  let reading = true;
  const webLoop = (async () => {
    while (reading) {
      try {
        await web.read();
        webReads++;
      } catch (e) {
        webErrors.push((e as Error).message.slice(0, 200));
      }
      await sleep(3000);
    }
  })();
  const w = await watch(h, quick ? 120 : 900);
  let b;
  try {
    b = await burst(acct, N.burst, clients.addresses, { tag, timeoutMs: quick ? 60_000 : 600_000 });
  } finally {
    reading = false;
    await webLoop;
    await web.logout();
    await idle.close();
    await clients.remove();
  }
  const peaks = await w.stop();
  // A service the kernel killed at the cap is restarted by systemd (the budget role's drop-ins):
  // wait for it (bounded) so what follows measures a whole stack, and name it.
  const restarted = await settled(h, mainPids);
  log(`${h.name}: ${b.delivered} of ${b.sent} delivered in ${round(b.drainSeconds)} s; removing them`);
  await deleteBench(acct, tag);
  const burstFig: HostResult["burst"] = {
    count: N.burst,
    sent: b.sent,
    unsent: b.unsent,
    delivered: b.delivered,
    mbytes: round(b.bytes / 1e6),
    clientAddresses: b.clientAddresses,
    imapIdlers: N.idlers,
    webmailReads: webReads,
    webmailErrors: webErrors,
    sendSeconds: round(b.sendSeconds),
    drainSeconds: round(b.drainSeconds),
    peakAnonMiB: mib(peaks.peakAnonBytes),
    peakCacheMiB: mib(peaks.peakCacheBytes),
    kernelPeakMiB: peaks.kernelPeakBytes === null ? null : mib(peaks.kernelPeakBytes),
    peakSwapMiB: peaks.peakSwapBytes === null ? null : mib(peaks.peakSwapBytes),
    peakPssMiB: Object.fromEntries(Object.entries(peaks.peakPss).filter(([u]) => u !== "ssh.service" && (before.units.find((x) => x.unit === u)?.slice === "mail.slice" || EXTRAS.includes(u))).map(([u, k]) => [u, mib(k, "KiB")])),
    oomKills: peaks.end.oomKills - before.slice.oomKills,
    restarted,
    limitHits: peaks.end.limitHits === null || before.slice.limitHits === null ? null : peaks.end.limitHits - before.slice.limitHits,
    errors: b.errors,
  };

  log(`${h.name}: delivery latency, ${N.delivery} messages${other ? ` to ${other.name} and` : ""} locally`);
  const senders = await addClientAddresses(N.senders, 230);
  let local, remote;
  try {
    local = await deliveryTimes(acct, acct, N.delivery, `${tag}-local`, senders.addresses);
    remote = other ? await deliveryTimes(acct, account(lab, other), N.delivery, `${tag}-remote`, senders.addresses) : undefined;
  } finally {
    await senders.remove();
  }
  await deleteBench(acct, `${tag}-local`);
  if (other) await deleteBench(account(lab, other), `${tag}-remote`);
  const delivery: HostResult["delivery"] = {
    local: { ...dist(local.ms), lost: local.lost, unsent: local.unsent, errors: local.errors },
    ...(remote && other ? { remote: { ...dist(remote.ms), lost: remote.lost, unsent: remote.unsent, errors: remote.errors, to: other.name } } : {}),
  };

  log(`${h.name}: IMAP on a folder of ${N.imapMessages} messages`);
  const needle = await bigFolder(h, acct.user, N.imapMessages);
  let imap: HostResult["imap"];
  try {
    const t = await imapTimes(acct, FOLDER, needle, N.imapTries);
    if (t.found !== 1) throw new Error(`SEARCH SUBJECT found ${t.found} messages, not 1`);
    imap = { messages: t.messages, selectFetch: dist(t.selectFetchMs), search: dist(t.searchMs) };
  } finally {
    const c = await imapClient(acct);
    await c.mailboxDelete(FOLDER).catch((e) => log(`deleting ${FOLDER}: ${(e as Error).message}`));
    await c.logout().catch(() => {});
  }

  log(`${h.name}: idle ${N.idleSeconds} s after the last traffic, then PSS`);
  await sleep(N.idleSeconds * 1000);
  const idleNow = idleFigures(await sample(h));
  const result: HostResult = { host: h.name, release, idle: idleNow, burst: burstFig, delivery, imap, converge };
  if (values.soak) result.soak = await soak(lab, h, Number(values.soak));
  return result;
}

/** Steady light traffic for `minutes`: a message a minute, IMAP polling, a webmail login an hour; PSS each minute. */
async function soak(lab: LabState, h: LabHost, minutes: number): Promise<NonNullable<HostResult["soak"]>> {
  const acct = account(lab, h);
  const perMinute: NonNullable<HostResult["soak"]>["perMinute"] = [];
  const t0 = Date.now();
  const c = await imapClient(acct);
  try {
    for (let m = 1; m <= minutes; m++) {
      const start = Date.now();
      await deliveryTimes(acct, acct, 1, `${tag}-soak`);
      if (m === 1 || m % 60 === 0) {
        const web = await webmailSession(acct, lab.acme.rootCa);
        await web.read();
        await web.logout();
      }
      while (Date.now() - start < 60_000) {
        await c.status("INBOX", { messages: true });
        await sleep(10_000);
      }
      const f = idleFigures(await sample(h));
      perMinute.push({ minute: m, totalMiB: f.totalMiB, services: Object.fromEntries(f.services.map((s) => [s.unit, s.pssMiB])) });
      log(`${h.name} soak minute ${m}/${minutes}: ${f.totalMiB} MiB (${Math.round((Date.now() - t0) / 1000)} s)`);
    }
  } finally {
    await c.logout().catch(() => {});
    await deleteBench(acct, `${tag}-soak`);
  }
  return { minutes, perMinute, verdict: soakVerdict(perMinute) };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let lab = await ensureLab();
  const names = values.hosts!.split(",").filter(Boolean);
  const hosts = names.map((n) => labHost(lab, n));
  const fresh: Record<string, number | null> = Object.fromEntries(names.map((n) => [n, null]));
  if (values.fresh) {
    for (const h of hosts) {
      log(`${h.name}: recreated from its image, then a whole converge`);
      lab = (await recreate(h.name)).state;
      const r = await site(["-i", lab.inventory, "--limit", h.name]);
      if (r.code !== 0) throw new Error(`${h.name}: the fresh converge failed (exit ${r.code})\n${r.stdout.slice(-3000)}`);
      fresh[h.name] = round(r.seconds);
    }
  } else {
    log(`converging ${names.join(",")} (not timed: --fresh times a converge of new VMs)`);
    const r = await site(["-i", lab.inventory, "--limit", names.join(",")]);
    if (r.code !== 0) throw new Error(`the converge failed (exit ${r.code})\n${r.stdout.slice(-3000)}`);
  }
  const results: HostResult[] = [];
  for (const h of hosts) results.push(await measureHost(lab, labHost(lab, h.name), hosts.find((o) => o.name !== h.name), fresh[h.name] ?? null));
  const out: BenchResult = { version: 1, mode: quick ? "quick" : "full", when: new Date().toISOString(), machine: machine(), hosts: results };

  console.log(table(out));
  console.log("\ngoals:");
  for (const g of goals(out)) console.log(`  ${g.met ? "met    " : "MISSED "} ${g.host}: ${g.what} ${g.goal}, measured ${g.measured}`);
  const base = existsSync(values.baseline!) ? (JSON.parse(readFileSync(values.baseline!, "utf8")) as BenchResult) : undefined;
  const cmp = compare(out, base);
  if (cmp.note) console.log(`\nbaseline: ${cmp.note}`);
  else if (!cmp.flags.length) console.log(`\nbaseline (${base!.when.slice(0, 10)}): nothing more than 10% worse`);
  else {
    console.log(`\nbaseline (${base!.when.slice(0, 10)}): more than 10% worse (flagged, not failed: the machine is shared):`);
    for (const f of cmp.flags) console.log(`  ${f.host} ${f.figure}: ${f.baseline} → ${f.now} (${f.worse})`);
  }
  for (const h of results) if (h.soak) console.log(`\nsoak ${h.host} (${h.soak.minutes} min): ${h.soak.verdict}`);
  const write = (file: string | undefined, text: string) => {
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    log(`wrote ${file}`);
  };
  write(values.json, `${JSON.stringify(out, null, 2)}\n`);
  if (values.svg) write(values.svg, await chartSvg(out));
  write(values.md, `${markdown(out)}\n`);
  log(`done in ${Math.round((performance.now() - t0) / 1000)} s`);
}

function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?";
  const cores = readFileSync("/proc/cpuinfo", "utf8").split("\n").filter((l) => l.startsWith("processor")).length;
  return `${cores} × ${cpu.trim()}; lab VMs: systemd-nspawn, cgroup v1 hybrid host`;
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
