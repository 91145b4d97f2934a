/**
 * Issue 7, firewall, on `oci1`: a lab VM shaped like Oracle Cloud's Ubuntu
 * image (netfilter-persistent with Oracle's rules.v4: REJECT all but SSH, plus
 * instance-service rules) and a foreign nftables table standing in for Docker's.
 * After converge: the mail ports are reachable from other hosts, SSH works,
 * the instance-service rules and the foreign table are intact, all of it
 * survives a reboot, a second converge changes nothing, and a ruleset that
 * cannot be confirmed over a fresh SSH connection is rolled back.
 *
 * Only the firewall role runs here (`--tags firewall`): a full mail-stack converge of a fresh
 * host is what every other file starts from, and here it cost about three minutes of CI for
 * nothing the firewall decides. Something must listen for a port to answer, so a systemd socket
 * (enabled: it listens again after the reboot) holds every port the test knocks on: the mail
 * ports and ManageSieve, and 143, 110, 8080 and 8443, which must stay closed although something listens.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureLab, reboot, sshRun, type LabHost, type LabState } from "../lab/index.js";
import { ROOT, site, stepsWith } from "./helpers.js";

let lab: LabState;
let oci: LabHost;
let outsider: LabHost;
let inventory: string;

const ORACLE_RULES = readFileSync(join(ROOT, "tests/unit/fixtures/oracle/rules.v4"), "utf8");
const MAIL_PORTS = [25, 465, 587, 993];
/** Ports a stand-in listens on: the mail ports, ManageSieve, and four the firewall must keep closed. */
const LISTEN = [...MAIL_PORTS, 4190, 143, 110, 8080, 8443];
const STANDIN_SOCKET = `[Unit]\nDescription=mailstead e2e: a listener on the ports the firewall test knocks on\n[Socket]\n${LISTEN.map((p) => `ListenStream=${p}`).join("\n")}\nAccept=yes\n[Install]\nWantedBy=sockets.target\n`;
const STANDIN_SERVICE = "[Unit]\nDescription=mailstead e2e: the stand-in listener's answer\n[Service]\nExecStart=/bin/echo standin\nStandardInput=socket\nStandardOutput=socket\n";
const FOREIGN = "table ip docker-standin {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tiifname \"docker0\" accept\n\t}\n}";

const root = (h: LabHost, cmd: string, nothrow = false) => sshRun(h, `sudo sh -c ${JSON.stringify(cmd)}`, { nothrow, timeoutMs: 300_000 });

/** Which ports accept a TCP connection from outsider (bounded: 4 s per port). */
async function reachable(ports: number[]): Promise<number[]> {
  const script = ports.map((p) => `timeout 4 bash -c '</dev/tcp/${oci.address}/${p}' 2>/dev/null && echo open=${p}`).join("; ");
  const r = await sshRun(outsider, `${script}; true`, { nothrow: true, timeoutMs: 60_000 });
  return [...r.stdout.matchAll(/open=(\d+)/g)].map((m) => Number(m[1]));
}

/** The lab inventory with only oci1, and extra vars. */
function writeInventory(extra: Record<string, unknown> = {}): string {
  const inv = YAML.parse(readFileSync(lab.inventory, "utf8"));
  inv.hosts = { oci1: { ...inv.hosts.oci1, vars: { ...inv.hosts.oci1.vars, ...extra } } };
  inv.groups = {};
  const file = join(mkdtempSync(join(tmpdir(), "mailstead-fw-")), "oci.yml");
  writeFileSync(file, YAML.stringify(inv));
  return file;
}

