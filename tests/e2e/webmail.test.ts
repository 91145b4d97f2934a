/**
 * Roundcube at zero idle cost, on Debian 12 (mx1) and 13 (mx2), as the lab inventory has it
 * (webmail_enabled, the idle period shortened to LAB_WEBMAIL_IDLE_SECONDS): while idle no PHP
 * process runs and only systemd's socket is there; the first request after idle starts PHP
 * (measured); alice logs in from outsider over HTTPS (curl, Pebble's root trusted) and sees her
 * INBOX; her session survives PHP's stop; Roundcube's configuration and scripts are not served.
 * The browser-driven tests (read, reply, vacation, contacts) are in browser.test.ts.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureLab, labHost, LAB_NET, memReport, sshRun, type LabState } from "../lab/index.js";
import { LAB_WEBMAIL_IDLE_SECONDS } from "../lab/lab.js";
import { playbook, site, stepsWith } from "./helpers.js";

let lab: LabState;
const SITES = [
  { host: "mx1", domain: "example.test", release: "Debian 12" },
  { host: "mx2", domain: "example.net", release: "Debian 13" },
] as const;
const outsider = () => labHost(lab, "outsider");
const root = (host: string, cmd: string) => sshRun(labHost(lab, host), `sudo -n sh -c '${cmd.replace(/'/g, `'\\''`)}'`, { timeoutMs: 60_000, nothrow: true });

/** curl from outsider with a cookie jar per test host: status, headers, body, seconds. */
async function curl(host: string, url: string, extra = ""): Promise<{ status: number; headers: Record<string, string>; body: string; seconds: number; raw: string }> {
  const jar = `/tmp/jar-${host}.txt`;
  // headers and body per test host: the two hosts' requests may run side by side
  const r = await sshRun(outsider(), `curl -sS --max-time 20 --cacert /tmp/pebble-root.pem -b ${jar} -c ${jar} -D /tmp/wh-${host}.txt -o /tmp/wb-${host}.txt -w 'T=%{time_total}\\n' ${extra} '${url}'; echo "rc=$?"; cat /tmp/wh-${host}.txt; echo @@body; cat /tmp/wb-${host}.txt`, { nothrow: true, timeoutMs: 40_000 });
  const [head = "", body = ""] = r.stdout.split("@@body\n");
  const headers: Record<string, string> = {};
  for (const l of head.split(/\r?\n/)) {
    const i = l.indexOf(":");
    if (i > 0 && !l.startsWith("T=")) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(/^HTTP\/\S+ (\d{3})/m.exec(head)?.[1] ?? 0), headers, body, seconds: Number(/^T=([\d.]+)$/m.exec(head)?.[1] ?? NaN), raw: `${r.stdout}${r.stderr}`.slice(0, 3000) };
}

/** Wait until PHP has stopped after the idle period (the proxy exits, PHP is unneeded). */
async function waitIdle(host: string): Promise<number> {
  const t0 = performance.now();
  const limit = (LAB_WEBMAIL_IDLE_SECONDS + 30) * 1000;
  for (;;) {
    const r = await root(host, "systemctl is-active mailstead-webmail-php.service; pgrep -c php-fpm || true");
    const [state = "", count = ""] = r.stdout.trim().split("\n");
    if (state !== "active" && state !== "activating" && count.trim() === "0") return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > limit) throw new Error(`${host}: PHP still runs ${limit / 1000} s later: ${r.stdout}`);
    await new Promise((res) => setTimeout(res, 2000));
  }
}

beforeAll(async () => {
  lab = await ensureLab();
  const r = await site(["-i", lab.inventory, "--limit", "mail"]);
  expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
  await sshRun(outsider(), "cat > /tmp/pebble-root.pem", { input: readFileSync(lab.acme.rootCa, "utf8") });
  if ((await sshRun(outsider(), "command -v curl", { nothrow: true })).exitCode !== 0) await sshRun(outsider(), "sudo -n apt-get install -y -q curl", { timeoutMs: 180_000 });
}, 900_000);

