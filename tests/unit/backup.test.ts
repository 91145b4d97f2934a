/**
 * The backup role: what it refuses at load, what it backs up (every role's declared state,
 * the volatile queue left out), and mailstead-backup's decisions, run for real under sh
 * against a stand-in restic (a script that answers as restic does and logs its calls):
 * exit 3 (files changed while read) is never a success, the incomplete snapshot is
 * forgotten, a missing repository is created but an unreadable one never is.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultValues } from "../../lib/defaults.js";
import { render } from "../../lib/template.js";
import { LocalTransport } from "../../lib/transport/local.js";
import { backup, backupPaths, resticOptions, sftpCommand, sftpTarget } from "../../roles/backup/index.js";
import { planRole } from "../../lib/plan.js";
import { loadRoleFixture, siteInput } from "./role-fixture.js";
import { backupDefaults } from "../../roles/backup/defaults.js";
import { siteRoles } from "../../roles/registry.js";
import { siteVars } from "./role-fixture.js";
import { backupMain } from "../../playbooks/backup.js";
import { checkFolder, checkSince, restoreMain } from "../../playbooks/restore.js";

const ctx = { host: "h", loginUser: "debian" };
const vars = (over: Record<string, unknown> = {}) =>
  ({ ...defaultValues(backupDefaults), base_hostname: "mx1", base_domain: "example.test", mailbox_root: "/var/mail/vhosts", ...over }) as never;
const on = { backup_enabled: true, backup_repository: "sftp:restic@198.51.100.50:/srv/restic/mx1", backup_password: "long-random-pass", backup_sftp_key: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", backup_sftp_known_hosts: ["198.51.100.50 ssh-ed25519 AAAAC3Nza"] };

describe("backup role: load-time checks and the paths", () => {
  it("refuses an enabled backup without a repository, a password, an sftp key or host key, or on the host's own disk", () => {
    expect(backup.validate!(vars(), ctx)).toEqual([]);
    expect(backup.validate!(vars(on), ctx)).toEqual([]);
    const settings = (over: Record<string, unknown>) => backup.validate!(vars({ ...on, ...over }), ctx).map((p) => p.setting);
    expect(settings({ backup_repository: "" })).toEqual(["backup_repository"]);
    expect(settings({ backup_password: "" })).toEqual(["backup_password"]);
    expect(settings({ backup_sftp_key: "" })).toEqual(["backup_sftp_key"]);
    expect(settings({ backup_sftp_known_hosts: [] })).toEqual(["backup_sftp_known_hosts"]);
    expect(settings({ backup_repository: "/srv/backup" })).toEqual(["backup_repository"]);
    expect(settings({ backup_repository: "/srv/backup", backup_allow_local: true })).toEqual([]);
    expect(settings({ backup_repository: "/var/mail/vhosts/backup", backup_allow_local: true })).toEqual(["backup_repository"]);
    expect(settings({ backup_repository: "rest:https://vault.example.net:8000/mx1", backup_sftp_key: "", backup_sftp_known_hosts: [] })).toEqual([]);
  });

  it("the schema refuses a repository that could carry a second word or line into the script", () => {
    const re = new RegExp(backupDefaults.backup_repository.schema.pattern);
    for (const ok of ["sftp:restic@198.51.100.50:/srv/restic/mx1", "rest:https://vault:8000/mx1", "s3:https://objectstorage.eu-frankfurt-1.oraclecloud.com/mail", "/srv/restic"]) expect(re.test(ok), ok).toBe(true);
    for (const bad of ["sftp:a@b:/x y", "sftp:a@b:/x\n", "rest:https://x/'; reboot", "ftp://x", "relative/path", "sftp:a@b:/x$(reboot)"]) expect(re.test(bad), JSON.stringify(bad)).toBe(false);
  });

  it("backs up every site role's declared state except the volatile queue, each path once", () => {
    const v = siteVars({ opendkim_enabled: true, certbot_mode: "standalone" });
    const paths = backupPaths(siteRoles.flatMap((r) => r.state?.(v) ?? []));
    expect(paths).toEqual(["/etc/dovecot/sieve", "/etc/dovecot/users", "/etc/letsencrypt", "/etc/mailstead/tls", "/etc/opendkim/keys", "/var/mail/vhosts"]);
    expect(paths).not.toContain("/var/spool/postfix");
  });

  const s3on = { ...on, backup_repository: "s3:https://ns.compat.objectstorage.eu-frankfurt-1.oraclecloud.com/mail/mx1", backup_sftp_key: "", backup_sftp_known_hosts: [], backup_s3_access_key_id: "0123abcd", backup_s3_secret_access_key: "s3-secret-value/xyz=", backup_s3_region: "eu-frankfurt-1" };

  it("an s3: repository needs its access key, secret and region; S3 keys or a CA for another kind of repository are refused", () => {
    const settings = (over: Record<string, unknown>) => backup.validate!(vars({ ...s3on, ...over }), ctx).map((p) => p.setting);
    expect(settings({})).toEqual([]);
    expect(settings({ backup_s3_access_key_id: "" })).toEqual(["backup_s3_access_key_id"]);
    expect(settings({ backup_s3_secret_access_key: "" })).toEqual(["backup_s3_secret_access_key"]);
    expect(settings({ backup_s3_region: "" })).toEqual(["backup_s3_region"]);
    expect(backup.validate!(vars({ ...on, backup_s3_secret_access_key: "x" }), ctx).map((p) => p.setting)).toEqual(["backup_s3_access_key_id"]);
    expect(backup.validate!(vars({ ...on, backup_ca_bundle: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n" }), ctx).map((p) => p.setting)).toEqual(["backup_ca_bundle"]);
    expect(settings({ backup_ca_bundle: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n" })).toEqual([]);
  });

  it("s3: region and path-style bucket lookup become restic options (Oracle needs both); other repositories get none; the schema keeps a region or key to one word", () => {
    expect(resticOptions(vars(s3on))).toEqual(["s3.region=eu-frankfurt-1", "s3.bucket-lookup=path"]);
    expect(resticOptions(vars({ ...s3on, backup_s3_bucket_lookup: "dns" }))).toEqual(["s3.region=eu-frankfurt-1", "s3.bucket-lookup=dns"]);
    expect(resticOptions(vars(on))).toEqual([]);
    const region = new RegExp(backupDefaults.backup_s3_region.schema.pattern);
    const key = new RegExp(backupDefaults.backup_s3_access_key_id.schema.pattern);
    for (const bad of ["eu frankfurt", "eu-frankfurt-1\n", "x;reboot", "$(id)"]) {
      expect(region.test(bad), bad).toBe(false);
      expect(key.test(bad), bad).toBe(false);
    }
    expect(backupDefaults.backup_s3_bucket_lookup.schema.enum).toEqual(["path", "dns", "auto"]);
  });

  it("plans the S3 key files at mode 600 as sensitive steps: neither secret appears in any command or diff", () => {
    const fx = loadRoleFixture("backup", "debian12-fresh");
    const plan = planRole(backup, siteInput({ ...fx, vars: { ...fx.vars, ...s3on }, facts: { ...fx.facts, 'file.stat:"/etc/mailstead/backup/s3_access_key_id"': null, 'file.stat:"/etc/mailstead/backup/s3_secret_access_key"': null } }));
    const titles = plan.steps.map((x) => x.title);
    expect(titles).toEqual(expect.arrayContaining(["Write the S3 access key id (/etc/mailstead/backup/s3_access_key_id)", "Write the S3 secret access key (/etc/mailstead/backup/s3_secret_access_key)"]));
    expect(titles.some((t) => t.startsWith("Write the SSH key"))).toBe(false);
    for (const t of ["Write the S3 access key id", "Write the S3 secret access key"]) {
      const step = plan.steps.find((x) => x.title.startsWith(t))!;
      // sensitive: the reporter shows neither content nor diff (tests/unit/runner.test.ts), no copy is kept in /var/backups
      expect(step.sensitive, t).toBe(true);
      expect(step.file?.sensitive, t).toBe(true);
      expect(step.commands[0]!.run, t).toMatch(/chmod 0600 /);
      expect(step.commands[0]!.run, t).not.toMatch(/s3-secret|0123abcd/);
    }
    // the script reads the keys from those files: neither is in it
    const script = plan.steps.find((x) => x.title === "Install /usr/local/sbin/mailstead-backup")!.commands[0]!.stdin!;
    expect(script).not.toMatch(/s3-secret|0123abcd/);
    expect(script).toContain("set -- -o s3.region=eu-frankfurt-1");
  });

  it("logs in to an sftp: target with its own key and only the known host key", () => {
    const t = sftpTarget("sftp:restic@198.51.100.50:/srv/restic/mx1")!;
    expect(t).toEqual({ user: "restic", host: "198.51.100.50", path: "/srv/restic/mx1" });
    expect(sftpCommand(t)).toMatch(/-i \/etc\/mailstead\/backup\/ssh_key -o IdentitiesOnly=yes -o UserKnownHostsFile=\/etc\/mailstead\/backup\/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes .* restic@198\.51\.100\.50 -s sftp$/);
    expect(sftpTarget("rest:https://x/y")).toBeUndefined();
  });
});

/**
 * A stand-in restic: `backup` answers with the next exit code of $FAKE/backup-codes (one per
 * line) and a summary line with a new snapshot id; `cat config` answers as $FAKE/open says
 * (ok, missing, password); every call is appended to $FAKE/calls.
 */