beforeAll(async () => {
  lab = await ensureLab();
  oci = lab.hosts.find((h) => h.name === "oci1")!;
  outsider = lab.hosts.find((h) => h.name === "outsider")!;
  // Shape oci1 like Oracle's Ubuntu image: iptables rules restored at boot by netfilter-persistent.
  await root(oci, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends iptables netfilter-persistent iptables-persistent nftables >/dev/null");
  await sshRun(oci, "sudo tee /etc/iptables/rules.v4 >/dev/null", { input: ORACLE_RULES });
  await root(oci, "netfilter-persistent reload >/dev/null 2>&1 || iptables-restore < /etc/iptables/rules.v4");
  await sshRun(oci, "sudo nft -f -", { input: `${FOREIGN}\n` });
  await sshRun(oci, "sudo tee /etc/systemd/system/fw-standin.socket >/dev/null", { input: STANDIN_SOCKET });
  await sshRun(oci, "sudo tee /etc/systemd/system/fw-standin@.service >/dev/null", { input: STANDIN_SERVICE });
  await root(oci, "systemctl daemon-reload && systemctl enable --now fw-standin.socket");
  inventory = writeInventory();
}, 600_000);

describe("firewall on an Oracle-shaped host", () => {
  it("starts closed: only SSH gets through Oracle's REJECT", async () => {
    expect(await reachable(MAIL_PORTS)).toEqual([]);
  });

  it("opens exactly the mail ports, keeps SSH, Oracle's rules and the foreign table", async () => {
    const first = await site(["-i", inventory, "--tags", "firewall"]);
    expect(stepsWith(first, "failed"), first.stdout + first.stderr).toEqual([]);
    expect(first.code).toBe(0);
    expect(await reachable([...MAIL_PORTS, 22, 143, 110, 8080])).toEqual([...MAIL_PORTS, 22]);
    // Oracle's instance-service rules: every line still in the file, every rule still loaded
    // (iptables-save spells some matches differently, so the live rules are counted).
    const oracleLines = ORACLE_RULES.split("\n").filter((l) => l.startsWith("-A "));
    const file = (await root(oci, "cat /etc/iptables/rules.v4")).stdout.split("\n");
    for (const line of oracleLines) expect(file).toContain(line);
    const live = (await root(oci, "iptables-save")).stdout.split("\n");
    expect(live.filter((l) => l.startsWith("-A InstanceServices")).length).toBe(oracleLines.filter((l) => l.startsWith("-A InstanceServices")).length);
    const reject = file.indexOf("-A INPUT -j REJECT --reject-with icmp-host-prohibited");
    expect(file.slice(0, reject).filter((l) => l.includes("--comment mailstead")).length).toBe(MAIL_PORTS.length + 2); // + 22, 4190
    expect((await root(oci, "nft list table ip docker-standin")).stdout).toContain('iifname "docker0" accept');
    const second = await site(["-i", inventory, "--tags", "firewall"]);
    expect(stepsWith(second, "changed")).toEqual([]);
  });

  it("keeps all of it across a reboot", async () => {
    await reboot("oci1");
    expect(await reachable([...MAIL_PORTS, 22, 8080])).toEqual([...MAIL_PORTS, 22]);
    expect((await root(oci, "iptables-save")).stdout).toContain("InstanceServices");
    expect((await root(oci, "nft list table inet mailstead")).stdout).toContain("policy drop");
    const again = await site(["-i", inventory, "--tags", "firewall"]);
    expect(stepsWith(again, "changed")).toEqual([]);
  });

  it("rolls a ruleset back when no fresh SSH connection can confirm it", async () => {
    // the rules (the chain), not the meters' changing state
    const before = (await root(oci, "nft list chain inet mailstead input")).stdout;
    // A table outside ours lets one more new SSH connection from the lab host through (the
    // converge's own) and drops the next ones (its fresh confirmation); it lifts itself after 45 s.
    // (one connection: the timer that lifts it must be armed before any new one is needed;
    // AccuracySec=1s: a timer's default accuracy of a minute let it fire up to 60 s late, past the wait below)
    await sshRun(oci, "sudo systemd-run --quiet --on-active=45 --timer-property=AccuracySec=1s /usr/sbin/nft delete table inet lockout && sudo nft -f -", {
      input: "table inet lockout {\n\tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n\t\tip saddr 198.51.100.1 tcp dport 22 ct state new limit rate over 1/hour burst 1 packets drop\n\t}\n}\n",
    });
    const started = Date.now();
    const changed = writeInventory({ firewall_extra_tcp_ports: [8443], firewall_confirm_seconds: 15 });
    const r = await site(["-i", changed, "--tags", "firewall"]);
    expect(r.code).toBe(1);
    expect(stepsWith(r, "failed").join("\n")).toContain("apply the firewall");
    // wait (bounded) for the lockout to lift, then look
    let ok = false;
    while (!ok && Date.now() - started < 90_000) {
      ok = (await sshRun(oci, "true", { nothrow: true, timeoutMs: 15_000 })).exitCode === 0;
      if (!ok) await new Promise((res) => setTimeout(res, 3000));
    }
    expect(ok).toBe(true);
    const after = (await root(oci, "nft list chain inet mailstead input")).stdout;
    expect(after).not.toContain("8443");
    expect(after).toBe(before);
    expect(await reachable([8443])).toEqual([]);
    // The rules file on disk is the refused one (with 8443) and the failed run left "apply the
    // firewall" pending: a converge with the old inventory renders the old rules back, applies and
    // confirms them, and the next converge changes nothing.
    const fixed = await site(["-i", inventory, "--tags", "firewall"]);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    const changedNow = stepsWith(fixed, "changed");
    expect(changedNow.some((s) => s.includes("firewall: Render /etc/mailstead/firewall.nft")), changedNow.join("\n")).toBe(true);
    expect(changedNow.some((s) => s.includes("firewall: apply the firewall")), changedNow.join("\n")).toBe(true);
    expect((await root(oci, "nft list chain inet mailstead input")).stdout).toBe(before);
    expect(await reachable([8443])).toEqual([]);
    const again = await site(["-i", inventory, "--tags", "firewall"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(stepsWith(again, "changed")).toEqual([]);
  });
});
