/** status.ts's host checks (status/host.ts) judged on recorded command outputs, and its HTML page. */
import { describe, expect, it } from "vitest";
import { coveredBy, judgeHost, parseBans, servicesOf, type HostFacts, type StatusVars } from "../../status/host.js";
import { statusHtml } from "../../status/html.js";

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
  memory: String(40 * 1024 * 1024),
  now: NOW,
});
const by = (rs: ReturnType<typeof judgeHost>, check: string) => rs.filter((r) => r.check === check);

describe("status: the host's own checks", () => {
  it("a healthy host passes every check", () => {
    const rs = judgeHost(v, healthy());
    expect(rs.filter((r) => r.status !== "pass")).toEqual([]);
    expect(by(rs, "service").map((r) => r.record)).toEqual(["postfix.service", "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service", "mailstead-firewall.service", "lighttpd.service", "mailstead-webmail.socket"]);
    expect(by(rs, "fail2ban")[0]!.detail).toBe("1 banned: dovecot 1");
    expect(by(rs, "disk")).toHaveLength(1);
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
    expect(by(rs, "updates")[0]).toMatchObject({ status: "warn", detail: "a reboot is required (linux-image-6.1.0-40-amd64)" });
  });
  it("the backup: none yet, failed, or too old fails; a day and a half warns", () => {
    const f = healthy();
    f.backup = "";
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
  });
});
