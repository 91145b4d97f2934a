/**
 * The webmail's login form under attack, in both modes, on Debian 12 (mx1) and 13 (mx2):
 *
 * - direct (the lab's default): a client's forged X-Forwarded-For never reaches Roundcube's log;
 *   six failed logins from outsider ban it (fail2ban's mailstead-roundcube jail, nftables sets on
 *   the input and the forward hook); the lab host, an admin address, is never banned.
 * - proxy: a stock nginx on vault configured as Nginx Proxy Manager configures a proxy host
 *   (X-Real-IP, X-Forwarded-For, X-Forwarded-Proto) terminates TLS; the webmail answers only the
 *   proxy; login through it works; Roundcube logs the real client (outsider), never the proxy;
 *   six failed logins through the proxy ban outsider, never vault.
 * - the forward path: NPM runs in Docker on the same host, and Docker-published ports are DNATed
 *   to a container: that traffic passes the forward hook, not input. Stood in for here by a
 *   network namespace on the mail host behind a DNAT rule (what Docker sets up); a banned address
 *   no longer reaches it.
 */
import { readFileSync } from "node:fs";
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { $ } from "zx";
import { ensureLab, labHost, LAB_NET, sshRun, type LabState } from "../lab/index.js";
import { site, stepsWith } from "./helpers.js";

let lab: LabState;
const SITES = [
  { host: "mx1", domain: "example.test", release: "Debian 12" },
  { host: "mx2", domain: "example.net", release: "Debian 13" },
] as const;
const JAIL = "mailstead-roundcube";
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const root = (host: string, cmd: string, timeoutMs = 60_000) => sshRun(labHost(lab, host), `sudo -n sh -c ${q(cmd)}`, { timeoutMs, nothrow: true });
const outsiderAddr = () => labHost(lab, "outsider").address;
const vaultAddr = () => labHost(lab, "vault").address;

/**
 * One login attempt with curl on `from` (outsider, or the lab host itself): fetch the form and its
 * token, post user and password; prints the HTTP status of the post (000: no connection).
 */
const LOGIN_SH = `url=$1; user=$2; pass=$3; ca=$4; shift 4
jar=$(mktemp)
tok=$(curl -sS --max-time 10 --cacert "$ca" -c "$jar" -b "$jar" "$@" "$url/" 2>/dev/null | sed -n 's/.*name="_token" value="\\([^"]*\\)".*/\\1/p' | head -1)
curl -sS --max-time 10 --cacert "$ca" -c "$jar" -b "$jar" "$@" -o /dev/null -w '%{http_code} %{redirect_url}\\n' --data-urlencode "_token=$tok" --data "_task=login&_action=login&_timezone=UTC&_url=" --data-urlencode "_user=$user" --data-urlencode "_pass=$pass" "$url/?_task=login" 2>/dev/null || echo "000 "
rm -f "$jar"`;

async function loginFromOutsider(url: string, user: string, pass: string, ca: string, extra = ""): Promise<string> {
  const r = await sshRun(labHost(lab, "outsider"), `bash /tmp/rc-login.sh ${q(url)} ${q(user)} ${q(pass)} ${ca} ${extra}`, { nothrow: true, timeoutMs: 40_000 });
  return r.stdout.trim();
}

async function jail(host: string): Promise<{ failed: number; banned: string[] }> {
  const r = await root(host, `fail2ban-client status ${JAIL}`);
  return { failed: Number(/Total failed:\s*(\d+)/.exec(r.stdout)?.[1] ?? NaN), banned: /Banned IP list:\s*(.*)$/m.exec(r.stdout)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [] };
}

/** The jail's nftables sets (input and forward) hold the address. */
async function inSets(host: string, addr: string): Promise<{ input: boolean; forward: boolean }> {
  const r = await root(host, "nft -j list table inet f2b-table");
  const sets = (JSON.parse(r.stdout || '{"nftables":[]}').nftables as { set?: { name: string; elem?: unknown[] } }[]).flatMap((x) => (x.set ? [x.set] : []));
  const has = (name: string) => JSON.stringify(sets.find((s) => s.name === name)?.elem ?? []).includes(`"${addr}"`);
  return { input: has(`addr-set-${JAIL}`), forward: has(`addr-set-${JAIL}-fwd`) };
}

