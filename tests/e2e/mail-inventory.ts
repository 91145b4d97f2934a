/**
 * The mail e2e tests' own inventory: a copy of the lab's generated inventory
 * plus mail vars per host (domains, users with hashes made here, limits fit
 * for the tests). Plain passwords exist only in this test process.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { blfCrypt } from "../../roles/mailbox/passwd.js";
import { labSecrets, type LabState } from "../lab/index.js";

export interface MailUserSpec {
  name: string;
  password: string;
  quota?: string;
  aliases?: string[];
}

/** Test users per host; passwords random per run. */
export function testUsers(): Record<string, MailUserSpec[]> {
  const pw = () => `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  return {
    mx1: [
      { name: "alice", password: pw(), aliases: ["info"] },
      { name: "bob", password: pw() },
      { name: "carol", password: pw(), quota: "2M" },
      { name: "gone", password: pw() },
    ],
    mx2: [
      { name: "dave", password: pw() },
      { name: "erin", password: pw() },
      // Dovecot 2.4's quota path (552 at RCPT, 90% warning), like carol on 2.3.
      { name: "frank", password: pw(), quota: "2M" },
      // The smarthost login mx1 relays through in the relay test (its extra senders are set only there).
      { name: "relay", password: pw() },
    ],
  };
}

export interface MailInventory {
  dir: string;
  path: string;
  users: Record<string, MailUserSpec[]>;
}

/**
 * Write <dir>/mail.yml from the lab inventory plus `vars` per host. `extra`
 * merges additional vars (per host) on top; `secrets` writes mail.secrets.yml (0600).
 */
export function writeMailInventory(
  lab: LabState,
  users: Record<string, MailUserSpec[]>,
  opts: { dir?: string; extra?: Record<string, Record<string, unknown>>; secrets?: Record<string, Record<string, unknown>>; cost?: number; hashes?: Record<string, string> } = {},
): MailInventory {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "mailstead-mail-"));
  const inv = YAML.parse(readFileSync(lab.inventory, "utf8")) as { hosts: Record<string, { vars?: Record<string, unknown> }> };
  const hashes = opts.hashes ?? {};
  for (const [host, list] of Object.entries(users)) {
    const h = inv.hosts[host];
    if (!h) continue;
    h.vars = {
      ...h.vars,
      mailbox_users: list.map((u) => ({
        name: u.name,
        // Hashing is slow-by-design; reuse a hash across inventory rewrites of one run.
        password_hash: (hashes[`${host}/${u.name}`] ??= blfCrypt(u.password, opts.cost ?? 5)),
        ...(u.quota ? { quota: u.quota } : {}),
        ...(u.aliases ? { aliases: u.aliases } : {}),
      })),
      // testssl.sh and the relay probes open hundreds of connections from outsider
      // and the lab host; exempt them from the per-client rate limits (not from anything else).
      postfix_rate_limit_exceptions: ["198.51.100.30", "198.51.100.1"],
      // The relay and spoofing probes from outsider look like abuse to fail2ban (that is its job);
      // the fail2ban tests ban outsider on purpose, these tests must not.
      fail2ban_ignore_addresses: ["198.51.100.30"],
      ...opts.extra?.[host],
    };
  }
  const path = join(dir, "mail.yml");
  writeFileSync(path, `# written by tests/e2e/mail-inventory.ts\n${YAML.stringify(inv)}`);
  // The lab's own secrets (the backup's) too, as beside the lab inventory, and the test's.
  const sp = join(dir, "mail.secrets.yml");
  writeFileSync(sp, YAML.stringify({ vars: labSecrets(), hosts: opts.secrets ?? {} }), { mode: 0o600 });
  chmodSync(sp, 0o600);
  return { dir, path, users };
}