const FAKE_RESTIC = `#!/bin/sh
echo "$*" >> "$FAKE/calls"
echo "\${AWS_ACCESS_KEY_ID:-}:\${AWS_SECRET_ACCESS_KEY:-}" >> "$FAKE/env"
case " $* " in
  *" cat config "*)
    case "$(cat "$FAKE/open")" in
      ok) exit 0 ;;
      missing) echo "Fatal: unable to open config file: Stat: stat /srv/restic/mx1/config: file does not exist" >&2; echo "Is there a repository at the following location?" >&2; exit 1 ;;
      password) echo "Fatal: wrong password or no key found" >&2; exit 1 ;;
    esac ;;
  *" init "*) echo ok > "$FAKE/open"; exit 0 ;;
  *" snapshots "*) cat "$FAKE/snapshots.json" 2>/dev/null || echo "[]" ;;
  *" restore "*)
    [ -f "$FAKE/restore-fails" ] && { echo "Fatal: unable to load snapshot: pack 3f2a not found" >&2; exit 1; }
    target=$(printf '%s\n' "$@" | sed -n '/^--target$/{n;p}')
    mkdir -p "$target" && cp -a "$FAKE/snapshot/." "$target/" ;;
  *" backup "*)
    n=$(($(wc -l < "$FAKE/calls")))
    code=$(sed -n 1p "$FAKE/backup-codes"); sed -i 1d "$FAKE/backup-codes"
    [ "$code" = 1 ] && { echo "Fatal: unable to save snapshot: disk full" >&2; exit 1; }
    [ "$code" = 3 ] && echo "error: lstat /var/mail/vhosts/x/cur/1.msg: no such file or directory" >&2
    printf '{"message_type":"summary","files_new":2,"total_files_processed":7,"data_added":2048,"snapshot_id":"snap%04d"}\\n' "$n"
    exit "$code" ;;
  *) exit 0 ;;
esac
`;

