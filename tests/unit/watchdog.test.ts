/**
 * The status role (the watchdog, monit) planned from recorded lab facts (Debian 12 and 13): what
 * it watches and how, who hears about it, and the pause a converge and a restore use.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { render } from "../../lib/template.js";
import { LocalTransport } from "../../lib/transport/local.js";
import { planRole } from "../../lib/plan.js";
import { adminEmail, PAUSE, RESUME, status, watched, type StatusVars } from "../../roles/status/index.js";
import { dmarcRua } from "../../dns/records.js";
import { loadRoleFixture, siteInput } from "./role-fixture.js";

const monitrc = (release: "debian12" | "debian13", vars: Record<string, unknown> = {}) => {
  const fx = loadRoleFixture("status", `${release}-fresh`);
  const input = siteInput(fx);
  const plan = planRole(status, { ...input, vars: { ...input.vars, ...vars } });
  return { plan, rc: plan.steps.find((s) => s.file?.path === "/etc/monit/monitrc")!.file!.after! };
};

describe("the status role's watchdog", () => {
  it("watches every mail service by its PID file and restarts it after two rounds down, a bounded number of times; probes no port", () => {
    for (const release of ["debian12", "debian13"] as const) {
      const { rc } = monitrc(release);
      for (const [name, pid] of [["postfix", "/var/spool/postfix/pid/master.pid"], ["dovecot", "/run/dovecot/master.pid"], ["opendkim", "/run/opendkim/opendkim.pid"], ["opendmarc", "/run/opendmarc/opendmarc.pid"], ["fail2ban", "/run/fail2ban/fail2ban.pid"], ["lighttpd", "/run/lighttpd.pid"]]) {
        expect(rc).toContain(`check process ${name} with pidfile ${pid}\n`);
      }
      expect(rc.match(/if does not exist for 2 cycles then restart/g)).toHaveLength(6);
      expect(rc.match(/if 3 restarts within 10 cycles then unmonitor/g)).toHaveLength(6);
      // Debian 12's postfix.service is a oneshot wrapper: its instance is what starts the master.
      expect(rc).toContain(release === "debian12" ? `start program = "/bin/systemctl start postfix@-.service"` : `start program = "/bin/systemctl start postfix.service"`);
      // No port probes: each would keep an smtpd or a login process alive (measured +10 MiB).
      expect(rc).not.toMatch(/if failed .*port/);
      // Alerts on changes to the admin, never about its own start/stop or a requested pause; no TCP control port.
      expect(rc).toMatch(/^set alert \S+@\S+ not on \{ instance, action \}$/m);
      expect(rc).toMatch(/^set httpd unixsocket \/run\/monit\.sock$/m);
      expect(rc).not.toMatch(/set httpd port/);
      expect(rc).toMatch(/^set eventqueue basedir \/var\/lib\/monit\/events slots 200$/m);
    }
  });

  it("a switched-off service is not watched, and the limit and interval come from the settings", () => {
    const { rc } = monitrc("debian13", { opendmarc_enabled: false, web_enabled: false, status_restart_limit: 5, status_interval: 20 });
    expect(rc).not.toContain("check process opendmarc");
    expect(rc).not.toContain("check process lighttpd");
    expect(rc).toMatch(/^set daemon 20$/m);
    expect(rc).toContain("if 5 restarts within 10 cycles then unmonitor");
  });

  it("only Debian 12 gets a native monit.service (it ships an init script)", () => {
    const unit = (r: "debian12" | "debian13") => monitrc(r).plan.steps.find((s) => s.title.startsWith("Write monit.service"))!;
    expect(unit("debian12").file?.after).toMatch(/^ExecStart=\/usr\/bin\/monit -I -c \/etc\/monit\/monitrc$/m);
    expect(unit("debian13").file).toBeUndefined();
  });

  it("watched(): the units the watchdog starts", () => {
    const v = { mailbox_root: "/var/mail/vhosts", web_enabled: true } as unknown as StatusVars;
    expect(watched(v, { id: "debian", versionId: "12" }).map((p) => p.unit)).toEqual(["postfix@-.service", "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service", "lighttpd.service"]);
    expect(watched(v, { id: "debian", versionId: "13" })[0]!.unit).toBe("postfix.service");
  });

  it("alerts go to status_admin_email, else postmaster@ of the mail domain; DMARC/TLS-RPT reports to it only inside the domain", () => {
    const v = (x: Record<string, unknown>) => ({ base_hostname: "mx", base_domain: "example.org", mailbox_domain: "", ...x }) as unknown as StatusVars;
    expect(adminEmail(v({ status_admin_email: "" }))).toBe("postmaster@example.org");
    expect(adminEmail(v({ status_admin_email: "me@elsewhere.net" }))).toBe("me@elsewhere.net");
    const rua = (vars: Record<string, unknown>) => dmarcRua({ domain: "example.org", vars: vars as never });
    expect(rua({ status_admin_email: "admin@example.org" })).toBe("admin@example.org");
    expect(rua({ status_admin_email: "me@elsewhere.net" })).toBe("postmaster@example.org");
    expect(rua({ status_admin_email: "admin@example.org", dns_dmarc_rua: "reports@example.org" })).toBe("reports@example.org");
  });

  it("the pause is a no-op where monit does not run with mailstead's control file, and waits for its socket", async () => {
    for (const [c, verb] of [[PAUSE, "unmonitor all"], [RESUME, "monitor all"]] as const) {
      expect(c).toContain("systemctl is-active --quiet monit.service && grep -q /run/monit.sock /etc/monit/monitrc");
      expect(c).toContain("while [ ! -S /run/monit.sock ]");
      expect(c.endsWith(`monit -c /etc/monit/monitrc ${verb}; fi`)).toBe(true);
    }
    // Run here, where no monit runs: nothing happens and it succeeds.
    const { execFileSync } = await import("node:child_process");
    expect(execFileSync("sh", ["-c", `${PAUSE}; echo rc=$?`], { encoding: "utf8" }).trim()).toBe("rc=0");
    expect(status.pause!({} as StatusVars).suspend).toBe(PAUSE);
  });
});

describe("mailstead-check backup and dnsbl (the rendered script, under sh)", () => {
  // a state directory made now: the host's backups were just set up and the first has not run
  const setup = (public_ipv4 = "") => {
    const d = mkdtempSync(join(tmpdir(), "mailstead-check-"));
    mkdirSync(join(d, "backup"));
    const script = render("status", "mailstead-check.sh", {
      admin: "postmaster@example.test", from: "mailstead@mx1.example.test", fqdn: "mx1.example.test", inventory_name: "mx1",
      status_push_url: "", status_prometheus_textfile: "", units: ["postfix.service"], slice: "mail.slice", mailbox_fs: "/var/mail",
      memory: false, backup: true, memory_max: 100 * 1024 * 1024, memory_warn: 0.9, queue_warn: 20, queue_age_warn: 3600,
      backup_state: join(d, "backup/last.json"), drill_state: join(d, "backup/drill.json"), backup_warn: 26 * 3600, disk_warn: 90,
      dnsbl_zones: ["zen.spamhaus.org", "bl.example.net"], public_ipv4,
    });
    writeFileSync(join(d, "mailstead-check"), script);
    // stand-ins for getent (answers from $d/dns: "name address" lines) and ip (the host's addresses from $d/addrs)
    mkdirSync(join(d, "bin"));
    writeFileSync(join(d, "bin/getent"), `#!/bin/sh\n[ "$1" = ahostsv4 ] || exit 2\nawk -v n="$2" '$1 == n { print $2 "  STREAM " n; f = 1 } END { exit f ? 0 : 2 }' ${d}/dns\n`, { mode: 0o755 });
    writeFileSync(join(d, "bin/ip"), `#!/bin/sh\ncat ${d}/addrs\n`, { mode: 0o755 });
    writeFileSync(join(d, "dns"), "");
    writeFileSync(join(d, "addrs"), "");
    return { d, run: (what = "backup") => new LocalTransport(30_000).run(`PATH=${d}/bin:$PATH sh ${d}/mailstead-check ${what}`) };
  };
  const birth = (p: string) => Number(execFileSync("stat", ["-c", "%W", p], { encoding: "utf8" }).trim());

  it("no backup yet on a host whose backups were set up minutes ago: fine, not an alert (the timer's first run is to come)", async (t) => {
    const s = setup();
    if (!(birth(join(s.d, "backup")) > 0)) t.skip(); // a file system without birth times (not ext4, where CI runs)
    const r = await s.run();
    expect(r.stdout).toMatch(/^no backup yet: backups were set up 0 min ago/);
    expect(r.code).toBe(0);
  });

  it("no backup and no state directory (set up longer ago, or never): an alert", async () => {
    const s = setup();
    rmSync(join(s.d, "backup"), { recursive: true });
    const r = await s.run();
    expect(r.stdout).toMatch(/^no backup has run yet/);
    expect(r.code).toBe(1);
  });

  it("a failed last backup is an alert; a fresh good one is fine", async () => {
    const s = setup();
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(join(s.d, "backup/last.json"), JSON.stringify({ result: "failed", ended: now }));
    expect((await s.run()).code).toBe(1);
    writeFileSync(join(s.d, "backup/last.json"), JSON.stringify({ result: "ok", ended: now }));
    const ok = await s.run();
    expect(ok.code, ok.stdout).toBe(0);
    writeFileSync(join(s.d, "backup/last.json"), JSON.stringify({ result: "ok", ended: now - 27 * 3600 }));
    expect((await s.run()).stdout).toMatch(/27 h old/);
  });

  it("dnsbl: the public address listed on a list is an alert naming address and list; a list refusing the resolver (127.255.255.x) or no answer is not", async () => {
    const s = setup();
    // the host sees a private address (Oracle's NAT) and a public one; only the public one is looked up
    writeFileSync(join(s.d, "addrs"), "2: ens3    inet 10.0.0.5/24 brd 10.0.0.255 scope global ens3\n3: ens4    inet 198.51.100.10/24 brd 198.51.100.255 scope global ens4\n");
    const quiet = await s.run("dnsbl");
    expect(quiet.code, quiet.stdout + quiet.stderr).toBe(0);
    expect(quiet.stdout).toContain("198.51.100.10 is on none of zen.spamhaus.org bl.example.net");
    writeFileSync(join(s.d, "dns"), "10.100.51.198.zen.spamhaus.org 127.255.255.254\n5.0.0.10.bl.example.net 127.0.0.2\n");
    expect((await s.run("dnsbl")).code, "a refused resolver, and the private address's listing, are no alert").toBe(0);
    writeFileSync(join(s.d, "dns"), "10.100.51.198.bl.example.net 127.0.0.2\n10.100.51.198.bl.example.net 127.0.0.4\n");
    const listed = await s.run("dnsbl");
    expect(listed.code).toBe(1);
    expect(listed.stdout).toMatch(/^listed: 198\.51\.100\.10 on bl\.example\.net \(127\.0\.0\.2 127\.0\.0\.4\);/);
  });

  it("dnsbl: dns_public_ipv4, when set, is the address looked up (the VM sees only its private one)", async () => {
    const s = setup("203.0.113.7");
    writeFileSync(join(s.d, "addrs"), "2: ens3    inet 10.0.0.5/24 brd 10.0.0.255 scope global ens3\n");
    writeFileSync(join(s.d, "dns"), "7.113.0.203.zen.spamhaus.org 127.0.0.3\n");
    const r = await s.run("dnsbl");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("203.0.113.7 on zen.spamhaus.org (127.0.0.3)");
    const none = setup();
    writeFileSync(join(none.d, "addrs"), "2: ens3    inet 10.0.0.5/24 brd 10.0.0.255 scope global ens3\n");
    expect((await none.run("dnsbl")).stdout).toContain("no public IPv4 to look up (set dns_public_ipv4)");
  });

  it("queue, memory, disk: each fails past status.ts's thresholds, naming what and the command to look with", async () => {
    const s = setup();
    const now = Math.floor(Date.now() / 1000);
    const stand = (name: string, body: string) => writeFileSync(join(s.d, "bin", name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    // postqueue -j: one JSON object a line
    const queue = (arrivals: number[]) => stand("postqueue", `cat <<'EOF'\n${arrivals.map((t, i) => `{"queue_name": "deferred", "queue_id": "Q${i}", "arrival_time": ${t}}`).join("\n")}\nEOF`);
    queue([now - 60, now - 120]);
    expect((await s.run("queue")).code).toBe(0);
    queue(Array.from({ length: 20 }, () => now - 30));
    const many = await s.run("queue");
    expect(many.code).toBe(1);
    expect(many.stdout).toMatch(/^the mail queue holds 20 message\(s\).*postqueue -p/);
    queue([now - 2 * 3600]);
    const old = await s.run("queue");
    expect(old.code).toBe(1);
    expect(old.stdout).toContain("the oldest for 120 min");
    // the slice's MemoryCurrent against 90 % of the 100 MiB cap
    stand("systemctl", `[ "$*" = "show -P MemoryCurrent mail.slice" ] && echo ${80 * 1048576}`);
    expect(await s.run("memory")).toMatchObject({ code: 0, stdout: "the mail services use 80 MiB of their 100 MiB cap\n" });
    stand("systemctl", `[ "$*" = "show -P MemoryCurrent mail.slice" ] && echo ${95 * 1048576}`);
    const mem = await s.run("memory");
    expect(mem.code).toBe(1);
    expect(mem.stdout).toBe("the mail services use 95 MiB of their 100 MiB cap: see which with systemd-cgtop mail.slice\n");
    // df -P: used / (used + available) against 90 %
    stand("df", `echo "Filesystem 1024-blocks Used Available Capacity Mounted on"; echo "/dev/vdb 1000 ${"$"}{USED:-500} ${"$"}{AVAIL:-500} 50% /var/mail"`);
    expect((await s.run("disk")).stdout).toBe("/var/mail (the Maildirs) is 50% full\n");
    writeFileSync(join(s.d, "bin/df"), `#!/bin/sh\necho "Filesystem 1024-blocks Used Available Capacity Mounted on"; echo "/dev/vdb 1000 930 70 93% /var/mail"\n`, { mode: 0o755 });
    const full = await s.run("disk");
    expect(full.code).toBe(1);
    expect(full.stdout).toMatch(/^\/var\/mail \(the Maildirs\) is 93% full: delete old mail/);
  });
});
