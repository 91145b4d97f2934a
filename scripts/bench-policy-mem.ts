/**
 * Benchmark (issue 16): what a per-login sending limit would cost in the 100 MB budget. Postfix
 * limits per client address only (anvil: smtpd_client_message_rate_limit); a limit per SASL login
 * needs a policy service. Debian packages two that do it:
 *   A. postfwd1 (Perl, one process; Debian's default alternative, postfwd2, pre-forks a cache,
 *      a policy process and ten children): `action=rate(sasl_username/100/3600/...)`;
 *   B. policyd-rate-limit (Python 3): limits per sasl_username in its YAML config.
 * Each runs as a transient unit with a minimal per-login limit, answers ten real policy
 * requests (a submission's RCPT stage with a sasl_username), and is measured as tests/lab/mem.ts
 * measures every unit (PSS). Lab VMs without a mail role (outsider: Debian 12, vault: Debian 13);
 * what it installed is purged afterwards.
 *   npx tsx scripts/bench-policy-mem.ts [--hosts outsider,vault] [--json]
 */
import { parseArgs } from "node:util";
import { labHost, loadLabState, memReport, sshRun, type LabHost } from "../tests/lab/index.js";

const { values } = parseArgs({ options: { hosts: { type: "string", default: "outsider,vault" }, json: { type: "boolean", default: false } } });
const mib = (k: number) => Math.round((k / 1024) * 10) / 10;

const request = (i: number) =>
  ["request=smtpd_access_policy", "protocol_state=RCPT", "protocol_name=ESMTP", "client_address=198.51.100.30", "client_name=outsider.example.net", "helo_name=outsider.example.net", "sasl_method=PLAIN", "sasl_username=alice@example.test", `sender=alice@example.test`, `recipient=r${i}@example.net`, "", ""].join("\n");

const POSTFWD_CONF = "id=PER_LOGIN; sasl_username=~/./; action=rate(sasl_username/100/3600/450 4.7.1 too much mail from this login, try again later)\n";
const PRL_CONF = `debug: False
user: "policyd-rate-limit"
group: "policyd-rate-limit"
pidfile: "/tmp/prl.pid"
backend: 0
sqlite_config:
  database: "/tmp/prl.sqlite3"
SOCKET: ["127.0.0.1", 8553]
socket_permission: 0666
limits:
  - [100, 3600]
limit_by_sasl: True
limit_by_sender: False
limit_by_ip: False
limited_networks: []
`;

async function query(h: LabHost, port: number): Promise<string> {
  const reqs = Array.from({ length: 10 }, (_, i) => request(i)).join("");
  // One connection, ten requests, as Postfix keeps a policy connection open.
  const r = await sshRun(h, `python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", ${port}), 10); d=sys.stdin.read().encode(); s.sendall(d); import time; time.sleep(2); s.settimeout(3); print(s.recv(65536).decode())'`, { input: reqs, nothrow: true });
  return r.stdout.trim();
}

async function unitPss(h: LabHost, unit: string): Promise<number> {
  const u = (await memReport(h)).units.find((x) => x.unit === unit);
  if (!u) throw new Error(`${unit} is not running on ${h.name}`);
  return u.pssKiB;
}

async function one(h: LabHost) {
  const release = (await sshRun(h, ". /etc/os-release; echo $VERSION_ID")).stdout.trim();
  const before = (await sshRun(h, "dpkg-query -W -f='${Package}\\n' | sort")).stdout.split("\n");
  const inst = await sshRun(h, "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfwd policyd-rate-limit >/dev/null 2>&1 && echo ok", { nothrow: true, timeoutMs: 300_000 });
  if (!inst.stdout.includes("ok")) throw new Error(`installing on ${h.name} failed: ${inst.stderr}`);
  const added = (await sshRun(h, "dpkg-query -W -f='${Package}\\n' | sort")).stdout.split("\n").filter((p) => p && !before.includes(p));
  try {
    // The packages start their own daemons: stopped, so only ours are measured.
    await sshRun(h, "sudo systemctl stop postfwd policyd-rate-limit 2>/dev/null; sudo pkill -f postfwd 2>/dev/null; true", { nothrow: true });
    await sshRun(h, "sudo sh -c 'cat > /tmp/postfwd.cf'", { input: POSTFWD_CONF });
    await sshRun(h, "sudo systemd-run --unit=mailstead-bench-postfwd -p Type=forking -p PIDFile=/run/mailstead-bench-postfwd.pid postfwd1 -d --pidfile /run/mailstead-bench-postfwd.pid -f /tmp/postfwd.cf -i 127.0.0.1 -p 10045 -u nobody -g nogroup && sleep 3");
    const a = await query(h, 10045);
    const postfwd = await unitPss(h, "mailstead-bench-postfwd.service");
    await sshRun(h, "sudo sh -c 'cat > /tmp/prl.yaml'", { input: PRL_CONF });
    await sshRun(h, "sudo systemd-run --unit=mailstead-bench-prl policyd-rate-limit --file /tmp/prl.yaml && sleep 3");
    const b = await query(h, 8553);
    const prl = await unitPss(h, "mailstead-bench-prl.service");
    return { host: h.name, release, postfwdMiB: mib(postfwd), postfwdAnswer: a.split("\n")[0] ?? "", policydRateLimitMiB: mib(prl), policydRateLimitAnswer: b.split("\n")[0] ?? "" };
  } finally {
    await sshRun(h, "sudo systemctl stop mailstead-bench-postfwd mailstead-bench-prl 2>/dev/null; sudo systemctl reset-failed mailstead-bench-postfwd mailstead-bench-prl 2>/dev/null; sudo rm -f /tmp/postfwd.cf /tmp/prl.yaml /tmp/prl.sqlite3 /tmp/prl.pid; true", { nothrow: true });
    if (added.length) await sshRun(h, `sudo DEBIAN_FRONTEND=noninteractive apt-get purge -y ${added.join(" ")} >/dev/null 2>&1`, { nothrow: true, timeoutMs: 300_000 });
  }
}

async function main(): Promise<void> {
  const state = loadLabState();
  const results = [];
  for (const name of values.hosts!.split(",")) results.push(await one(labHost(state, name)));
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else {
    console.log("a per-login sending limit: the policy service's PSS after ten requests (MiB):");
    for (const r of results) console.log(`  Debian ${r.release} (${r.host}): postfwd ${r.postfwdMiB} (answered "${r.postfwdAnswer}"), policyd-rate-limit ${r.policydRateLimitMiB} (answered "${r.policydRateLimitAnswer}")`);
  }
}

main().catch((e: Error) => {
  console.error(`bench-policy-mem: ${e.message}`);
  process.exit(1);
});