/** Write a file under root, its folders made. */
const put = (root: string, rel: string, content: string) => {
  mkdirSync(join(root, rel, ".."), { recursive: true });
  writeFileSync(join(root, rel), content);
};
const list = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

function scriptSetup(open: "ok" | "missing" | "password", codes: number[], extra: Record<string, unknown> = {}) {
  const d = mkdtempSync(join(tmpdir(), "backup-script-"));
  for (const sub of ["conf", "state", "cache", "fake/bin", "data"]) mkdirSync(join(d, sub), { recursive: true });
  writeFileSync(join(d, "data/msg"), "a message\n");
  writeFileSync(join(d, "conf/paths"), `# state\n${join(d, "data")}\n${join(d, "not-there-yet")}\n`);
  writeFileSync(join(d, "conf/excludes"), "");
  writeFileSync(join(d, "conf/password"), "pw\n");
  writeFileSync(join(d, "fake/open"), open);
  writeFileSync(join(d, "fake/calls"), "");
  writeFileSync(join(d, "fake/backup-codes"), codes.map((c) => `${c}\n`).join(""));
  writeFileSync(join(d, "fake/bin/restic"), FAKE_RESTIC);
  chmodSync(join(d, "fake/bin/restic"), 0o755);
  const script = render("backup", "mailstead-backup.sh", {
    ...(vars(on) as Record<string, unknown>),
    conf_dir: join(d, "conf"),
    state_dir: join(d, "state"),
    cache_dir: join(d, "cache"),
    host_tag: "mx1.example.test",
    sftp_command: "",
    mailbox_root: join(d, "live/mail"),
    aside_dir: join(d, "aside"),
    monit_socket: join(d, "fake/monit.sock"),
    monitrc: "/etc/monit/monitrc",
    local: false,
    restic_options: [],
    ca_file: "",
    ...extra,
  });
  writeFileSync(join(d, "mailstead-backup"), script);
  chmodSync(join(d, "mailstead-backup"), 0o755);
  const run = (args = "") => new LocalTransport(30_000).run(`FAKE=${d}/fake PATH=${d}/fake/bin:$PATH sh ${d}/mailstead-backup ${args}`);
  const calls = () => readFileSync(join(d, "fake/calls"), "utf8").trim().split("\n").filter(Boolean);
  const last = () => JSON.parse(readFileSync(join(d, "state/last.json"), "utf8")) as Record<string, unknown>;
  return { d, run, calls, last };
}

