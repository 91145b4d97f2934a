/**
 * Backups to an `s3:` repository on Debian 12 and 13, against an S3-compatible stand-in: s3rver
 * (from npm, a devDependency) on the lab's bridge at 198.51.100.1:9000, over TLS with the lab CA's
 * server pair (the one Pebble uses, for IP 198.51.100.1), so the role's `backup_ca_bundle` is what
 * makes restic trust it. What it proves: the settings the role generates (the region, path-style
 * bucket lookup, the access key handed to restic in its environment from files at mode 600, the
 * private CA) work with the real restic of each release (0.14 and 0.18): a snapshot lands in the
 * bucket, lists, and a drill restores it and compares it with the live mail.
 * What it cannot prove: s3rver does not check request signatures, so a wrong key is not refused
 * here; Oracle's endpoint itself cannot be reached from the lab (docs/backup.md says how to set it up).
 */
import { chmodSync, mkdirSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLab, labSecrets, LAB_NET, sshRun, type LabState } from "../lab/index.js";
import { acmePaths, httpsGet } from "../lab/acme.js";
import { pidAlive, spawnDaemon, stopPid, tail, waitFor } from "../lab/util.js";
import { quote } from "../../lib/shell.js";
import { playbook, ROOT, site, stepsWith } from "./helpers.js";

let lab: LabState;
type LabHost = LabState["hosts"][number];
let pid: number | undefined;
let dataDir = "";
let invPath = "";
const PORT = 9000;
const BUCKET = "mailstead-backup";
const KEY_ID = "S3RVER";
const SECRET = "S3RVER";
const MX = ["mx1", "mx2"];
const root = (h: LabHost, script: string) => sshRun(h, `sudo -n sh -c ${quote(script)}`, { timeoutMs: 120_000, nothrow: true });
const mx = () => lab.hosts.filter((h) => MX.includes(h.name));

/** The lab inventory with mx1 and mx2 backing up to the stand-in; their keys in the secrets file beside it. */
function s3Inventory(): string {
  const inv = YAML.parse(readFileSync(lab.inventory, "utf8"));
  const ca = readFileSync(acmePaths.serverCa, "utf8");
  for (const name of MX) {
    inv.hosts[name].vars = {
      ...inv.hosts[name].vars,
      backup_enabled: true,
      backup_repository: `s3:https://${LAB_NET.address}:${PORT}/${BUCKET}/${name}`,
      backup_s3_region: "us-east-1",
      backup_ca_bundle: ca,
    };
  }
  inv.hosts = Object.fromEntries(MX.map((n) => [n, inv.hosts[n]]));
  inv.groups = {};
  const dir = mkdtempSync(join(tmpdir(), "mailstead-s3-"));
  writeFileSync(join(dir, "s3.yml"), YAML.stringify(inv));
  const hosts = Object.fromEntries(MX.map((n) => [n, { backup_s3_access_key_id: KEY_ID, backup_s3_secret_access_key: SECRET }]));
  writeFileSync(join(dir, "s3.secrets.yml"), YAML.stringify({ vars: labSecrets(), hosts }), { mode: 0o600 });
  return join(dir, "s3.yml");
}

beforeAll(async () => {
  lab = await ensureLab();
  dataDir = mkdtempSync(join(tmpdir(), "mailstead-s3rver-"));
  chmodSync(dataDir, 0o755); // nobody (s3rver) must reach data/ inside it
  mkdirSync(join(dataDir, "data"));
  chownSync(join(dataDir, "data"), 65534, 65534);
  const log = join(dataDir, "s3rver.log");
  writeFileSync(log, "");
  pid = spawnDaemon(
    "setpriv",
    ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, join(ROOT, "node_modules/s3rver/bin/s3rver.js"),
      "-d", join(dataDir, "data"), "-a", LAB_NET.address, "-p", String(PORT), "--key", acmePaths.key, "--cert", acmePaths.cert, "--configure-bucket", BUCKET, "--silent"],
    log,
  );
  await waitFor(`s3rver on https://${LAB_NET.address}:${PORT}`, 20_000, async () => {
    if (!pidAlive(pid)) throw new Error(`s3rver exited; log:\n${tail(log)}`);
    const r = await httpsGet(`https://${LAB_NET.address}:${PORT}/`, acmePaths.serverCa).catch(() => undefined);
    return r?.status === 200 && r.body.includes(BUCKET);
  });
  invPath = s3Inventory();
}, 300_000);