describe.each(SITES)("the webmail on $host ($release)", ({ host, domain }) => {
  const fqdn = `${host}.${domain}`;
  const user = () => lab.mail.users.find((u) => u.host === host)!;

  it("idle: no PHP process runs, only systemd's socket; the webmail's units hold no memory", async () => {
    await waitIdle(host);
    const r = await root(host, "systemctl is-active mailstead-webmail.socket; systemctl is-active mailstead-webmail.service; ss -Hltn 'sport = :9071' | wc -l");
    expect(r.stdout.trim().split("\n")).toEqual(["active", "inactive", "1"]);
    const m = await memReport(labHost(lab, host));
    const webmail = m.units.filter((u) => /webmail|php/.test(u.unit));
    console.log(`${host} idle: webmail units ${JSON.stringify(webmail)} (PSS KiB)`);
    expect(webmail.reduce((a, u) => a + u.pssKiB, 0)).toBe(0);
  });

  it("the first request after idle starts PHP and answers within 1.5 s; alice logs in and sees her INBOX; PSS while in use is measured", async () => {
    await waitIdle(host);
    await sshRun(outsider(), `rm -f /tmp/jar-${host}.txt`);
    const page = await curl(host, `https://${fqdn}/`);
    console.log(`${host}: first request after idle ${page.seconds.toFixed(3)} s (HTTP ${page.status})`);
    expect(page.status, page.raw).toBe(200);
    expect(page.seconds).toBeLessThan(1.5);
    const token = /name="_token" value="([^"]+)"/.exec(page.body)?.[1];
    expect(token, page.body.slice(0, 500)).toBeDefined();
    const form = [`_token=${token}`, "_task=login", "_action=login", "_timezone=UTC", "_url=", `_user=${encodeURIComponent(user().address)}`, `_pass=${encodeURIComponent(user().password)}`].join("&");
    const login = await curl(host, `https://${fqdn}/?_task=login`, `--data '${form}'`);
    expect(login.status, login.raw).toBe(302);
    expect(login.headers.location).toMatch(/_task=mail/);
    const inbox = await curl(host, `https://${fqdn}/?_task=mail&_mbox=INBOX`);
    expect(inbox.status).toBe(200);
    expect(inbox.body).toContain('rcmail.set_env({"task":"mail"');
    expect(inbox.body).toContain(user().address);
    expect(inbox.body).toContain('"cookie_secure":true');
    // cookies: Secure, HttpOnly, SameSite
    const cookies = await sshRun(outsider(), `grep -c roundcube /tmp/jar-${host}.txt; grep -i '^set-cookie' /tmp/wh-${host}.txt || true`, { nothrow: true });
    expect(cookies.stdout).not.toBe("0\n");
    const m = await memReport(labHost(lab, host));
    const php = m.units.find((u) => u.unit === "mailstead-webmail-php.service");
    console.log(`${host} in use: ${JSON.stringify(m.units.filter((u) => /webmail|php|lighttpd/.test(u.unit)))} (PSS KiB)`);
    expect(php?.processes).toBeGreaterThanOrEqual(1);
  });

  it("uploads as large as Postfix accepts: compose offers PHP's limit, three quarters of postfix_message_size_limit", async () => {
    const limit = Number((await root(host, "postconf -h message_size_limit")).stdout.trim());
    // Roundcube answers with a redirect to the new draft's compose page
    const start = await curl(host, `https://${fqdn}/?_task=mail&_action=compose`);
    expect(start.status, start.raw).toBe(302);
    const compose = await curl(host, new URL(start.headers.location!, `https://${fqdn}/`).href);
    expect(compose.status, compose.raw).toBe(200);
    const max = Number(/"max_filesize":(\d+)/.exec(compose.body)?.[1]);
    // upload_max_filesize = 3/4 of the message size in whole MiB (an attachment grows by a third in base64)
    expect(max, compose.body.slice(0, 300)).toBe(Math.max(1, Math.floor((limit * 3) / 4 / 1024 / 1024)) * 1024 * 1024);
  });

  it("security headers on every page; Roundcube's configuration, logs and other scripts are never served", async () => {
    const page = await curl(host, `https://${fqdn}/`);
    expect(page.headers["strict-transport-security"]).toMatch(/^max-age=\d+/);
    expect(page.headers["content-security-policy"]).toMatch(/frame-ancestors 'self'/);
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    expect(page.headers["referrer-policy"]).toBe("no-referrer");
    for (const path of ["/config/config.inc.php", "/program/include/iniset.php", "/plugins/managesieve/managesieve.php", "/.htaccess", "/logs/errors.log"]) {
      const r = await curl(host, `https://${fqdn}${path}`);
      expect([403, 404], `${path}: ${r.status}`).toContain(r.status);
    }
    const key = await root(host, "stat -c '%a %U:%G %s' /etc/mailstead/webmail/des_key");
    expect(key.stdout.trim()).toMatch(/^640 root:www-data (2[4-9]|[3-9]\d)$/);
  });
});

// The two tests that wait out PHP's idle stop run on both hosts at once (the waits overlap).
describe("the webmail on both releases at once (Debian 12 and 13)", () => {
  it("the session survives PHP's idle stop: the next request after it is still the user's INBOX", async () => {
    await Promise.all(
      SITES.map(async ({ host, domain }) => {
        const user = lab.mail.users.find((u) => u.host === host)!;
        const stopped = await waitIdle(host);
        console.log(`${host}: PHP stopped ${stopped.toFixed(0)} s after the test's last request`);
        const again = await curl(host, `https://${host}.${domain}/?_task=mail&_mbox=INBOX`);
        expect(again.status, host).toBe(200);
        expect(again.body).toContain('rcmail.set_env({"task":"mail"');
        expect(again.body).toContain(user.address);
      }),
    );
  });

  it("the role's verify and verify.ts never wake PHP: after a converge with verify and a verify.ts run, PHP has not started", async () => {
    const started = async (host: string) => (await root(host, "systemctl show -P ExecMainStartTimestampMonotonic mailstead-webmail-php.service; systemctl is-active mailstead-webmail-php.service")).stdout.trim();
    await Promise.all(SITES.map(({ host }) => waitIdle(host)));
    const before = Object.fromEntries(await Promise.all(SITES.map(async ({ host }) => [host, await started(host)] as const)));
    const r = await site(["-i", lab.inventory, "--limit", "mx1,mx2", "--tags", "web,webmail"]);
    expect(stepsWith(r, "failed"), r.stdout.slice(-2000)).toEqual([]);
    for (const { host } of SITES) expect(r.report.steps.some((x) => x.host === host && x.title.includes("serves Roundcube's files (static, PHP not woken)") && x.status === "ok"), host).toBe(true);
    const v = await playbook("playbooks/verify.ts", ["-i", lab.inventory, "--limit", "mx1,mx2", "--resolver", LAB_NET.address]);
    expect(v.stdout + v.stderr).toMatch(/mta-sts/i);
    for (const { host } of SITES) {
      expect(await started(host), host).toBe(before[host]);
      expect(before[host], host).toMatch(/inactive$/);
    }
  });
});