describe("mailstead-backup (the rendered script, under sh, with a stand-in restic)", () => {
  it("a complete snapshot: only existing paths, the host's stable name, retention, a record", async () => {
    const s = scriptSetup("ok", [0]);
    const r = await s.run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/snapshot snap\d+: 7 files, 2048 bytes added/);
    const calls = s.calls();
    expect(calls.some((c) => c.includes("init"))).toBe(false);
    const b = calls.find((c) => c.startsWith("backup "))!;
    expect(b).toContain("--host mx1.example.test --tag mailstead");
    // The existing paths, and the owners manifest (whose each id is, by name) that goes with them.
    expect(readFileSync(join(s.d, "state/paths"), "utf8")).toBe(`${join(s.d, "data")}\n${join(s.d, "state/owners")}\n`);
    const uid = process.getuid!();
    expect(readFileSync(join(s.d, "state/owners"), "utf8")).toContain(`u ${uid} ${uid === 0 ? "root" : ""}`);
    expect(calls.at(-1)).toBe("forget --host mx1.example.test --tag mailstead --keep-daily 30 --prune");
    expect(s.last()).toMatchObject({ result: "ok", host: "mx1.example.test", files: 7, bytes_added: 2048 });
  });

  it("exit 3 is never a success: the incomplete snapshot is forgotten and the run repeats", async () => {
    const s = scriptSetup("ok", [3, 3, 0]);
    const r = await s.run();
    expect(r.code, r.stderr).toBe(0);
    const calls = s.calls();
    const forgotten = calls.filter((c) => /^forget snap\d+$/.test(c));
    expect(forgotten).toHaveLength(2);
    expect(calls.filter((c) => c.startsWith("backup "))).toHaveLength(3);
    expect(s.last()).toMatchObject({ result: "ok" });
    expect(String(s.last().message)).toMatch(/try 3/);
  });

  it("three incomplete snapshots in a row fail the run, saying why, and leave none of them", async () => {
    const s = scriptSetup("ok", [3, 3, 3]);
    const r = await s.run();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/three snapshots in a row missed files that changed while they were read: .*no such file/);
    expect(s.calls().filter((c) => /^forget snap\d+$/.test(c))).toHaveLength(3);
    expect(s.calls().some((c) => c.includes("--keep-daily"))).toBe(false);
    expect(s.last()).toMatchObject({ result: "failed" });
  });

  it("any other failure stops at once with restic's words", async () => {
    const s = scriptSetup("ok", [1]);
    const r = await s.run();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/restic backup exited 1: Fatal: unable to save snapshot: disk full/);
    expect(s.last()).toMatchObject({ result: "failed" });
  });

  it("creates a repository that does not exist, never one it cannot open (a wrong password)", async () => {
    const fresh = scriptSetup("missing", [0]);
    expect((await fresh.run()).code).toBe(0);
    expect(fresh.calls().filter((c) => c === "init")).toHaveLength(1);
    const wrong = scriptSetup("password", [0]);
    const r = await wrong.run();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot open the repository: Fatal: wrong password or no key found/);
    expect(wrong.calls().some((c) => c === "init" || c.startsWith("backup "))).toBe(false);
  });

  it("s3: every restic call gets the region, the bucket style and the CA; the key reaches restic in its environment from the 600 files, never as an argument", async () => {
    const s = scriptSetup("ok", [0], { restic_options: ["s3.region=eu-frankfurt-1", "s3.bucket-lookup=path"], ca_file: "/etc/mailstead/backup/ca.pem" });
    writeFileSync(join(s.d, "conf/s3_access_key_id"), "0123abcd\n", { mode: 0o600 });
    writeFileSync(join(s.d, "conf/s3_secret_access_key"), "s3-secret-value/xyz=\n", { mode: 0o600 });
    const r = await s.run();
    expect(r.code, r.stderr).toBe(0);
    const calls = s.calls();
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const c of calls) expect(c).toMatch(/^--cacert \/etc\/mailstead\/backup\/ca\.pem -o s3\.bucket-lookup=path -o s3\.region=eu-frankfurt-1 /);
    expect(calls.join("\n")).not.toContain("s3-secret");
    const env = readFileSync(join(s.d, "fake/env"), "utf8").trim().split("\n");
    expect(new Set(env)).toEqual(new Set(["0123abcd:s3-secret-value/xyz="]));
    expect(r.stdout + r.stderr).not.toContain("s3-secret");
    // not s3: no key in restic's environment, no options
    const plain = scriptSetup("ok", [0]);
    expect((await plain.run()).code).toBe(0);
    expect(new Set(readFileSync(join(plain.d, "fake/env"), "utf8").trim().split("\n"))).toEqual(new Set([":"]));
  });

  it("--list shows this host's snapshots only; the password file is never an argument", async () => {
    const s = scriptSetup("ok", []);
    expect((await s.run("--list")).code).toBe(0);
    expect(s.calls()).toEqual(["snapshots --json --host mx1.example.test"]);
    expect(existsSync(join(s.d, "state/last.json"))).toBe(false);
  });
});

