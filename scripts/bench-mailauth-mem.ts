/**
 * Benchmark (issue 6): memory of the inbound SPF/DMARC choice, measured on a
 * lab VM the way tests/lab/mem.ts measures every unit (PSS per systemd unit,
 * ../shared/lab-recipe.md §7):
 *   A. OpenDMARC with its own SPF check (SPFSelfValidate) — what mailstead uses;
 *   B. postfix-policyd-spf-python (an SPF policy daemon that Postfix's spawn(8)
 *      starts per concurrent smtpd) + OpenDMARC (without SPFSelfValidate it
 *      needs the same daemon anyway).
 *   npx tsx scripts/bench-mailauth-mem.ts [--host mx1] [--json]
 * Needs the host converged (opendkim + opendmarc running). B installs
 * postfix-policyd-spf-python, runs one policyd-spf as a transient unit after
 * one real policy query, measures, then stops it and purges what it installed.
 * Prints the figures (MiB PSS); lab only (run under the lab lock).
 */
import { parseArgs } from "node:util";
import { labHost, loadLabState, memReport, sshRun, type LabHost } from "../tests/lab/index.js";

const { values } = parseArgs({ options: { host: { type: "string", default: "mx1" }, json: { type: "boolean", default: false } } });
const mib = (k: number) => Math.round((k / 1024) * 10) / 10;

async function unitPss(h: LabHost, unit: string): Promise<number> {
  const m = await memReport(h);
  const u = m.units.find((x) => x.unit === unit);
  if (!u) throw new Error(`${unit} is not running on ${h.name}: converge first`);
  return u.pssKiB;
}

async function main(): Promise<void> {
  const h = labHost(loadLabState(), values.host!);
  // Same start for both: fresh daemons, one policy query's worth of work, 5 s to settle.
  await sshRun(h, "sudo systemctl restart opendkim opendmarc && sleep 5");
  const opendmarc = await unitPss(h, "opendmarc.service");
  const opendkim = await unitPss(h, "opendkim.service");

  const before = (await sshRun(h, "dpkg-query -W -f='${Package}\\n' | sort")).stdout;
  const inst = await sshRun(h, "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix-policyd-spf-python >/dev/null 2>&1 && echo ok", { nothrow: true, timeoutMs: 300_000 });
  if (!inst.stdout.includes("ok")) throw new Error(`installing postfix-policyd-spf-python failed: ${inst.stderr}`);
  const added = (await sshRun(h, "dpkg-query -W -f='${Package}\\n' | sort")).stdout.split("\n").filter((p) => p && !before.split("\n").includes(p));
  let policyd = 0;
  try {
    // One policyd-spf as Postfix's spawn(8) would run it (stdin/stdout), kept alive by a pipe, after one real query.
    const req = "request=smtpd_access_policy\\nprotocol_state=RCPT\\nprotocol_name=ESMTP\\nclient_address=198.51.100.30\\nclient_name=outsider.example.net\\nhelo_name=outsider.example.net\\nsender=alice@example.test\\nrecipient=dave@example.net\\n\\n";
    await sshRun(h, `sudo systemd-run --unit=mailstead-bench-policyd-spf --property=User=nobody sh -c "(printf '${req}'; sleep 120) | policyd-spf >/tmp/policyd-spf.out 2>&1" && sleep 8`);
    policyd = await unitPss(h, "mailstead-bench-policyd-spf.service");
    const answer = (await sshRun(h, "sudo cat /tmp/policyd-spf.out", { nothrow: true })).stdout.trim();
    if (!/action=/.test(answer)) console.error(`note: policyd-spf answered ${JSON.stringify(answer)}`);
  } finally {
    await sshRun(h, "sudo systemctl stop mailstead-bench-policyd-spf; sudo systemctl reset-failed mailstead-bench-policyd-spf 2>/dev/null; sudo rm -f /tmp/policyd-spf.out", { nothrow: true });
    if (added.length) await sshRun(h, `sudo DEBIAN_FRONTEND=noninteractive apt-get purge -y ${added.join(" ")} >/dev/null 2>&1`, { nothrow: true, timeoutMs: 300_000 });
  }
  const result = {
    host: h.name,
    opendkimMiB: mib(opendkim),
    A_opendmarcSelfSpfMiB: mib(opendmarc),
    B_policydSpfPerProcessMiB: mib(policyd),
    B_totalOneConnectionMiB: mib(opendmarc + policyd),
    note: "B grows by one policyd-spf per concurrent port-25 connection (spawn(8), up to the process limit); A does not grow.",
  };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`inbound SPF/DMARC memory on ${h.name} (PSS, MiB):`);
    console.log(`  A  OpenDMARC with SPFSelfValidate           ${result.A_opendmarcSelfSpfMiB}`);
    console.log(`  B  OpenDMARC + one policyd-spf (python)     ${result.B_totalOneConnectionMiB}  (policyd-spf alone ${result.B_policydSpfPerProcessMiB}, one per concurrent connection)`);
    console.log(`  (OpenDKIM, in both: ${result.opendkimMiB})`);
  }
}

main().catch((e: Error) => {
  console.error(`bench-mailauth-mem: ${e.message}`);
  process.exit(1);
});
