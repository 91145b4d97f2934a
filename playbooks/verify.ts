/**
 * Check the live DNS (and the host's outbound port 25) against what each host
 * needs; print pass/warn/fail with the fix for each:
 *   npx tsx playbooks/verify.ts -i inventory/hosts.yml [--resolver IP] [--json] [--limit NAME|GROUP]
 * Exit codes: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad input.
 * The checks are modules in dns/checks.ts (checkModules), then the certificate
 * checks of roles/certbot/checks.ts (what 25/465/587/993 serve, over SSH). With the web
 * side on, the MTA-STS policy and the autoconfig file are fetched over verified HTTPS.
 */
import { Command } from "commander";
import { isIP } from "node:net";
import { colorEnabled, colors } from "../lib/report/colors.js";
import { quote } from "../lib/shell.js";
import { runChecks, type CheckResult, type OutboundProbe } from "../dns/checks.js";
import { gatherHost, loadHosts } from "../dns/gather.js";
import { UsageError } from "../lib/errors.js";
import { defaultIo, parseCommand, runAsScript, withExitCode, type CliIo } from "../lib/cli.js";
import { nodeResolver } from "../dns/resolver.js";
import { nodeFetch } from "../dns/https.js";
import type { Transport } from "../lib/transport/types.js";
import { servedChecks, webServedChecks, type CertbotVars } from "../roles/certbot/index.js";
import { certChecks, forWebName } from "../roles/certbot/checks.js";
import { writeFileSync } from "node:fs";
import { Host } from "../lib/host.js";
import { judgeHost, readFacts, servicesOf, statusFacts, type StatusVars } from "../status/host.js";
import { connect } from "node:net";
import { statusHtml } from "../status/html.js";
import { CHECK } from "../roles/status/index.js";
import type { HostSpec } from "../lib/inventory/index.js";

/**
 * The certificate each mail port serves, judged on the host (roles/certbot/checks.ts, with the
 * certbot role's own options: the same checks as its verify): the one on disk, chaining to a
 * trusted root, naming the host, > 14 days left (warn) / > 3 days (fail); with the web side on,
 * 443 too, for the MTA-STS name (the webmail's page is served with the same certificate).
 */
export async function certificateResults(t: Transport, vars: Record<string, unknown>): Promise<CheckResult[]> {
  const v = vars as unknown as CertbotVars;
  const run = (cmd: string) => t.run(cmd, { timeoutMs: 120_000 });
  const items = await certChecks(run, servedChecks(v));
  const web = webServedChecks(v);
  if (web) items.push(...forWebName(await certChecks(run, web), web.hostname));
  return items.map((i) => ({ check: "certificate", record: i.name, status: i.level, detail: i.detail, ...(i.fix ? { fix: i.fix } : {}) }));
}

/** From the host: open a TCP connection to address:25 with a short timeout and read the first greeting line (postscreen sends "220-" first). */
export function sshProbe(t: Transport, timeoutSeconds = 8): OutboundProbe {
  return async (address) => {
    const script = `timeout ${timeoutSeconds} bash -c ${quote(`exec 3<>/dev/tcp/${address}/25 && IFS= read -r line <&3 && printf '%s\n' "$line"`)} 2>&1; echo "rc=$?"`;
    const r = await t.run(script, { timeoutMs: (timeoutSeconds + 10) * 1000 });
    const rc = /rc=(\d+)\s*$/.exec(r.stdout)?.[1];
    const greeting = r.stdout.replace(/rc=\d+\s*$/, "").trim().split("\n")[0] ?? "";
    if (rc === "0" && /^220/.test(greeting)) return { ok: true, detail: greeting };
    return { ok: false, detail: rc === "124" ? `no answer in ${timeoutSeconds} s (blocked)` : greeting || `exit ${rc}` };
  };
}

/**
 * status.ts --test-alert: each host's watchdog script sends one alert by mail and to the push URL
 * (mailstead-check test-alert, roles/status); a host without the watchdog is a failure.
 */