describe("mailstead-backup --restore (merge, never replace the mail; owners by name)", () => {
  /** A snapshot and a live host that both have mail: what a restore onto a host that already took new mail meets. */
  function restoreSetup() {
    const s = scriptSetup("ok", []);
    const live = join(s.d, "live");
    const snap = join(s.d, "fake/snapshot");
    const box = "mail/example.test/alice/Maildir";
    // The snapshot: two messages, its UIDs and UIDVALIDITY, an index; a key; the owners manifest.
    put(join(snap, live), `${box}/cur/1000.M1.mx1:2,S`, "message one\n");
    put(join(snap, live), `${box}/cur/1001.M2.mx1:2,`, "message two\n");
    put(join(snap, live), `${box}/dovecot-uidlist`, "3 V111 N3 Gabc\n1 :1000.M1.mx1\n2 :1001.M2.mx1\n");
    put(join(snap, live), `${box}/dovecot-keywords`, "0 $Label1\n");
    put(join(snap, live), `${box}/dovecot.index`, "snapshot index");
    put(join(snap, live), "keys/mail.private", "the key DNS publishes\n");
    put(join(snap, s.d), "state/owners", "u 0 root\ng 0 root\nu 54321 root\n");
    // Live: message two with a flag set since, a message only the live host has, its own uidlist; a new key.
    put(live, `${box}/cur/1001.M2.mx1:2,FS`, "message two\n");
    put(live, `${box}/new/2000.M9.mx1`, "arrived after the rebuild\n");
    put(live, `${box}/dovecot-uidlist`, "3 V222 N2 Gdef\n1 :2000.M9.mx1\n");
    put(live, `${box}/dovecot.index`, "live index");
    put(live, "keys/mail.private", "a key made by the rebuilt host\n");
    writeFileSync(join(s.d, "conf/paths"), `${join(live, "keys")}\n${join(live, "mail")}\n`);
    return { ...s, live, box };
  }

  it("brings back what the live mail lacks, keeps every live message, takes the snapshot's UIDs past a margin, puts the key back", async () => {
    const s = restoreSetup();
    const r = await s.run("--restore latest");
    expect(r.code, r.stderr).toBe(0);
    const m = join(s.live, s.box);
    expect(list(join(m, "cur"))).toEqual(["1000.M1.mx1:2,S", "1001.M2.mx1:2,FS"]);
    expect(list(join(m, "new"))).toEqual(["2000.M9.mx1"]);
    expect(readFileSync(join(m, "dovecot-uidlist"), "utf8")).toBe("3 V111 N10003 Gabc\n1 :1000.M1.mx1\n2 :1001.M2.mx1\n");
    expect(readFileSync(join(m, "dovecot-keywords"), "utf8")).toBe("0 $Label1\n");
    expect(existsSync(join(m, "dovecot.index"))).toBe(false);
    expect(readFileSync(join(s.live, "keys/mail.private"), "utf8")).toBe("the key DNS publishes\n");
    // Nothing replaced is lost: the live uidlist and key are kept aside.
    const [aside] = list(join(s.d, "aside"));
    expect(aside).toMatch(/^restore-\d{8}-\d{6}$/);
    expect(readFileSync(join(s.d, "aside", aside!, s.live, "keys/mail.private"), "utf8")).toBe("a key made by the rebuilt host\n");
    expect(readFileSync(join(s.d, "aside", aside!, m, "dovecot-uidlist"), "utf8")).toContain("V222");
  });

  it("a second restore of the same snapshot changes no message and no UID", async () => {
    const s = restoreSetup();
    expect((await s.run("--restore latest")).code).toBe(0);
    const m = join(s.live, s.box);
    const uidlist = readFileSync(join(m, "dovecot-uidlist"), "utf8");
    const again = await s.run("--restore latest");
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(m, "dovecot-uidlist"), "utf8")).toBe(uidlist);
    expect(list(join(m, "cur"))).toEqual(["1000.M1.mx1:2,S", "1001.M2.mx1:2,FS"]);
    expect(list(join(m, "new"))).toEqual(["2000.M9.mx1"]);
  });

  /** Stand-ins for systemctl (monit and Dovecot running) and monit, logging to fake/svc; monit's control socket listening. */
  async function withWatchdog(s: ReturnType<typeof restoreSetup>, body: () => Promise<void>) {
    const bin = join(s.d, "fake/bin");
    writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "systemctl $*" >> "$FAKE/svc"\ncase "$*" in "is-active dovecot.service") echo active ;; esac\nexit 0\n`, { mode: 0o755 });
    writeFileSync(join(bin, "monit"), `#!/bin/sh\necho "monit $*" >> "$FAKE/svc"\n`, { mode: 0o755 });
    const server = createServer();
    await new Promise<void>((r) => server.listen(join(s.d, "fake/monit.sock"), r));
    try {
      await body();
    } finally {
      await new Promise((r) => server.close(r));
    }
  }
  const svc = (s: { d: string }) => (existsSync(join(s.d, "fake/svc")) ? readFileSync(join(s.d, "fake/svc"), "utf8").trim().split("\n") : []);

  it("the watchdog is paused while Dovecot is stopped for the merge, and watches again after; a restore that fails leaves both stopped and the backup's record untouched", async () => {
    const s = restoreSetup();
    await withWatchdog(s, async () => {
      const r = await s.run("--restore latest");
      expect(r.code, r.stderr).toBe(0);
    });
    const calls = svc(s).filter((c) => !c.startsWith("systemctl is-active"));
    expect(calls).toEqual([
      "monit -c /etc/monit/monitrc unmonitor all",
      "systemctl stop dovecot.service",
      "systemctl start dovecot.service",
      "monit -c /etc/monit/monitrc monitor all",
      "systemctl try-restart opendkim.service postfix.service",
    ]);
    // A path that cannot be put back (its parent is a file on the host): the restore stops there.
    const f = restoreSetup();
    put(join(f.d, "fake/snapshot", f.live), "blocked/x", "from the snapshot\n");
    writeFileSync(join(f.live, "blocked"), "a file where a directory should be\n");
    writeFileSync(join(f.d, "conf/paths"), `${join(f.live, "mail")}\n${join(f.live, "blocked/x")}\n`);
    await withWatchdog(f, async () => {
      const r = await f.run("--restore latest");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`putting ${join(f.live, "blocked/x")} back failed`);
    });
    expect(svc(f).filter((c) => !c.startsWith("systemctl is-active"))).toEqual(["monit -c /etc/monit/monitrc unmonitor all", "systemctl stop dovecot.service"]);
    expect(existsSync(join(f.d, "state/last.json")), "a failed restore is not a failed backup").toBe(false);
  });

  it.runIf(process.getuid?.() === 0)("owners come back by name, not by number", async () => {
    const s = restoreSetup();
    // In the snapshot the key belonged to uid 54321, which the manifest says was root's.
    chownSync(join(s.d, "fake/snapshot", s.live, "keys/mail.private"), 54321, 0);
    expect((await s.run("--restore latest")).code).toBe(0);
    expect(statSync(join(s.live, "keys/mail.private")).uid).toBe(0);
  });
});

