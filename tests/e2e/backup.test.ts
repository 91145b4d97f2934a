/**
 * Backups on the lab, Debian 12 (restic 0.14) and 13 (restic 0.18) side by side: each mail
 * host backs up over SFTP to the backup target (`vault`), through `playbooks/backup.ts` as a
 * user runs it. A message delivered just before is in the snapshot byte for byte, the DKIM
 * key too, a half-written message in a Maildir's tmp/ is not; the repository on the target
 * holds no readable mail; the drill restores the latest snapshot into scratch and passes, and
 * fails naming a message a snapshot lacks; a wrong password fails loudly and changes nothing. Then the
 * disaster: both hosts are destroyed and rebuilt from their backups with restore.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureLab, LAB_NET, recreate, sshRun, type LabState } from "../lab/index.js";
import { quote } from "../../lib/shell.js";
import { playbook, site, stepsWith } from "./helpers.js";

let lab: LabState;
type LabHost = LabState["hosts"][number];

const root = (h: LabHost, script: string, opts: { nothrow?: boolean } = {}) => sshRun(h, `sudo -n sh -c ${quote(script)}`, { timeoutMs: 120_000, ...opts });
const USER: Record<string, string> = { mx1: "alice@example.test", mx2: "dave@example.net" };

beforeAll(async () => {
  lab = await ensureLab();
  const r = await site(["-i", lab.inventory, "--limit", "mail"]);
  expect(stepsWith(r, "failed"), r.stdout + r.stderr).toEqual([]);
  expect(r.code, r.stdout.slice(-3000)).toBe(0);
}, 600_000);

/** Deliver a message with a unique subject and return the path of its file in the Maildir. */
async function deliver(h: LabHost, tag: string): Promise<string> {
  const user = USER[h.name]!;
  await root(h, `printf 'Subject: ${tag}\\n\\nbackup me: ${tag}\\n' | /usr/sbin/sendmail -f root@$(hostname -f) ${user}`);
  for (let i = 0; i < 60; i++) {
    const f = (await root(h, `grep -rl ${quote(`backup me: ${tag}`)} /var/mail/vhosts/ 2>/dev/null | grep -v /tmp/ | head -n 1`, { nothrow: true })).stdout.trim();
    if (f) return f;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${h.name}: ${tag} was not delivered`);
}

describe("backups (restic over SFTP to the lab's backup target, Debian 12 and 13)", () => {
  it("backup.ts makes a complete snapshot: the new message byte for byte, the DKIM key, no half-written message; the target holds no readable mail", async () => {
    const mx = lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2");
    const vault = lab.hosts.find((h) => h.name === "vault")!;
    const tags = Object.fromEntries(mx.map((h) => [h.name, `bk-${h.name}-${Date.now()}`]));
    const files = Object.fromEntries(await Promise.all(mx.map(async (h) => [h.name, await deliver(h, tags[h.name]!)] as const)));
    // A message being delivered (tmp/) must never be in a snapshot.
    for (const h of mx) await root(h, `d=$(dirname $(dirname ${quote(files[h.name]!)}))/tmp; printf 'half a message' > "$d/1.partial.${tags[h.name]}"`);
    try {
      const r = await playbook("playbooks/backup.ts", ["-i", lab.inventory, "--limit", "mx1,mx2", "--json"]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const runs = JSON.parse(r.stdout) as Record<string, { result: string; snapshot: string; files: number; bytes_added: number; started: number; ended: number; memory_peak: number }>;
      for (const h of mx) {
        const run = runs[h.name]!;
        expect(run.result, h.name).toBe("ok");
        // restic 0.14 names the snapshot by its short id, 0.18 by the full one.
        expect(run.snapshot, h.name).toMatch(/^[0-9a-f]{8}(?:[0-9a-f]{56})?$/);
        const ls = (await root(h, `mailstead-backup --restic ls ${run.snapshot}`)).stdout;
        expect(ls, h.name).toContain(files[h.name]!);
        expect(ls, h.name).toMatch(/^\/etc\/opendkim\/keys\/.+\.private$/m);
        expect(ls, h.name).toContain("/etc/dovecot/users");
        expect(ls, h.name).not.toContain(`1.partial.${tags[h.name]}`);
        expect(ls, h.name).not.toMatch(/^\/var\/spool\/postfix/m);
        // Byte for byte: the snapshot's copy of the message and of the DKIM key.
        const same = await root(h, `k=$(ls /etc/opendkim/keys/*/*.private 2>/dev/null | head -n 1); [ -n "$k" ] || k=$(ls /etc/opendkim/keys/*.private | head -n 1); for f in ${quote(files[h.name]!)} "$k"; do a=$(sha256sum < "$f"); b=$(mailstead-backup --restic dump ${run.snapshot} "$f" | sha256sum); [ "$a" = "$b" ] && echo same || echo "differs $f"; done`);
        expect(same.stdout.trim().split("\n"), h.name).toEqual(["same", "same"]);
        console.log(`backup ${h.name}: ${run.files} files, ${run.bytes_added} bytes added, ${run.ended - run.started} s, peak ${(run.memory_peak / 1048576).toFixed(1)} MiB`);
      }
      // On the target the repository is ciphertext: the message's words are nowhere in it.
      const grep = await sshRun(vault, `grep -rl ${quote(tags.mx1!)} /srv/restic; grep -rl ${quote(tags.mx2!)} /srv/restic; ls /srv/restic`, { nothrow: true });
      expect(grep.stdout.trim().split("\n").sort()).toEqual(["mx1", "mx2"]);
      // --list shows them.
      const list = await playbook("playbooks/backup.ts", ["-i", lab.inventory, "--limit", "mx1,mx2", "--list", "--json"]);
      expect(list.code, list.stderr).toBe(0);
      const snaps = JSON.parse(list.stdout) as Record<string, { id: string; hostname: string }[]>;
      for (const h of mx) {
        expect(snaps[h.name]!.filter((s) => s.id.startsWith(runs[h.name]!.snapshot)), h.name).toHaveLength(1);
        expect(new Set(snaps[h.name]!.map((s) => s.hostname)), h.name).toEqual(new Set([`${h.name}.${h.domain}`]));
      }
    } finally {
      for (const h of mx) await root(h, `rm -f /var/mail/vhosts/*/*/Maildir/tmp/1.partial.${tags[h.name]}`, { nothrow: true });
    }
  });

  it("drill.ts restores the latest snapshot into scratch and passes; a snapshot made without one message fails the drill, naming it, and status.ts says so (both releases)", async () => {
    const mx = lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2");
    type Drill = { result: string; message: string; messages: number; hashed: number; missing: number; differ: number; files: number; problems: string[] };
    const drill = async () => {
      const r = await playbook("playbooks/drill.ts", ["-i", lab.inventory, "--limit", "mx1,mx2", "--json"]);
      return { code: r.code, runs: JSON.parse(r.stdout) as Record<string, Drill>, r };
    };
    const good = await drill();
    expect(good.code, good.r.stdout + good.r.stderr).toBe(0);
    for (const h of mx) {
      const d = good.runs[h.name]!;
      expect(d, h.name).toMatchObject({ result: "ok", missing: 0, differ: 0, problems: [] });
      expect(d.messages, h.name).toBeGreaterThan(0);
      expect(d.hashed, h.name).toBeGreaterThan(0);
      // the DKIM key, the user db, the certificate...
      expect(d.files, h.name).toBeGreaterThan(2);
      console.log(`drill ${h.name}: ${d.message}`);
    }
    // A snapshot that lacks a message delivered before it began, as restic makes it when told to
    // leave the file out: the drill names the message.
    const files = Object.fromEntries(await Promise.all(mx.map(async (h) => [h.name, await deliver(h, `drill-${h.name}-${Date.now()}`)] as const)));
    await new Promise((res) => setTimeout(res, 11_000));
    for (const h of mx) {
      const base = files[h.name]!.split("/").pop()!.replace(/:2,.*$/, "");
      const r = await root(h, `mailstead-backup --restic backup --host ${h.name}.${h.domain} --tag mailstead --files-from /var/lib/mailstead/backup/paths --exclude-file /etc/mailstead/backup/excludes --exclude ${quote(`${base}*`)} >/dev/null`);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    try {
      const bad = await drill();
      expect(bad.code).toBe(1);
      for (const h of mx) {
        const d = bad.runs[h.name]!;
        const key = files[h.name]!.replace(/\/(cur|new)\/([^/:]+).*$/, "/$2");
        expect(d, h.name).toMatchObject({ result: "failed", missing: 1, problems: [`missing from the snapshot: ${key}`] });
      }
      const st = await playbook("playbooks/status.ts", ["-i", lab.inventory, "--limit", "mx1,mx2", "--resolver", LAB_NET.address, "--no-certificates", "--no-outside", "--json"]);
      const results = (JSON.parse(st.stdout) as { results: { host: string; check: string; status: string; detail: string }[] }).results.filter((x) => x.check === "drill");
      for (const h of mx) expect(results.find((x) => x.host === h.name), h.name).toMatchObject({ status: "fail", detail: expect.stringContaining("missing from the snapshot") });
    } finally {
      // a complete snapshot again, and a drill that passes, for the tests after this one
      const b = await playbook("playbooks/backup.ts", ["-i", lab.inventory, "--limit", "mx1,mx2"]);
      expect(b.code, b.stdout + b.stderr).toBe(0);
    }
    const again = await drill();
    expect(again.code, again.r.stdout).toBe(0);
  });

  it("restore.ts --user brings one user's deleted message back into Restored-<time>/, the live folders untouched; a folder the snapshot lacks fails, saying so (both releases)", async () => {
    const mx = lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2");
    const tags = Object.fromEntries(mx.map((h) => [h.name, `undelete-${h.name}-${Date.now()}`]));
    await Promise.all(mx.map((h) => deliver(h, tags[h.name]!)));
    const b = await playbook("playbooks/backup.ts", ["-i", lab.inventory, "--limit", "mx1,mx2"]);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const inbox = async (h: LabHost) => (await root(h, `doveadm mailbox status -u ${USER[h.name]} messages INBOX`)).stdout.trim();
    const today = new Date().toISOString().slice(0, 10);
    try {
      // the user deletes it (expunged: the file is gone)
      for (const h of mx) await root(h, `doveadm expunge -u ${USER[h.name]} mailbox INBOX header Subject ${quote(tags[h.name]!)}`);
      const before = Object.fromEntries(await Promise.all(mx.map(async (h) => [h.name, await inbox(h)] as const)));
      const runs = await Promise.all(mx.map((h) => playbook("playbooks/restore.ts", ["-i", lab.inventory, "--limit", h.name, "--user", USER[h.name]!.split("@")[0]!, "--folder", "INBOX", "--since", today])));
      for (const [i, h] of mx.entries()) {
        const r = runs[i]!;
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const folder = /are in the folder (Restored-\d{8}-\d{6})/.exec(r.stdout)?.[1];
        expect(folder, r.stdout).toBeDefined();
        // the message, whole, in the restored folder; the live INBOX as the user left it
        const got = await root(h, `doveadm fetch -u ${USER[h.name]} text mailbox ${quote(`${folder}/INBOX`)} header Subject ${quote(tags[h.name]!)}`);
        expect(got.stdout, h.name).toContain(`backup me: ${tags[h.name]}`);
        expect(await inbox(h), h.name).toBe(before[h.name]);
        expect((await root(h, `doveadm mailbox list -u ${USER[h.name]} -s`)).stdout, `${h.name}: subscribed`).toContain(`${folder}/INBOX`);
      }
      const restored = async () => (await root(mx[0]!, "doveadm mailbox list -u alice@example.test 'Restored-*'")).stdout.trim();
      const had = await restored();
      const none = await playbook("playbooks/restore.ts", ["-i", lab.inventory, "--limit", "mx1", "--user", "alice", "--folder", "No such folder"]);
      expect(none.code, none.stdout + none.stderr).toBe(1);
      expect(none.stdout).toContain('has no folder "No such folder" of alice@example.test');
      expect(await restored(), "no empty folder left behind").toBe(had);
    } finally {
      for (const h of mx) await root(h, `doveadm mailbox list -u ${USER[h.name]} 'Restored-%' | while IFS= read -r m; do doveadm mailbox delete -u ${USER[h.name]} -r -s "$m"; done`, { nothrow: true });
    }
  });

  it("a wrong repository password fails the backup with restic's reason, makes no snapshot, and the next good run works", async () => {
    const mx = lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2");
    const count = async (h: LabHost) => (JSON.parse((await root(h, "mailstead-backup --list")).stdout) as unknown[]).length;
    const before = Object.fromEntries(await Promise.all(mx.map(async (h) => [h.name, await count(h)] as const)));
    for (const h of mx) await root(h, "cd /etc/mailstead/backup && cp -p password password.good && printf 'not-the-password\\n' > password");
    try {
      const r = await playbook("playbooks/backup.ts", ["-i", lab.inventory, "--limit", "mx1,mx2"]);
      expect(r.code, r.stdout).toBe(1);
      for (const h of mx) expect(r.stdout, h.name).toMatch(new RegExp(`^${h.name}: backup FAILED: cannot open the repository: .*wrong password`, "m"));
    } finally {
      for (const h of mx) await root(h, "cd /etc/mailstead/backup && mv -f password.good password");
    }
    for (const h of mx) expect(await count(h), h.name).toBe(before[h.name]);
    const again = await playbook("playbooks/backup.ts", ["-i", lab.inventory, "--limit", "mx1,mx2"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it("disaster recovery: a destroyed host comes back from its backup with restore.ts (mail with its UIDs, UIDVALIDITY and flags, the same DKIM key and certificate), and takes new mail above the UID margin", async () => {
    const mx = lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2");
    const fetch = async (h: LabHost) => {
      const u = USER[h.name]!;
      const r = await root(h, `doveadm fetch -u ${u} 'uid guid flags' mailbox INBOX; echo; doveadm mailbox status -u ${u} 'uidvalidity uidnext messages' INBOX; sha256sum /etc/opendkim/keys/*/*.private /etc/mailstead/tls/fullchain.pem`);
      const msgs = [...r.stdout.matchAll(/^uid: (\d+)\nguid: (\S+)\nflags: ([^\n]*)$/gm)].map((m) => ({ uid: Number(m[1]), guid: m[2]!, flags: m[3]!.split(" ").filter((f) => f && f !== "\\Recent").sort().join(" ") }));
      const st = /uidnext=(\d+) uidvalidity=(\d+)/.exec(r.stdout);
      const sums = [...r.stdout.matchAll(/^([0-9a-f]{64})  (\S+)$/gm)].map((m) => `${m[2]} ${m[1]}`).sort();
      return { msgs, uidnext: Number(st?.[1]), uidvalidity: Number(st?.[2]), sums, raw: r.stdout };
    };
    // A message flagged over IMAP's model (doveadm sets the same flags a client would).
    for (const h of mx) {
      await deliver(h, `dr-${h.name}-${Date.now()}`);
      await root(h, `doveadm flags add -u ${USER[h.name]} '\\Flagged' mailbox INBOX ALL`);
    }
    const before = Object.fromEntries(await Promise.all(mx.map(async (h) => [h.name, await fetch(h)] as const)));
    for (const h of mx) expect(before[h.name]!.msgs.length, before[h.name]!.raw).toBeGreaterThan(0);
    const b = await playbook("playbooks/backup.ts", ["-i", lab.inventory, "--limit", "mx1,mx2"]);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const destroyed = performance.now();
    for (const h of mx) await recreate(h.name);
    const fresh = await root(mx[0]!, "test -e /etc/opendkim || test -e /var/mail/vhosts/example.test && echo leftovers || echo fresh");
    expect(fresh.stdout.trim()).toBe("fresh");
    const restored = await Promise.all(mx.map((h) => playbook("playbooks/restore.ts", ["-i", lab.inventory, "--limit", h.name])));
    const seconds = (performance.now() - destroyed) / 1000;
    for (const [i, h] of mx.entries()) expect(restored[i]!.code, `${h.name}:\n${restored[i]!.stdout.slice(-4000)}\n${restored[i]!.stderr}`).toBe(0);
    for (const h of mx) {
      const after = await fetch(h);
      const was = before[h.name]!;
      // Every message, with its UID and flags; the folder's UIDVALIDITY; the next UID past the margin.
      expect(after.msgs, h.name).toEqual(was.msgs);
      expect(after.uidvalidity, h.name).toBe(was.uidvalidity);
      expect(after.uidnext, h.name).toBeGreaterThanOrEqual(was.uidnext + 10_000);
      // The same DKIM key (DNS still publishes it) and certificate: nothing made anew.
      expect(after.sums, h.name).toEqual(was.sums);
      // Logins work, and new mail lands above the margin.
      const user = lab.mail.users.find((u) => u.address === USER[h.name])!;
      const auth = await root(h, `doveadm auth test ${user.address} ${quote(user.password)}`, { nothrow: true });
      expect(auth.stdout + auth.stderr, h.name).toMatch(/auth succeeded/);
      await deliver(h, `after-${h.name}-${Date.now()}`);
      const later = await fetch(h);
      expect(Math.max(...later.msgs.map((m) => m.uid)), h.name).toBeGreaterThanOrEqual(was.uidnext + 10_000);
    }
    console.log(`disaster recovery: mx1 and mx2 destroyed and restored from their backups in ${seconds.toFixed(0)} s (recreate, restore, converge, verify)`);
  }, 900_000);
});