async function unban(host: string, addr: string): Promise<void> {
  await root(host, `for j in ${JAIL} recidive; do fail2ban-client set $j unbanip ${addr} >/dev/null 2>&1; done; true`);
}

/**
 * A clean slate: restart the webmail jail and recidive without their bans (fail2ban forgets the
 * failures it counted; the journal is not read again), so each count starts at zero and the
 * test's own bans never add up to a recidive ban of outsider on every port. A restarted journal
 * jail reads its last entry once more: a harmless line under Roundcube's identifier goes first.
 */
async function resetJails(host: string): Promise<void> {
  const r = await root(host, `logger -t roundcube "mailstead test: the jail restarts" && sleep 2 && fail2ban-client reload --restart --unban ${JAIL} && fail2ban-client reload --restart --unban recidive`);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  expect((await jail(host)).failed).toBe(0);
}

/** Roundcube's journal lines since `since` (journalctl --since). */
async function roundcubeLog(host: string, since: string): Promise<string> {
  return (await root(host, `journalctl -t roundcube --since ${q(since)} --no-pager -o cat`)).stdout;
}

/** Lift Roundcube's own per-user lock (login_rate_limit: three failures a minute) that the failures above set. */
async function unlockUsers(host: string): Promise<void> {
  const r = await root(host, "sqlite3 /var/lib/dbconfig-common/sqlite3/roundcube/roundcube 'UPDATE users SET failed_login = NULL, failed_login_counter = NULL'");
  expect(r.exitCode, r.stderr).toBe(0);
}