afterAll(async () => {
  if (!lab) return;
  // Back to the lab inventory's repository (the SFTP target); the S3 key files are removed by it.
  const r = await site(["-i", lab.inventory, "--limit", "mx1,mx2", "--tags", "backup"]);
  await stopPid(pid, "node");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  expect(stepsWith(r, "failed"), r.stdout).toEqual([]);
  for (const h of mx()) expect((await root(h, "ls /etc/mailstead/backup/")).stdout, h.name).not.toMatch(/s3_/);
}, 600_000);

describe("backups to an s3: repository (an S3-compatible stand-in, restic 0.14 and 0.18)", () => {
  it("converges: the key at mode 600 in two files, in no script, unit or process list", async () => {
    const r = await site(["-i", invPath, "--limit", "mx1,mx2", "--tags", "backup"]);
    expect(stepsWith(r, "failed"), r.stdout + r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    for (const h of mx()) {
      const st = (await root(h, "stat -c '%a %U %n' /etc/mailstead/backup/s3_access_key_id /etc/mailstead/backup/s3_secret_access_key /etc/mailstead/backup/ca.pem")).stdout.trim().split("\n");
      expect(st, h.name).toEqual(["600 root /etc/mailstead/backup/s3_access_key_id", "600 root /etc/mailstead/backup/s3_secret_access_key", "644 root /etc/mailstead/backup/ca.pem"]);
      const where = await root(h, "grep -c S3RVER /usr/local/sbin/mailstead-backup /etc/systemd/system/mailstead-backup.service; systemctl show mailstead-backup.service -p Environment");
      expect(where.stdout, h.name).not.toMatch(/S3RVER|:[1-9]/);
    }
    // A second run changes nothing.
    const again = await site(["-i", invPath, "--limit", "mx1,mx2", "--tags", "backup"]);
    expect(stepsWith(again, "changed"), again.stdout).toEqual([]);
  });

  it("backup.ts puts a snapshot in the bucket, --list shows it, and drill.ts restores it and finds it complete (both releases)", async () => {
    const r = await playbook("playbooks/backup.ts", ["-i", invPath, "--limit", "mx1,mx2", "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const runs = JSON.parse(r.stdout) as Record<string, { result: string; snapshot: string; files: number; bytes_added: number; started: number; ended: number; memory_peak: number }>;
    for (const h of mx()) {
      expect(runs[h.name]!.result, h.name).toBe("ok");
      console.log(`s3 backup ${h.name}: ${runs[h.name]!.files} files, ${runs[h.name]!.bytes_added} bytes added, ${runs[h.name]!.ended - runs[h.name]!.started} s, peak ${(runs[h.name]!.memory_peak / 1048576).toFixed(1)} MiB`);
    }
    // The objects are in the stand-in's bucket, one restic repository per host (path-style keys).
    const objects = execFileSync("find", [join(dataDir, "data", BUCKET), "-type", "f"], { encoding: "utf8" });
    for (const name of MX) {
      expect(objects, name).toMatch(new RegExp(`/${BUCKET}/${name}/config`));
      expect(objects, name).toMatch(new RegExp(`/${BUCKET}/${name}/snapshots/`));
    }
    const list = await playbook("playbooks/backup.ts", ["-i", invPath, "--limit", "mx1,mx2", "--list", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const snaps = JSON.parse(list.stdout) as Record<string, { id: string }[]>;
    for (const name of MX) expect(snaps[name]!.filter((s) => s.id.startsWith(runs[name]!.snapshot)), name).toHaveLength(1);
    const drill = await playbook("playbooks/drill.ts", ["-i", invPath, "--limit", "mx1,mx2", "--json"]);
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);
    const d = JSON.parse(drill.stdout) as Record<string, { result: string; messages: number; missing: number; differ: number; message: string }>;
    for (const name of MX) {
      expect(d[name], name).toMatchObject({ result: "ok", missing: 0, differ: 0 });
      expect(d[name]!.messages, name).toBeGreaterThan(0);
      console.log(`s3 drill ${name}: ${d[name]!.message}`);
    }
  });
});
