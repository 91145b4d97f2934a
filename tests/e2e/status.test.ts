/**
 * status.ts against the lab (issue 16, first slice), Debian 12 (mx1) and 13 (mx2): the host checks
 * pass on converged hosts; a stopped Dovecot fails, named, with its fix, and passes again once
 * started; an admin address banned by hand is a warning with the unban command; --html writes a
 * self-contained page. (The watchdog that would restart Dovecot is not built yet.)
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import YAML from "yaml";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { CheckResult } from "../../dns/checks.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteRecord, ensureLab, LAB_NET, labHost, setRecord, sshRun, type LabState } from "../lab/index.js";
import { playbook, ROOT, site, stepsWith } from "./helpers.js";

let lab: LabState;
const HOST_CHECKS = ["service", "port", "queue", "disk", "memory", "fail2ban", "updates", "backup", "drill", "dnsbl-host", "quota", "outside"];
interface Result { host: string; check: string; record: string; status: string; detail: string; fix?: string; chart?: CheckResult["chart"] }
const root = (host: string, cmd: string) => sshRun(labHost(lab, host), `sudo -n sh -c '${cmd.replace(/'/g, `'\\''`)}'`, { timeoutMs: 120_000, nothrow: true });

async function status(limit: string, extra: string[] = []): Promise<{ code: number | null; results: Result[]; stdout: string }> {
  const r = await playbook("playbooks/status.ts", ["-i", lab.inventory, "--limit", limit, "--resolver", LAB_NET.address, "--no-certificates", "--json", ...extra]);
  let results: Result[] = [];
  try {
    results = (JSON.parse(r.stdout) as { results: Result[] }).results;
  } catch {
    throw new Error(`status.ts printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, results, stdout: r.stdout };
}
const OUT = join(ROOT, "tests/e2e/.output");
const hostOnly = (rs: Result[]) => rs.filter((r) => HOST_CHECKS.includes(r.check));

beforeAll(async () => {
  lab = await ensureLab();
  const r = await site(["-i", lab.inventory, "--limit", "mail"]);
  expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
}, 900_000);

afterAll(async () => {
  if (!lab) return;
  await root("mx1", "systemctl start dovecot.service; fail2ban-client set dovecot unbanip 198.51.100.1 >/dev/null 2>&1; true");
});

describe("status.ts", () => {
  it("converged hosts: every service runs and listens, the queue is empty, disk and bans are fine (both releases)", async () => {
    const { results } = await status("mx1,mx2");
    for (const host of ["mx1", "mx2"]) {
      const mine = hostOnly(results.filter((r) => r.host === host));
      expect(mine.filter((r) => r.check === "service").map((r) => r.record)).toEqual(expect.arrayContaining([host === "mx1" ? "postfix@-.service" : "postfix.service", "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service", "lighttpd.service", "mailstead-webmail.socket"]));
      // the backup's freshness and the drill depend on whether backup.test.ts ran since the lab
      // came up: not judged here (backup.test.ts judges them)
      const bad = mine.filter((r) => r.status !== "pass" && r.check !== "backup" && r.check !== "drill");
      expect(bad, JSON.stringify(bad, null, 1)).toEqual([]);
      expect(mine.find((r) => r.check === "backup")).toBeDefined();
      expect(mine.find((r) => r.check === "drill")).toBeDefined();
      // doveadm's quota lines are read on both releases (Dovecot 2.3 and 2.4); every port answers the lab host
      expect(mine.filter((r) => r.check === "quota").map((r) => r.record)).toEqual([host === "mx1" ? "alice@example.test" : "dave@example.net"]);
      expect(mine.filter((r) => r.check === "outside").map((r) => r.record.split(":")[1])).toEqual(["25", "465", "587", "993", "4190", "80", "443"]);
      // each service's PSS in the mail slice, read from both cgroup layouts' ps lines
      const chart = mine.find((r) => r.check === "memory")!.chart!;
      expect(chart.limit).toBe(100 * 1024 * 1024);
      const names = chart.parts.map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining([host === "mx1" ? "postfix@-.service" : "postfix.service", "dovecot.service", "opendkim.service", "monit.service"]));
      const total = chart.parts.reduce((a, p) => a + p.bytes, 0);
      expect(total).toBeGreaterThan(10 * 1024 * 1024);
      expect(total).toBeLessThan(chart.limit);
      console.log(`${host}: PSS in the mail slice ${(total / 1048576).toFixed(1)} MiB: ${chart.parts.map((p) => `${p.name} ${(p.bytes / 1048576).toFixed(1)}`).join(", ")}`);
    }
  });

  it("a stopped Dovecot fails, named with its ports and the fix; started again, it passes", async () => {
    await root("mx1", "systemctl stop dovecot.service");
    const down = await status("mx1");
    expect(down.code).toBe(1);
    const fails = hostOnly(down.results).filter((r) => r.status === "fail" && r.check !== "backup" && r.check !== "drill");
    expect(fails.map((r) => r.record)).toEqual(["dovecot.service", "993/tcp (dovecot.service)", "4190/tcp (dovecot.service)", "198.51.100.10:993", "198.51.100.10:4190"]);
    expect(fails[0]!.fix).toMatch(/systemctl start dovecot\.service/);
    await root("mx1", "systemctl start dovecot.service");
    const up = await status("mx1");
    expect(hostOnly(up.results).filter((r) => r.status === "fail" && r.check !== "backup" && r.check !== "drill")).toEqual([]);
  });

  it("postscreen's block lists answer through the host's resolver; a list that refuses it (127.255.255.254) or stays silent is a resolver problem, not a listing (both releases)", async () => {
    const lists = (rs: Result[], host: string) => rs.filter((r) => r.host === host && r.check === "dnsbl-host");
    const ok = await status("mx1,mx2");
    for (const host of ["mx1", "mx2"]) {
      expect(lists(ok.results, host).map((r) => [r.record, r.status])).toEqual([["zen.spamhaus.org (postscreen)", "pass"], ["bl.spamcop.net (postscreen)", "pass"], ["b.barracudacentral.org (postscreen)", "pass"], ["list.dnswl.org (postscreen)", "pass"]]);
    }
    await setRecord("2.0.0.127.zen.spamhaus.org", "A", ["127.255.255.254"], { state: lab });
    await deleteRecord("2.0.0.127.bl.spamcop.net", "A", { state: lab });
    try {
      const bad = await status("mx1,mx2");
      // warnings only: no block-list line fails the report
      expect(bad.results.filter((r) => r.check === "dnsbl-host" && r.status === "fail")).toEqual([]);
      for (const host of ["mx1", "mx2"]) {
        const [zen, spamcop, ...rest] = lists(bad.results, host);
        expect(zen).toMatchObject({ status: "warn", detail: expect.stringContaining("refuses this host's resolver (it answered 127.255.255.254") });
        expect(zen!.fix).toMatch(/local caching resolver/);
        expect(spamcop).toMatchObject({ status: "warn", detail: expect.stringMatching(/^bl\.spamcop\.net does not answer through this host's resolver/) });
        expect(rest.map((r) => r.status)).toEqual(["pass", "pass"]);
      }
    } finally {
      await setRecord("2.0.0.127.zen.spamhaus.org", "A", ["127.0.0.2", "127.0.0.4", "127.0.0.10"], { state: lab });
      await setRecord("2.0.0.127.bl.spamcop.net", "A", ["127.0.0.2"], { state: lab });
    }
    const again = await status("mx1");
    expect(lists(again.results, "mx1").map((r) => r.status)).toEqual(["pass", "pass", "pass", "pass"]);
  });

  it("mail to a destination that never answers fills the queue: a warning with the count and the reason; gone, it passes (both releases)", async () => {
    // A lab domain whose MX is an address nobody has on the bridge: the connection attempts stay in 198.51.100.0/24.
    await setRecord("unreachable.example.test", "MX", ["10 dead.example.test."], { state: lab });
    await setRecord("dead.example.test", "A", ["198.51.100.99"], { state: lab });
    const purge = "postqueue -j | grep unreachable.example.test | sed -n 's/.*\"queue_id\": *\"\\([0-9A-F]*\\)\".*/\\1/p' | postsuper -d - 2>&1; true";
    try {
      await Promise.all(["mx1", "mx2"].map((h) => root(h, `for i in $(seq 20); do printf "Subject: queue test $i\\n\\nx\\n" | sendmail -f postmaster@${h === "mx1" ? "example.test" : "example.net"} nobody@unreachable.example.test; done`)));
      // until each message had its first attempt (a connect timeout or no route)
      const deadline = Date.now() + 120_000;
      let r = await status("mx1,mx2");
      while (Date.now() < deadline && ["mx1", "mx2"].some((h) => !/connect to|No route|timed out/i.test(r.results.find((x) => x.host === h && x.check === "queue")?.detail ?? ""))) {
        await new Promise((res) => setTimeout(res, 5000));
        r = await status("mx1,mx2");
      }
      for (const h of ["mx1", "mx2"]) {
        const q = r.results.find((x) => x.host === h && x.check === "queue")!;
        expect(q.status, JSON.stringify(q)).toBe("warn");
        expect(q.detail).toMatch(/^2\d message/);
        expect(q.detail).toMatch(/198\.51\.100\.99|dead\.example\.test/);
        expect(q.fix).toMatch(/postqueue -p/);
      }
    } finally {
      await Promise.all(["mx1", "mx2"].map((h) => root(h, purge)));
      await deleteRecord("unreachable.example.test", "MX", { state: lab });
      await deleteRecord("dead.example.test", "A", { state: lab });
    }
    const after = await status("mx1,mx2");
    expect(after.results.filter((x) => x.check === "queue").map((x) => x.status)).toEqual(["pass", "pass"]);
  });

  it("a certificate on disk that differs from the one served fails with the reload to do; put back, it passes (both releases)", async () => {
    const certs = async () => {
      const r = await playbook("playbooks/status.ts", ["-i", lab.inventory, "--limit", "mx1,mx2", "--resolver", LAB_NET.address, "--json", "--no-outside"]);
      return (JSON.parse(r.stdout) as { results: Result[] }).results.filter((x) => x.check === "certificate" && /serves the certificate on disk/.test(x.record));
    };
    // Another certificate and its key on disk (the self-signed stand-in), no reload: Dovecot keeps
    // serving the one it read at start. (Postfix reads them in each new smtpd process, so its ports
    // follow the disk by themselves, and are not judged here.)
    const swap = "cd /etc/mailstead/tls && cp -P fullchain.pem fullchain.pem.e2e && cp -P privkey.pem privkey.pem.e2e && ln -sfn selfsigned/fullchain.pem fullchain.pem && ln -sfn selfsigned/privkey.pem privkey.pem";
    await Promise.all(["mx1", "mx2"].map((h) => root(h, swap)));
    try {
      const imaps = (await certs()).filter((c) => c.record.startsWith("port 993 "));
      expect(imaps).toHaveLength(2);
      for (const c of imaps) {
        expect(c.status).toBe("fail");
        expect(c.detail).toMatch(/^port 993 serves .*, the disk has /);
        expect(c.fix).toMatch(/systemctl reload dovecot/);
      }
      // 443 too (the web side is on in the lab): lighttpd read its certificate at start
      const web = (await certs()).filter((c) => c.record.startsWith("port 443 "));
      expect(web.map((c) => [c.record, c.status])).toEqual([
        ["port 443 serves the certificate on disk (mta-sts.example.test)", "fail"],
        ["port 443 serves the certificate on disk (mta-sts.example.net)", "fail"],
      ]);
      for (const c of web) expect(c.fix).toMatch(/systemctl reload lighttpd/);
    } finally {
      // put back; Postfix's processes started meanwhile read the stand-in: reload it (what the fix says for Postfix)
      await Promise.all(["mx1", "mx2"].map((h) => root(h, "cd /etc/mailstead/tls && mv -fT fullchain.pem.e2e fullchain.pem && mv -fT privkey.pem.e2e privkey.pem && systemctl reload postfix")));
    }
    // 4 mail ports and 443, on both hosts
    expect((await certs()).map((c) => c.status)).toEqual(Array(10).fill("pass"));
  });

  it("a small filesystem past the threshold warns, and full fails, naming the mount (both releases)", async () => {
    const inv = YAML.parse(readFileSync(lab.inventory, "utf8"));
    for (const h of ["mx1", "mx2"]) inv.hosts[h].vars = { ...inv.hosts[h].vars, mailbox_root: "/srv/e2e-smallfs" };
    const dir = mkdtempSync(join(tmpdir(), "mailstead-status-fs-"));
    writeFileSync(join(dir, "inventory.yml"), YAML.stringify(inv));
    copyFileSync(lab.inventory.replace(/\.yml$/, ".secrets.yml"), join(dir, "inventory.secrets.yml"));
    chmodSync(join(dir, "inventory.secrets.yml"), 0o600);
    const disk = async () => {
      const r = await playbook("playbooks/status.ts", ["-i", join(dir, "inventory.yml"), "--limit", "mx1,mx2", "--resolver", LAB_NET.address, "--no-certificates", "--no-outside", "--json"]);
      return (JSON.parse(r.stdout) as { results: Result[] }).results.filter((x) => x.check === "disk" && x.record.includes("/srv/e2e-smallfs"));
    };
    await Promise.all(["mx1", "mx2"].map((h) => root(h, "mkdir -p /srv/e2e-smallfs && mount -t tmpfs -o size=1m tmpfs /srv/e2e-smallfs && dd if=/dev/zero of=/srv/e2e-smallfs/fill bs=1k count=880 2>/dev/null")));
    try {
      const warn = await disk();
      expect(warn.map((x) => x.status), JSON.stringify(warn)).toEqual(["warn", "warn"]);
      await Promise.all(["mx1", "mx2"].map((h) => root(h, "dd if=/dev/zero of=/srv/e2e-smallfs/fill2 bs=1k count=200 2>/dev/null; true")));
      const full = await disk();
      expect(full.map((x) => x.status)).toEqual(["fail", "fail"]);
      expect(full[0]!.fix).toBeTruthy();
      // repaired (the mail deleted): it passes
      await Promise.all(["mx1", "mx2"].map((h) => root(h, "rm -f /srv/e2e-smallfs/fill /srv/e2e-smallfs/fill2")));
      expect((await disk()).map((x) => x.status)).toEqual(["pass", "pass"]);
    } finally {
      await Promise.all(["mx1", "mx2"].map((h) => root(h, "umount /srv/e2e-smallfs; rmdir /srv/e2e-smallfs; true")));
    }
  });

  it("an admin address banned by hand is a warning with the unban command", async () => {
    // the dovecot jail bans 993/4190 only: the lab host's SSH (the status run itself) is not cut
    await root("mx1", "fail2ban-client set dovecot banip 198.51.100.1");
    try {
      const r = await status("mx1");
      const b = r.results.find((x) => x.check === "fail2ban")!;
      expect(b.status).toBe("warn");
      expect(b.fix).toContain("fail2ban-client set dovecot unbanip 198.51.100.1");
    } finally {
      await root("mx1", "fail2ban-client set dovecot unbanip 198.51.100.1");
    }
    // unbanned with the command it gave: it passes
    expect((await status("mx1")).results.find((x) => x.check === "fail2ban")).toMatchObject({ status: "pass" });
  });

  it("--html writes one self-contained page", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "mailstead-status-")), "status.html");
    await status("mx1,mx2", ["--html", file]);
    const html = readFileSync(file, "utf8");
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("<h2>mx1 ");
    expect(html).toContain("<h2>mx2 ");
    expect(html).not.toMatch(/<script|src=|href=/i);
    expect(html).toMatch(/<svg class="chart"[^>]*>.*dovecot\.service/);
    // In a real browser (Debian's Chromium): nothing wider than the window, and the check's name
    // never broken over two lines. The screenshot is kept for a look.
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
    try {
      for (const width of [1280, 800]) {
        const page = await browser.newPage({ viewport: { width, height: 900 } });
        await page.goto(`file://${file}`);
        const shape = await page.evaluate(() => {
          // the check's name in its cell: count the lines its text is laid out on (a row is
          // taller than a line where a chart sits in the detail cell, so the cell's height says nothing)
          const cells = [...document.querySelectorAll("tbody td:nth-child(2)")] as HTMLElement[];
          const lines = cells.map((c) => {
            const range = document.createRange();
            range.selectNodeContents(c);
            return { text: c.textContent ?? "", lines: new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size };
          });
          return { overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth, broken: lines.filter((l) => l.lines > 1), cells: cells.length, charts: document.querySelectorAll("svg.chart").length };
        });
        expect(shape.overflow, JSON.stringify(shape)).toBeLessThanOrEqual(0);
        expect(shape.cells).toBeGreaterThan(10);
        expect(shape.broken, JSON.stringify(shape)).toEqual([]);
        expect(shape.charts).toBe(2);
        mkdirSync(OUT, { recursive: true });
        await page.screenshot({ path: join(OUT, `status-page-${width}.png`), fullPage: true });
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });
});