describe("mailstead-backup --drill (the latest snapshot restored into a scratch place, compared with the live state)", () => {
  /** Live mail and a snapshot of it taken `offset` seconds from now (ahead: every live file existed when it began). */
  function drillSetup(offset = 120) {
    const s = scriptSetup("ok", []);
    const live = join(s.d, "live");
    const snap = join(s.d, "fake/snapshot");
    const box = "mail/example.test/alice/Maildir";
    const both = (rel: string, content: string, liveRel = rel) => {
      put(join(snap, live), rel, content);
      put(live, liveRel, content);
    };
    both(`${box}/cur/1000.M1.mx1,S=12:2,S`, "message one\n");
    // flagged since the snapshot: another name, the same message
    both(`${box}/cur/1001.M2.mx1,S=12:2,`, "message two\n", `${box}/cur/1001.M2.mx1,S=12:2,FS`);
    both(`${box}/.Sent/cur/1002.M3.mx1,S=14:2,S`, "message three\n");
    both(`${box}/dovecot-uidlist`, "3 V111 N4 Gabc\n1 :1000.M1.mx1\n2 :1001.M2.mx1\n");
    both(`${box}/.Sent/dovecot-uidlist`, "3 V112 N2 Gabd\n1 :1002.M3.mx1\n");
    both("keys/mail.private", "the key DNS publishes\n");
    // deleted since the snapshot: counted, not judged
    put(join(snap, live), `${box}/cur/0999.M0.mx1,S=10:2,ST`, "was here\n");
    writeFileSync(join(s.d, "conf/paths"), `${join(live, "keys")}\n${join(live, "mail")}\n`);
    const time = new Date(Date.now() + offset * 1000).toISOString().replace("Z", "123456Z");
    writeFileSync(join(s.d, "fake/snapshots.json"), JSON.stringify([{ id: "aaaa1111".repeat(8), short_id: "aaaa1111", time: "2020-01-01T00:00:00.5Z" }, { id: "bbbb2222".repeat(8), short_id: "bbbb2222", time }]));
    const drill = () => JSON.parse(readFileSync(join(s.d, "state/drill.json"), "utf8")) as { result: string; message: string; snapshot: string; folders: number; messages: number; hashed: number; missing: number; differ: number; gone: number; files: number; problems: string[] };
    return { ...s, live, box, put, drill, mail: join(live, "mail") };
  }

  it("a snapshot that holds everything passes: the latest restored into scratch, counted, compared byte for byte, the scratch removed", async () => {
    const s = drillSetup();
    const r = await s.run("--drill");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/drill passed: snapshot bbbb2222 .*: 4 messages in 2 folders restored, 3 compared byte for byte, 1 other files; 1 deleted since/);
    expect(s.drill()).toMatchObject({ result: "ok", snapshot: "bbbb2222".repeat(8), folders: 2, messages: 4, hashed: 3, missing: 0, differ: 0, gone: 1, files: 1, problems: [] });
    expect(s.calls()).toContain(`restore ${"bbbb2222".repeat(8)} --target ${join(s.d, "state/drill/stage")}`);
    expect(existsSync(join(s.d, "state/drill/stage"))).toBe(false);
    // the live mail is never touched
    expect(list(join(s.mail, "example.test/alice/Maildir/cur"))).toEqual(["1000.M1.mx1,S=12:2,S", "1001.M2.mx1,S=12:2,FS"]);
  });

  it("a live message older than the snapshot and not in it fails, naming it; one newer than the snapshot is not judged", async () => {
    const s = drillSetup();
    s.put(s.live, `${s.box}/new/2000.M9.mx1,S=5`, "lost\n");
    const r = await s.run("--drill");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`missing from the snapshot: ${s.mail}/example.test/alice/Maildir/2000.M9.mx1,S=5`);
    expect(s.drill()).toMatchObject({ result: "failed", missing: 1, problems: [`missing from the snapshot: ${s.mail}/example.test/alice/Maildir/2000.M9.mx1,S=5`] });
    // the same message delivered after a snapshot that began before it
    const later = drillSetup(-120);
    later.put(later.live, `${later.box}/new/2000.M9.mx1,S=5`, "new since\n");
    const ok = await later.run("--drill");
    expect(ok.code, ok.stderr).toBe(0);
    expect(later.drill()).toMatchObject({ result: "ok", missing: 0 });
  });

  it("a message whose bytes differ, a key that differs, a next UID past the live one: each fails, named", async () => {
    const s = drillSetup();
    writeFileSync(join(s.d, "fake/snapshot", s.live, s.box, "cur/1000.M1.mx1,S=12:2,S"), "message 0ne\n");
    writeFileSync(join(s.d, "fake/snapshot", s.live, "keys/mail.private"), "another key\n");
    writeFileSync(join(s.d, "fake/snapshot", s.live, s.box, ".Sent/dovecot-uidlist"), "3 V112 N9 Gabd\n1 :1002.M3.mx1\n");
    const r = await s.run("--drill");
    expect(r.code).toBe(1);
    expect(s.drill().problems.sort()).toEqual([
      `differs from the live file: ${s.live}/keys/mail.private`,
      `differs from the live message: ${s.mail}/example.test/alice/Maildir/cur/1000.M1.mx1,S=12:2,S`,
      `next UID 9 in the snapshot is past the live 2: ${s.mail}/example.test/alice/Maildir/.Sent`,
    ]);
    expect(s.drill()).toMatchObject({ result: "failed", differ: 1 });
    // a folder made again since (another UIDVALIDITY) is not a UID problem
    writeFileSync(join(s.live, s.box, ".Sent/dovecot-uidlist"), "3 V999 N2 Gzzz\n1 :1002.M3.mx1\n");
    await s.run("--drill");
    expect(s.drill().problems.filter((p) => p.startsWith("next UID"))).toEqual([]);
  });

  it("no snapshot yet, or a restore restic cannot do: failed with the reason, and the record says so", async () => {
    const none = drillSetup();
    writeFileSync(join(none.d, "fake/snapshots.json"), "[]");
    const r = await none.run("--drill");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/drill FAILED: no snapshot of mx1\.example\.test yet: back up first/);
    expect(none.drill()).toMatchObject({ result: "failed" });
    const broken = drillSetup();
    writeFileSync(join(broken.d, "fake/restore-fails"), "");
    const b = await broken.run("--drill");
    expect(b.code).toBe(1);
    expect(broken.drill().message).toMatch(/restic restore b{4}2{4}.* failed: Fatal: unable to load snapshot: pack 3f2a not found/);
    expect(existsSync(join(broken.d, "state/drill/stage"))).toBe(false);
  });
});

