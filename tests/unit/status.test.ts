/** status.ts's host checks (status/host.ts) judged on recorded command outputs, and its HTML page. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { coveredBy, judgeHost, parseBans, parsePss, PSS_CMD, servicesOf, type HostFacts, type StatusVars } from "../../status/host.js";
import { statusHtml } from "../../status/html.js";

const FIX = join(import.meta.dirname, "fixtures/status");
const v: StatusVars = { mailbox_root: "/var/mail/vhosts", web_enabled: true, webmail_enabled: true, backup_enabled: true, budget_slice: "mail.slice", budget_memory_max: "100M", firewall_admin_addresses: ["198.51.100.1", "203.0.113.0/24"] };
const up = { load: "loaded", active: "active", sub: "running", unitFile: "enabled", needDaemonReload: false };
const NOW = 1_800_000_000;
const sockets = [25, 465, 587, 993, 4190, 80, 443].map((port) => ({ proto: "tcp" as const, address: "0.0.0.0", port }));
const healthy = (): HostFacts => ({
  units: Object.fromEntries(servicesOf(v).map((s) => [s.unit, up])),
  sockets,
  queue: "",
  df: "/dev/sda1 10737418240 2147483648 8589934592 20% /\n/dev/sda1 10737418240 2147483648 8589934592 20% /",
  // fail2ban 1.0/1.1 `fail2ban-client banned`
  bans: "[{'sshd': []}, {'postfix': []}, {'dovecot': ['198.51.100.177']}, {'mailstead-roundcube': []}, {'recidive': []}]",
  reboot: "no",
  backup: JSON.stringify({ result: "ok", snapshot: "1a2b3c4d", ended: NOW - 3600 }),
  drill: JSON.stringify({ result: "ok", message: "snapshot 1a2b3c4d (2027-01-15T03:31:02Z): 120 messages in 4 folders restored, 100 compared byte for byte, 9 other files; 2 deleted since", ended: NOW - 5 * 86400 }),
  backupSince: NOW - 90 * 86400,
  memory: String(40 * 1024 * 1024),
  // PSS_CMD on the lab's Debian 12 VM (tests/unit/fixtures/status/pss-*.txt hold both releases')
  pss: readFileSync(join(FIX, "pss-debian12.txt"), "utf8"),
  now: NOW,
  dnsblTest: {},
  // doveadm -f tab quota get -A (Dovecot 2.3 and 2.4): a header, then per user STORAGE (KiB) and MESSAGE
  quota: "username\tquota name\ttype\tvalue\tlimit\t%\nalice@example.test\tUser quota\tSTORAGE\t2048\t1048576\t0\nalice@example.test\tUser quota\tMESSAGE\t12\t-\t0\n",
  updates: "",
});
const by = (rs: ReturnType<typeof judgeHost>, check: string) => rs.filter((r) => r.check === check);

describe("status: quotas and pending updates", () => {
  it("a mailbox at 90% of its quota warns, a full one fails naming the user; no quota is a pass with the use", () => {
    const q = (used: number, limit: string) => judgeHost(v, { ...healthy(), quota: `username\tquota name\ttype\tvalue\tlimit\t%\nbob@example.test\tUser quota\tSTORAGE\t${used}\t${limit}\t0\n` }).filter((r) => r.check === "quota");
    expect(q(1000, "1048576")[0]).toMatchObject({ record: "bob@example.test", status: "pass" });
    expect(q(960000, "1048576")[0]).toMatchObject({ status: "warn", fix: expect.stringContaining("raise their quota in mailbox_users") });
    expect(q(1048576, "1048576")[0]).toMatchObject({ status: "fail", fix: expect.stringContaining("refused (552)") });
    expect(q(5000, "-")[0]).toMatchObject({ status: "pass", detail: "4.9 MiB used, no quota" });
  });
  it("security updates not installed warn with their names; other upgrades pass (apt-get -s, Debian 12 and 13 origins)", () => {
    const u = (text: string) => judgeHost(v, { ...healthy(), updates: text }).find((r) => r.record === "security updates")!;
    expect(u("")).toMatchObject({ status: "pass", detail: "no update pending" });
    const sec = "Inst libssl3 [3.0.15-1~deb12u1] (3.0.16-1~deb12u1 Debian-Security:12/stable-security [amd64])\nInst libssl3t64 [3.5.1-1] (3.5.1-1+deb13u1 Debian-Security:13/stable-security [amd64])\nInst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable [all])\n";
    expect(u(sec)).toMatchObject({ status: "warn", detail: "2 security update(s) not installed: libssl3, libssl3t64" });
    expect(u("Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable [all])\n")).toMatchObject({ status: "pass", detail: expect.stringContaining("1 other upgrade(s) from the point releases") });
  });
});

describe("status: the block lists postscreen asks, through the host's resolver", () => {
  const pv: StatusVars = { ...v, postfix_postscreen_dnsbl_sites: ["zen.spamhaus.org*3", "bl.spamcop.net*2", "list.dnswl.org=127.0.[0..255].[1..3]*-2"] };
  const judged = (answers: Record<string, string>) => by(judgeHost(pv, { ...healthy(), dnsblTest: answers }), "dnsbl-host");
  it("asks each list once, without its weight or filter, and passes when the test entry answers", () => {
    const rs = judged({ "zen.spamhaus.org": "127.0.0.2 127.0.0.4 127.0.0.10 ", "bl.spamcop.net": "127.0.0.2 ", "list.dnswl.org": "127.0.10.0 " });
    expect(rs.map((r) => [r.record, r.status])).toEqual([["zen.spamhaus.org (postscreen)", "pass"], ["bl.spamcop.net (postscreen)", "pass"], ["list.dnswl.org (postscreen)", "pass"]]);
  });
  it("Spamhaus's 127.255.255.x is the resolver refused, not a listing; silence is a list not answering", () => {
    const rs = judged({ "zen.spamhaus.org": "127.255.255.254 ", "bl.spamcop.net": "", "list.dnswl.org": "127.0.10.0 " });
    expect(rs[0]).toMatchObject({ status: "warn", detail: expect.stringMatching(/refuses this host's resolver \(it answered 127\.255\.255\.254/) });
    expect(rs[0]!.fix).toMatch(/local caching resolver/);
    expect(rs[1]).toMatchObject({ status: "warn", detail: expect.stringMatching(/^bl\.spamcop\.net does not answer through this host's resolver/) });
    expect(rs[2]!.status).toBe("pass");
  });
  it("postscreen off: no list is asked", () => {
    expect(by(judgeHost({ ...pv, postfix_postscreen_enabled: false }, healthy()), "dnsbl-host")).toEqual([]);
  });
});

describe("status: the host's own checks", () => {
  it("a healthy host passes every check", () => {
    const rs = judgeHost(v, healthy());
    expect(rs.filter((r) => r.status !== "pass")).toEqual([]);
    expect(by(rs, "service").map((r) => r.record)).toEqual(["postfix.service", "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service", "mailstead-firewall.service", "lighttpd.service", "mailstead-webmail.socket"]);
    expect(by(rs, "fail2ban")[0]!.detail).toBe("1 banned: dovecot 1");
    expect(by(rs, "disk")).toHaveLength(1);
  });
  it("alerts that can only reach a mailbox on the host itself, with no push URL, warn: a dead host tells nobody", () => {
    const alerts = (extra: Partial<StatusVars>) => by(judgeHost({ ...v, mailbox_domain: "example.org", ...extra }, healthy()), "alerts");
    expect(alerts({})).toEqual([expect.objectContaining({ status: "warn", detail: expect.stringContaining("postmaster@example.org, a mailbox on this host"), fix: expect.stringContaining("status_push_url") })]);
    expect(alerts({ status_admin_email: "me@example.org" })[0]!.status).toBe("warn");
    expect(alerts({ status_admin_email: "me@elsewhere.net" })).toEqual([expect.objectContaining({ status: "pass", detail: "the watchdog's alerts go to me@elsewhere.net" })]);
    expect(alerts({ status_push_url: "https://hc-ping.com/x" })).toEqual([expect.objectContaining({ status: "pass", detail: "the watchdog's alerts go to postmaster@example.org, and the heartbeat pings status_push_url" })]);
    // the push URL is a secret: never in the report
    expect(JSON.stringify(alerts({ status_push_url: "https://hc-ping.com/x" }))).not.toContain("hc-ping");
  });
  it("Debian 12's postfix.service is a wrapper: the postfix@- instance is judged where it exists", () => {
    const f = healthy();
    f.units["postfix.service"] = { ...up, sub: "exited" };
    f.units["postfix@-.service"] = { ...up, active: "failed", sub: "failed" };
    const p = by(judgeHost(v, f), "service")[0]!;
    expect(p).toMatchObject({ record: "postfix@-.service", status: "fail" });
    // Debian 13: postfix.service runs the daemon; the template instance exists but is not used
    f.units["postfix.service"] = up;
    f.units["postfix@-.service"] = { ...up, active: "inactive", sub: "dead" };
    expect(by(judgeHost(v, f), "service")[0]).toMatchObject({ record: "postfix.service", status: "pass" });
  });
  it("a stopped Dovecot fails, naming the unit and its ports, with the fix", () => {
    const f = healthy();
    f.units["dovecot.service"] = { ...up, active: "inactive", sub: "dead" };
    f.sockets = sockets.filter((s) => s.port !== 993 && s.port !== 4190);
    const bad = judgeHost(v, f).filter((r) => r.status === "fail");
    expect(bad.map((r) => r.record)).toEqual(["dovecot.service", "993/tcp (dovecot.service)", "4190/tcp (dovecot.service)"]);
    expect(bad[0]!.fix).toMatch(/systemctl start dovecot\.service/);
  });
  it("the queue: count, oldest age and the deferral reasons; a day old fails", () => {
    const f = healthy();
    const msg = (age: number) => JSON.stringify({ arrival_time: NOW - age, recipients: [{ address: "x@unreachable.example", delay_reason: "connect to unreachable.example[203.0.113.99]:25: Connection timed out" }] });
    f.queue = [msg(7200), msg(60)].join("\n");
    const q = by(judgeHost(v, f), "queue")[0]!;
    expect(q.status).toBe("warn");
    expect(q.detail).toBe("2 message(s), the oldest waiting 2 h; deferred: 2× connect to unreachable.example[203.0.113.99]:25: Connection timed out");
    f.queue = msg(2 * 86400);
    expect(by(judgeHost(v, f), "queue")[0]!.status).toBe("fail");
  });
  it("the disk: 80% warns, 95% fails", () => {
    const f = healthy();
    f.df = "/dev/loop0 1000000 850000 150000 85% /var/mail/vhosts\n/dev/sda1 10737418240 2147483648 8589934592 20% /";
    expect(by(judgeHost(v, f), "disk").map((r) => `${r.record} ${r.status}`)).toEqual(["/var/mail/vhosts warn", "/ pass"]);
    f.df = "/dev/loop0 1000000 960000 40000 96% /var/mail/vhosts";
    expect(by(judgeHost(v, f), "disk")[0]!.status).toBe("fail");
    // ext4 keeps 5% for root: 94% of the size used is 99% of what Postfix can use (df's Capacity)
    f.df = "/dev/sda1 10000 9400 100 99% /";
    expect(by(judgeHost(v, f), "disk")[0]).toMatchObject({ status: "fail", detail: expect.stringMatching(/^99% used/) });
  });
  it("a queue of 20 warns; 150 000 messages are judged (no spread into Math.max); fail2ban silent is unknown, not 'nothing banned'", () => {
    const f = healthy();
    f.queue = Array.from({ length: 20 }, () => JSON.stringify({ arrival_time: NOW - 10, recipients: [] })).join("\n");
    expect(by(judgeHost(v, f), "queue")[0]!.status).toBe("warn");
    f.queue = Array.from({ length: 150_000 }, () => '{"arrival_time": 1799999990}').join("\n");
    expect(by(judgeHost(v, f), "queue")[0]!.detail).toMatch(/^150000 message\(s\)/);
    f.bans = "";
    expect(by(judgeHost(v, f), "fail2ban")[0]).toMatchObject({ status: "warn", detail: expect.stringMatching(/unknown/) });
  });
  it("an admin address among the bans warns with the unban command", () => {
    const f = healthy();
    f.bans = "[{'sshd': ['203.0.113.9']}, {'dovecot': []}]";
    const b = by(judgeHost(v, f), "fail2ban")[0]!;
    expect(b.status).toBe("warn");
    expect(b.fix).toContain("fail2ban-client set sshd unbanip 203.0.113.9");
  });
  it("memory near the budget warns; a reboot the updates wait for warns", () => {
    const f = healthy();
    f.memory = String(95 * 1024 * 1024);
    f.reboot = "yes\nlinux-image-6.1.0-40-amd64";
    const rs = judgeHost(v, f);
    expect(by(rs, "memory")[0]).toMatchObject({ status: "warn", detail: "95.0 MiB of 100M (page cache included)" });
    expect(by(rs, "updates").find((r) => r.record === "reboot")).toMatchObject({ status: "warn", detail: "a reboot is required (linux-image-6.1.0-40-amd64)" });
  });
  it("the backup: none yet, failed, or older than 50 h fails; older than 26 h warns; a host set up less than 26 h ago without one warns", () => {
    const f = healthy();
    f.backup = "";
    expect(by(judgeHost(v, f), "backup")[0]!.status).toBe("fail");
    expect(by(judgeHost(v, { ...f, backupSince: NOW - 3 * 3600 }), "backup")[0]).toMatchObject({ status: "warn", detail: expect.stringContaining("the first runs at the timer's next time") });
    // the filesystem does not say when (stat %W is 0): no excuse
    expect(by(judgeHost(v, { ...f, backupSince: 0 }), "backup")[0]!.status).toBe("fail");
    f.backup = JSON.stringify({ result: "ok", snapshot: "abc", ended: NOW - 25 * 3600 });
    expect(by(judgeHost(v, f), "backup")[0]!.status).toBe("pass");
    f.backup = JSON.stringify({ result: "ok", snapshot: "abc", ended: NOW - 51 * 3600 });
    expect(by(judgeHost(v, f), "backup")[0]!.status).toBe("fail");
    f.backup = JSON.stringify({ result: "failed", message: "cannot open the repository", ended: NOW - 60 });
    expect(by(judgeHost(v, f), "backup")[0]).toMatchObject({ status: "fail", detail: "failed: cannot open the repository, 60 s ago" });
    f.backup = JSON.stringify({ result: "ok", snapshot: "abc", ended: NOW - 40 * 3600 });
    expect(by(judgeHost(v, f), "backup")[0]!.status).toBe("warn");
    expect(by(judgeHost({ ...v, backup_enabled: false }, f), "backup")).toEqual([]);
    // a truncated state file is a failed backup check, not a lost report
    f.backup = '{"result": "ok", "snap';
    expect(by(judgeHost(v, f), "backup")[0]).toMatchObject({ status: "fail", detail: expect.stringMatching(/last\.json is not JSON/) });
  });
  it("parses fail2ban's list and matches admin CIDRs", () => {
    expect(parseBans("[{'sshd': ['1.2.3.4', '5.6.7.8']}, {'recidive': []}]")).toEqual({ sshd: ["1.2.3.4", "5.6.7.8"], recidive: [] });
    expect(coveredBy("203.0.113.200", ["203.0.113.0/24"])).toBe(true);
    expect(coveredBy("203.0.114.1", ["203.0.113.0/24"])).toBe(false);
    expect(coveredBy("198.51.100.1", ["198.51.100.1"])).toBe(true);
    expect(coveredBy("2001:db8::5", ["2001:db8::/64"])).toBe(true);
    expect(coveredBy("2001:DB8::5", ["2001:db8::5"])).toBe(true);
    expect(coveredBy("2001:db9::5", ["2001:db8::/32"])).toBe(false);
    expect(coveredBy("198.51.100.1", ["0.0.0.0/0"])).toBe(true);
  });
});

describe("status: the restore drill", () => {
  it("passed within 35 days passes; none yet or older warns; failed fails with its problem and the fix; off with the backups", () => {
    const f = healthy();
    expect(by(judgeHost(v, f), "drill")[0]).toMatchObject({ record: "last restore drill", status: "pass", detail: expect.stringMatching(/^passed 5 days ago: snapshot 1a2b3c4d .*120 messages/) });
    expect(by(judgeHost(v, { ...f, drill: "" }), "drill")[0]).toMatchObject({ status: "warn", fix: expect.stringContaining("npx tsx playbooks/drill.ts") });
    expect(by(judgeHost(v, { ...f, drill: JSON.stringify({ result: "ok", message: "m", ended: NOW - 40 * 86400 }) }), "drill")[0]).toMatchObject({ status: "warn", fix: expect.stringContaining("systemctl status mailstead-drill.timer") });
    const failed = by(judgeHost(v, { ...f, drill: JSON.stringify({ result: "failed", message: "1 problem(s): missing from the snapshot: /var/mail/vhosts/example.test/alice/Maildir/1.M2", ended: NOW - 60 }) }), "drill")[0]!;
    expect(failed).toMatchObject({ status: "fail", detail: "failed 60 s ago: 1 problem(s): missing from the snapshot: /var/mail/vhosts/example.test/alice/Maildir/1.M2" });
    expect(failed.fix).toMatch(/back up again/);
    expect(by(judgeHost(v, { ...f, drill: "{not json" }), "drill")[0]).toMatchObject({ status: "fail", detail: expect.stringMatching(/drill\.json is not JSON/) });
    expect(by(judgeHost({ ...v, backup_enabled: false }, f), "drill")).toEqual([]);
  });
});

describe("status: memory per service", () => {
  it("PSS per unit of the slice, read from ps's cgroup lines on both releases, largest first, in bytes", () => {
    for (const release of ["debian12", "debian13"]) {
      const parts = parsePss(readFileSync(join(FIX, `pss-${release}.txt`), "utf8"));
      expect(parts.map((p) => p.name)).toEqual(expect.arrayContaining(["dovecot.service", "opendkim.service", "monit.service"]));
      expect(parts.map((p) => p.name)).toContain(release === "debian12" ? "postfix@-.service" : "postfix.service");
      expect(parts.every((p, i) => i === 0 || parts[i - 1]!.bytes >= p.bytes)).toBe(true);
      expect(parts.every((p) => p.bytes > 0 && p.bytes % 1024 === 0)).toBe(true);
    }
    // anything but "unit KiB" is left out (an error line, a name that is no unit)
    expect(parsePss("dovecot.service 2048\nawk: cannot open file\n<b>.service 10\nsession-1.scope 12\n")).toEqual([
      { name: "session-1.scope", bytes: 12 * 1024 },
      { name: "dovecot.service", bytes: 2048 * 1024 },
    ].sort((a, b) => b.bytes - a.bytes));
  });
  it("the memory check carries the chart: every service against the budget", () => {
    const m = judgeHost(v, healthy()).find((r) => r.check === "memory")!;
    expect(m.chart!.limit).toBe(100 * 1024 * 1024);
    expect(m.chart!.parts.length).toBeGreaterThanOrEqual(5);
    // no PSS read (an old host, ps failing): the check stands without its chart
    expect(judgeHost(v, { ...healthy(), pss: "" }).find((r) => r.check === "memory")!.chart).toBeUndefined();
  });
  it("the slice name goes into the command quoted", () => {
    expect(PSS_CMD("mail.slice")).toContain("awk -v s=/mail.slice/ ");
    expect(PSS_CMD("my slice.slice")).toContain("awk -v s='/my slice.slice/' ");
  });
});

describe("status: the HTML page", () => {
  it("is self-contained, escapes what hosts answered, shows fixes and a memory bar", () => {
    const f = healthy();
    f.units["dovecot.service"] = { ...up, active: "failed", sub: "<script>alert(1)</script>" };
    const html = statusHtml(judgeHost(v, f).map((r) => ({ host: "mx1", ...r })), new Date(0));
    expect(html).not.toMatch(/<script|src=|href=/i);
    expect(html).toContain("&lt;script&gt;");
    expect(html).toContain('<meta http-equiv="Content-Security-Policy" content="default-src \'none\';');
    expect(html).toMatch(/<tr class="fail"><td class="st">FAIL<\/td><td>service<\/td><td>dovecot\.service<\/td>/);
    expect(html).toContain("fix: start it and read why it stopped");
    expect(html).toMatch(/<svg width="240" height="14" role="img"/);
    // the chart: a bar and a size per service, the budget said once
    expect(html).toMatch(/<svg class="chart"[^>]*>.*<text x="0" y="\d+">dovecot\.service<\/text>/);
    expect(html).toContain("each bar's full width is the budget, 100 MiB");
    expect(html.match(/<rect x="230"/g)!.length).toBe(2 * judgeHost(v, f).find((r) => r.check === "memory")!.chart!.parts.length);
  });
});