const vmNow = async (host: string) => (await root(host, "date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();

/**
 * fail2ban's "Found" lines in this jail for `addr`, for log entries stamped `since` or later. The
 * jail's "Total failed" is no measure of one count per attempt: a restarted journal jail may read
 * an older entry (another address's, another test's) once more, and that raised the total under CI
 * load (7 counted for 6 answered). Each Found line carries the time of the entry it matched.
 */
async function found(host: string, addr: string, since: string): Promise<number> {
  const r = await root(host, `grep -F ${q(`[${JAIL}] Found ${addr} - `)} /var/log/fail2ban.log || true`);
  return r.stdout.split("\n").filter((l) => {
    const m = / Found \S+ - (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/.exec(l);
    return m !== null && m[1]! >= since;
  }).length;
}

/** Fail logins from outsider until banned (at most 8): the attempts that got an answer, and the jail's count of them. */
async function failUntilBanned(host: string, url: string, user: string, ca: string, extra = ""): Promise<{ answered: number; counted: number; banned: boolean }> {
  await resetJails(host);
  const maxretry = Number((await root(host, `fail2ban-client get ${JAIL} maxretry`)).stdout.trim());
  expect(maxretry).toBeGreaterThan(0);
  // after the restart: an entry the restarted jail reads again is stamped before this
  const since = await vmNow(host);
  const addr = outsiderAddr();
  const isBanned = async () => (await jail(host)).banned.includes(addr);
  let answered = 0;
  for (let i = 0; i < 8; i++) {
    const status = await loginFromOutsider(url, user, "wrong-password", ca, extra);
    if (!status.startsWith("401")) break;
    answered++;
    // fail2ban reads the journal within a second or two; the ban follows the maxretry-th failure
    // (its action runs just after the Found line).
    for (let t = 0; t < 40 && (await found(host, addr, since)) < answered; t++) await new Promise((r) => setTimeout(r, 250));
    if (answered >= maxretry) for (let t = 0; t < 20 && !(await isBanned()); t++) await new Promise((r) => setTimeout(r, 250));
    if (await isBanned()) return { answered, counted: await found(host, addr, since), banned: true };
  }
  return { answered, counted: await found(host, addr, since), banned: await isBanned() };
}

/** The lab inventory for mx1 and mx2 with extra vars per host. */
function inventory(extra: (host: string) => Record<string, unknown>): string {
  const inv = YAML.parse(readFileSync(lab.inventory, "utf8"));
  for (const h of ["mx1", "mx2"]) inv.hosts[h].vars = { ...inv.hosts[h].vars, ...extra(h) };
  const dir = mkdtempSync(join(tmpdir(), "mailstead-proxy-"));
  const file = join(dir, "inventory.yml");
  writeFileSync(file, YAML.stringify(inv));
  // the lab's secrets file, as beside the lab inventory
  copyFileSync(lab.inventory.replace(/\.yml$/, ".secrets.yml"), join(dir, "inventory.secrets.yml"));
  chmodSync(join(dir, "inventory.secrets.yml"), 0o600);
  return file;
}
const user = (host: string) => lab.mail.users.find((u) => u.host === host)!;

beforeAll(async () => {
  lab = await ensureLab();
  const r = await site(["-i", lab.inventory, "--limit", "mx1,mx2", "--tags", "web,webmail,fail2ban,firewall"]);
  expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
  const outsider = labHost(lab, "outsider");
  await sshRun(outsider, "cat > /tmp/pebble-root.pem", { input: readFileSync(lab.acme.rootCa, "utf8") });
  await sshRun(outsider, "cat > /tmp/rc-login.sh", { input: LOGIN_SH });
  if ((await sshRun(outsider, "command -v curl", { nothrow: true })).exitCode !== 0) await sshRun(outsider, "sudo -n apt-get install -y -q curl", { timeoutMs: 180_000 });
  for (const s of SITES) await resetJails(s.host);
}, 900_000);

afterAll(async () => {
  if (!lab) return;
  for (const s of SITES) await resetJails(s.host);
  for (const s of SITES) await unlockUsers(s.host);
});

describe.each(SITES)("direct mode on $host ($release)", ({ host, domain }) => {
  const url = `https://${host}.${domain}`;
  it("a forged X-Forwarded-For never reaches Roundcube's log: the line names the client", async () => {
    const since = await vmNow(host);
    expect(await loginFromOutsider(url, user(host).address, "wrong-password", "/tmp/pebble-root.pem", `-H ${q("X-Forwarded-For: 203.0.113.66")} -H ${q("X-Real-IP: 203.0.113.67")}`)).toMatch(/^401/);
    await new Promise((r) => setTimeout(r, 1000));
    const log = await roundcubeLog(host, since);
    expect(log).toMatch(new RegExp(`Failed login for ${user(host).address.replace(/\./g, "\\.")} from ${outsiderAddr().replace(/\./g, "\\.")} in session \\w+ \\(error: 0\\)`));
    expect(log).not.toContain("203.0.113.6");
    await unban(host, outsiderAddr());
  });

  it("failed logins from outsider ban it on the web ports and the forward path, one count per attempt", async () => {
    const r = await failUntilBanned(host, url, user(host).address, "/tmp/pebble-root.pem");
    // maxretry 5: the fifth failure bans; the sixth attempt finds the port closed.
    expect(r).toEqual({ answered: 5, counted: 5, banned: true });
    expect(await inSets(host, outsiderAddr())).toEqual({ input: true, forward: true });
    expect(await loginFromOutsider(url, user(host).address, "x", "/tmp/pebble-root.pem")).toMatch(/^000/);
    await unban(host, outsiderAddr());
    // Unbanned, the login page answers again (a login would not, for a minute: Roundcube's own
    // login_rate_limit locks the user after three failures a minute, whatever the address).
    const page = await sshRun(labHost(lab, "outsider"), `curl -sS --max-time 10 --cacert /tmp/pebble-root.pem -o /dev/null -w '%{http_code}' ${url}/`, { nothrow: true });
    expect(page.stdout).toBe("200");
  });

  it("the lab host, an admin address, is never banned", async () => {
    const ip = labHost(lab, host).address;
    const since = await vmNow(host);
    const fails = [];
    for (let i = 0; i < 7; i++) {
      fails.push((await $({ nothrow: true, input: LOGIN_SH })`bash -s ${url} ${user(host).address} wrong-password ${lab.acme.rootCa} --resolve ${`${host}.${domain}:443:${ip}`}`).stdout.trim());
    }
    expect(fails.every((f) => f.startsWith("401")), fails.join(" ")).toBe(true);
    await new Promise((r) => setTimeout(r, 2000));
    const j = await jail(host);
    expect(j.banned).not.toContain(LAB_NET.address);
    // ignoreip: the failures are not even counted
    expect(await found(host, LAB_NET.address, since)).toBe(0);
  });
});

describe("proxy mode behind a stand-in for Nginx Proxy Manager (nginx on vault)", () => {
  const proxyPort = 8080;
  beforeAll(async () => {
    // nginx on vault, a proxy host per webmail as NPM writes it (its conf.d/include/proxy.conf).
    const names = SITES.map((s) => `${s.host}.${s.domain}`);
    const servers = SITES.map((s) => `server {
  listen 443 ssl;
  server_name ${s.host}.${s.domain};
  ssl_certificate /etc/nginx/standin.pem;
  ssl_certificate_key /etc/nginx/standin.key;
  location / {
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-Scheme $scheme;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_pass http://${labHost(lab, s.host).address}:${proxyPort};
  }
}`).join("\n");
    const vault = labHost(lab, "vault");
    const setup = await sshRun(vault, `sudo -n sh -c ${q(`set -e
command -v nginx >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx >/dev/null
test -s /etc/nginx/standin.pem || openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=npm-standin -addext subjectAltName=${names.map((n) => `DNS:${n}`).join(",")} -keyout /etc/nginx/standin.key -out /etc/nginx/standin.pem 2>/dev/null
rm -f /etc/nginx/sites-enabled/default
cat > /etc/nginx/sites-enabled/npm-standin <<'EOF'
${servers}
EOF
nginx -t 2>&1 && systemctl restart nginx`)}`, { timeoutMs: 300_000, nothrow: true });
    expect(setup.exitCode, `${setup.stdout}${setup.stderr}`).toBe(0);
    const pem = (await sshRun(vault, "cat /etc/nginx/standin.pem")).stdout;
    await sshRun(labHost(lab, "outsider"), "cat > /tmp/standin.pem", { input: pem });
    const r = await site([
      "-i", inventory((h) => ({ webmail_mode: "proxy", webmail_proxy_address: labHost(lab, h).address, webmail_proxy_port: proxyPort, webmail_trusted_proxies: [vaultAddr()] })),
      "--limit", "mx1,mx2", "--tags", "web,webmail,fail2ban,firewall",
    ]);
    expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
    expect(r.code, `${r.stdout.slice(-3000)}${r.stderr.slice(-3000)}`).toBe(0);
    expect(r.report.steps.filter((x) => /lighttpd listens on 198\.51\.100\.\d+:8080 only/.test(x.title)).map((x) => `${x.host} ${x.status}`).sort()).toEqual(["mx1 ok", "mx2 ok"]);
  }, 900_000);

  afterAll(async () => {
    if (!lab) return;
    await sshRun(labHost(lab, "vault"), "sudo -n systemctl disable --now nginx", { nothrow: true, timeoutMs: 60_000 });
    const r = await site(["-i", lab.inventory, "--limit", "mx1,mx2", "--tags", "web,webmail,fail2ban,firewall"]);
    expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
  }, 900_000);

  describe.each(SITES)("on $host ($release)", ({ host, domain }) => {
    const proxied = `https://${host}.${domain}`;
    const via = () => `--resolve ${host}.${domain}:443:${vaultAddr()}`;
    it("the webmail answers only the proxy: not on 443 by name, not on the proxy port from anyone else", async () => {
      const direct = await sshRun(labHost(lab, "outsider"), `curl -sS --max-time 10 --cacert /tmp/pebble-root.pem -o /dev/null -w '%{http_code}' https://${host}.${domain}/`, { nothrow: true });
      // the host's name serves no webmail any more: the empty site (403 for its directory, 404 for files)
      expect(["403", "404"]).toContain(direct.stdout);
      const rc = await sshRun(labHost(lab, "outsider"), `curl -sS --max-time 10 --cacert /tmp/pebble-root.pem -o /dev/null -w '%{http_code}' https://${host}.${domain}/skins/elastic/images/logo.svg`, { nothrow: true });
      expect(rc.stdout).toBe("404");
      const port = await sshRun(labHost(lab, "outsider"), `timeout 5 bash -c '</dev/tcp/${labHost(lab, host).address}/${proxyPort}' && echo open || echo closed`, { nothrow: true });
      expect(port.stdout.trim()).toBe("closed");
    });

    it("login through the proxy works, and Roundcube logs the real client even under a forged header", async () => {
      await unlockUsers(host);
      expect(await loginFromOutsider(proxied, user(host).address, user(host).password, "/tmp/standin.pem", via())).toMatch(/^302 .*_task=mail/);
      const since = await vmNow(host);
      expect(await loginFromOutsider(proxied, user(host).address, "wrong-password", "/tmp/standin.pem", `${via()} -H ${q("X-Forwarded-For: 203.0.113.66")}`)).toMatch(/^401/);
      await new Promise((r) => setTimeout(r, 1000));
      const log = await roundcubeLog(host, since);
      expect(log).toMatch(new RegExp(`Failed login for \\S+ from ${outsiderAddr().replace(/\./g, "\\.")} in session`));
      expect(log).not.toContain(vaultAddr());
      expect(log).not.toContain("203.0.113.66");
      await unban(host, outsiderAddr());
    });

    it("failed logins through the proxy ban the client (input and forward sets), never the proxy", async () => {
      const r = await failUntilBanned(host, proxied, user(host).address, "/tmp/standin.pem", via());
      expect(r.banned, JSON.stringify(r)).toBe(true);
      expect(r.counted).toBe(r.answered);
      expect(r.answered).toBe(5);
      expect(await inSets(host, outsiderAddr())).toEqual({ input: true, forward: true });
      expect((await jail(host)).banned).not.toContain(vaultAddr());
      await unban(host, outsiderAddr());
    });
  });

  it("the forward path: a banned client no longer reaches a Docker-style published port (DNAT to a namespace)", async () => {
    // On mx1: a namespace "npmtest" at 198.51.100.201 (its own /32), a listener in it, and a DNAT
    // of port 8443 to it, as Docker does for a published port; forwarding on while the test runs.
    const mx1 = labHost(lab, "mx1");
    const ns = "198.51.100.201";
    const gw = "198.51.100.202";
    const up = await root("mx1", `set -e
ip netns del npmtest 2>/dev/null || true; ip link del npm0 2>/dev/null || true; nft delete table ip npmtest 2>/dev/null || true
ip netns add npmtest
ip link add npm0 type veth peer name npm1
ip link set npm1 netns npmtest
ip addr add ${gw}/32 dev npm0 && ip link set npm0 up && ip route add ${ns}/32 dev npm0
ip -n npmtest addr add ${ns}/32 dev npm1 && ip -n npmtest link set npm1 up && ip -n npmtest link set lo up
ip -n npmtest route add ${gw}/32 dev npm1 && ip -n npmtest route add default via ${gw} dev npm1
sysctl -qw net.ipv4.ip_forward=1
nft add table ip npmtest
nft add chain ip npmtest pre '{ type nat hook prerouting priority dstnat; }'
nft add rule ip npmtest pre tcp dport 8443 dnat to ${ns}:8443
ip netns exec npmtest setsid timeout 120 python3 -m http.server 8443 --bind ${ns} >/dev/null 2>&1 < /dev/null &
echo $! > /run/npmtest.pid
for i in $(seq 200); do ip netns exec npmtest bash -c '</dev/tcp/${ns}/8443' 2>/dev/null && exit 0; sleep 0.1; done; exit 1`);
    try {
      expect(up.exitCode, `${up.stdout}${up.stderr}`).toBe(0);
      const reach = async () => (await sshRun(labHost(lab, "outsider"), `curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://${mx1.address}:8443/`, { nothrow: true })).stdout;
      expect(await reach()).toBe("200");
      await root("mx1", `fail2ban-client set ${JAIL} banip ${outsiderAddr()}`);
      expect((await inSets("mx1", outsiderAddr())).forward).toBe(true);
      expect(await reach()).toBe("000");
      await resetJails("mx1");
      expect(await reach()).toBe("200");
    } finally {
      await root("mx1", "kill $(cat /run/npmtest.pid) 2>/dev/null; nft delete table ip npmtest; ip link del npm0; ip netns del npmtest; sysctl -qw net.ipv4.ip_forward=0; rm -f /run/npmtest.pid; true");
    }
  });
});