describe("backup.ts --recovery-kit (secrets only to a terminal, only when asked)", () => {
  const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
  function inventory(): string {
    const d = mkdtempSync(join(tmpdir(), "kit-"));
    writeFileSync(
      join(d, "hosts.yml"),
      [
        "hosts:",
        "  mx1:",
        "    address: 127.0.0.1",
        "    ssh: { port: 1 }",
        "    vars:",
        "      base_hostname: mx1",
        "      base_domain: example.org",
        "      backup_enabled: true",
        "      backup_repository: sftp:restic@198.51.100.50:/srv/restic/mx1",
        '      backup_sftp_known_hosts: ["198.51.100.50 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake"]',
        "",
      ].join("\n"),
    );
    writeFileSync(join(d, "hosts.secrets.yml"), `hosts:\n  mx1:\n    backup_password: kit-password-1234567890\n    backup_sftp_key: ${JSON.stringify(KEY)}\n`, { mode: 0o600 });
    return join(d, "hosts.yml");
  }
  const io = (tty: boolean, env: NodeJS.ProcessEnv = {}) => {
    const chunks: string[] = [];
    const errors: string[] = [];
    return {
      chunks,
      errors,
      io: { out: (l: string) => chunks.push(`${l}\n`), err: (l: string) => errors.push(l), stdout: { isTTY: tty, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream, env: { NO_COLOR: "1", HOME: tmpdir(), ...env } },
    };
  };

  it("on a terminal: the repository, password, key, target host keys, snapshots' host, DKIM selector and both ways to restore", async () => {
    const t = io(true);
    const code = await backupMain(["-i", inventory(), "--recovery-kit"], t.io);
    const text = t.chunks.join("");
    expect(code, t.errors.join("\n")).toBe(0);
    for (const want of ["sftp:restic@198.51.100.50:/srv/restic/mx1", "kit-password-1234567890", "b3BlbnNzaC1rZXktdjEAAAAA", "198.51.100.50 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake", "mx1.example.org", "mail._domainkey", "playbooks/restore.ts -i inventory/hosts.yml --limit mx1", "restore latest --host mx1.example.org"]) {
      expect(text, want).toContain(want);
    }
    expect(text).toMatch(/OFF the host/);
  });

  it("never to a pipe, a file, CI or --json: exit 2, and the password appears nowhere", async () => {
    for (const [args, tty, env] of [[["--recovery-kit"], false, {}], [["--recovery-kit"], true, { CI: "1" }], [["--recovery-kit", "--json"], true, {}]] as const) {
      const t = io(tty, env);
      const code = await backupMain(["-i", inventory(), ...args], t.io);
      expect(code, args.join(" ")).toBe(2);
      expect([...t.chunks, ...t.errors].join("")).not.toContain("kit-password");
      expect(t.errors.join("\n")).toMatch(/recovery-kit/);
    }
  });

  it("restore.ts --user: a user of the host, a folder's name and a date only; bad input exits 2 before any connection", async () => {
    for (const [args, said] of [
      [["--folder", "Sent"], /--folder and --since go with --user/],
      [["--user", "bob"], /--user "bob": not a mailbox user of mx1/],
      [["--user", "alice", "--folder", "Sent\nX"], /--folder "Sent\\nX": one folder's name/],
      [["--user", "alice", "--folder", "*"], /--folder "\*"/],
      [["--user", "alice", "--folder", "-rf"], /--folder "-rf"/],
      [["--user", "alice", "--since", "2026-02-30"], /--since "2026-02-30": a date, YYYY-MM-DD/],
      [["--user", "alice", "--since", "yesterday; rm -rf /"], /--since .*: a date/],
    ] as const) {
      const t = io(false);
      const code = await restoreMain(["-i", inventory(), "--limit", "mx1", ...args], t.io);
      expect(code, args.join(" ")).toBe(2);
      expect(t.errors.join("\n"), args.join(" ")).toMatch(said);
    }
    expect(checkFolder("Archive/2024")).toBe("Archive/2024");
    expect(checkFolder("Entwürfe")).toBe("Entwürfe");
    expect(checkSince("2026-11-30")).toBe("2026-11-30");
  });
});