async function testAlerts(hosts: HostSpec[], acceptNew: boolean, io: { out: (s: string) => void; json: boolean; redact: (s: string) => string }): Promise<number> {
  const all: { host: string; ok: boolean; said: string }[] = [];
  for (const spec of hosts) {
    let r: { ok: boolean; said: string };
    try {
      const g = await gatherHost(spec, acceptNew);
      try {
        const x = await g.transport.run(`if [ -x ${CHECK} ]; then ${CHECK} test-alert; else echo "no watchdog on this host (status_enabled is false, or not converged yet)"; exit 1; fi`, { timeoutMs: 60_000 });
        r = { ok: x.code === 0, said: `${x.stdout}${x.stderr}`.trim() };
      } finally {
        await g.transport.close();
      }
    } catch (e) {
      r = { ok: false, said: `cannot reach the host: ${io.redact((e as Error).message)}` };
    }
    all.push({ host: spec.name, ...r });
    if (!io.json) io.out(`== ${spec.name}\n${r.said}\n${r.ok ? "test alert sent" : "test alert FAILED"}\n`);
  }
  if (io.json) io.out(`${JSON.stringify({ testAlert: all }, null, 2)}\n`);
  return all.every((a) => a.ok) ? 0 : 1;
}

/** Whether a TCP port answers from this machine (connect only; nothing is sent). */
function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (err?: string) => {
      sock.destroy();
      resolve(err);
    };
    sock.setTimeout(timeoutMs, () => done(`no answer in ${timeoutMs / 1000} s`));
    sock.once("connect", () => done());
    sock.once("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/**
 * status.ts's probe from outside: each port the host's services serve, connected to from the
 * operator's machine (the host itself only proves it listens; a cloud firewall in between, such
 * as Oracle's security list, is seen only from outside).
 */
export async function outsideResults(spec: HostSpec, timeoutMs = 5000): Promise<CheckResult[]> {
  const v = spec.vars as unknown as StatusVars & { dns_public_ipv4?: string };
  const target = v.dns_public_ipv4 || spec.address;
  const ports = [...new Set(servicesOf(v).flatMap((s) => s.ports))];
  const answers = await Promise.all(ports.map((p) => tcpAnswers(target, p, timeoutMs)));
  return ports.map((p, i): CheckResult => {
    if (answers[i] === undefined) return { check: "outside", record: `${target}:${p}`, status: "pass", detail: "answers from this machine" };
    const fix = `if the host's own port check passes, something between blocks it: open TCP ${p} in the cloud firewall (Oracle: the VCN's security list or network security group, ingress from 0.0.0.0/0), or check this machine's own network`;
    // Many home and office networks block outgoing port 25: silence there is not proof of a closed port.
    if (p === 25) return { check: "outside", record: `${target}:${p}`, status: "warn", detail: `does not answer from this machine (${answers[i]}); many ISPs block outgoing port 25, so try from another network`, fix };
    return { check: "outside", record: `${target}:${p}`, status: "fail", detail: `does not answer from this machine (${answers[i]})`, fix };
  });
}

/** The host's own checks (status.ts): services, ports, queue, disk, memory, bans, reboot, backup (status/host.ts). */
export async function hostResults(t: Transport, spec: { name: string; vars: Record<string, unknown> }): Promise<CheckResult[]> {
  const v = spec.vars as unknown as StatusVars;
  const host = new Host(spec.name, spec.vars, t);
  await host.gather(statusFacts(v));
  return judgeHost(v, readFacts(v, (r) => host.get(r)));
}

export async function verifyMain(argv: string[], io: CliIo = defaultIo(), mode: "verify" | "status" = "verify"): Promise<number> {
  const out = (s: string) => void io.stdout.write(s);
  const err = (s: string) => io.err(s.replace(/\n$/, ""));
  const status = mode === "status";
  return withExitCode(io, async () => {
    const program = new Command(mode)
      .description(status ? "One report per host: its services, queue, disk, memory, bans and backup, then the live DNS and served certificates" : "Check the live DNS against what each mail host needs")
      .requiredOption("-i, --inventory <file>", "inventory YAML file")
      .option("--resolver <ip>", "ask this DNS server instead of the system's resolvers")
      .option("--json", "print the results as JSON", false)
      .option("--limit <names>", "only these hosts or groups (comma-separated)")
      .option("--no-outbound", "skip the outbound port 25 check (no SSH command beyond reading facts)")
      .option("--no-certificates", "skip the checks of the certificate served on 25, 465, 587 and 993")
      .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false);
    if (status) program.option("--html <file>", "also write a self-contained HTML page of the report").option("--no-outside", "skip connecting to each service port from this machine").option("--test-alert", "send one test alert from each host through every channel its watchdog uses (mail to status_admin_email, status_push_url), and nothing else", false);
    program
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
      .allowExcessArguments(false);
    parseCommand(program, argv, `npx tsx playbooks/${mode}.ts -i inventory/hosts.yml [--resolver IP] [--json] [--limit NAME|GROUP]${status ? " [--html FILE]" : ""}`);
    const o = program.opts<{ inventory: string; resolver?: string; json: boolean; limit?: string; outbound: boolean; certificates: boolean; acceptNewHostKeys: boolean; html?: string; testAlert?: boolean; outside: boolean }>();
    if (o.resolver && !isIP(o.resolver)) throw new UsageError(`--resolver ${o.resolver}: not an IP address`);
    const loaded = loadHosts(o.inventory, o.limit, io.env);
    for (const w of loaded.warnings) err(`warning: ${w}\n`);
    const c = colors(colorEnabled(io.stdout, io.env));
    const dns = nodeResolver(o.resolver);
    const all: (CheckResult & { host: string })[] = [];
    if (o.testAlert) return await testAlerts(loaded.hosts, o.acceptNewHostKeys, { out, json: o.json, redact: loaded.redact });
    for (const spec of loaded.hosts) {
      let results: CheckResult[];
      try {
        const g = await gatherHost(spec, o.acceptNewHostKeys);
        for (const w of g.warnings) err(`warning: ${w}\n`);
        try {
          const caPem = typeof spec.vars.certbot_ca_bundle === "string" && spec.vars.certbot_ca_bundle ? spec.vars.certbot_ca_bundle : undefined;
          results = status ? await hostResults(g.transport, spec) : [];
          if (status && o.outside !== false) results.push(...(await outsideResults(spec)));
          results.push(...await runChecks({ host: g.input, dns, fetch: nodeFetch(dns, { caPem }), ...(o.outbound ? { probe: sshProbe(g.transport) } : {}) }));
          if (o.certificates) results.push(...(await certificateResults(g.transport, spec.vars)));
        } finally {
          await g.transport.close();
        }
      } catch (e) {
        results = [{ check: "host", record: spec.name, status: "fail", detail: `cannot read the host's facts: ${loaded.redact((e as Error).message)}`, fix: "check the inventory's address and SSH settings" }];
      }
      all.push(...results.map((r) => ({ host: spec.name, ...r })));
      if (!o.json) {
        out(`== ${spec.name}\n`);
        for (const r of results) {
          const tag = r.status === "pass" ? c.green("pass") : r.status === "warn" ? c.yellow("warn") : c.red("FAIL");
          out(`${tag}  ${r.check.padEnd(11)} ${r.record}: ${r.detail}\n`);
          if (r.fix && r.status !== "pass") out(`      fix: ${r.fix}\n`);
        }
      }
    }
    const count = (s: string) => all.filter((r) => r.status === s).length;
    if (o.json) out(`${JSON.stringify({ results: all, pass: count("pass"), warn: count("warn"), fail: count("fail") }, null, 2)}\n`);
    else out(`\npass=${count("pass")} warn=${count("warn")} fail=${count("fail")}\n`);
    if (o.html) writeFileSync(o.html, statusHtml(all, new Date()));
    return count("fail") > 0 ? 1 : 0;
  });
}

runAsScript(import.meta.url, (argv) => verifyMain(argv));
