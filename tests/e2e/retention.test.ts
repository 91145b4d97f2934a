/**
 * Retention (issue 16), on Debian 12 (Dovecot 2.3) and 13 (Dovecot 2.4): dovecot_autoexpunge
 * empties a folder of messages saved there longer ago than its age. Dovecot goes by the date a
 * message was saved (the file's ctime), which a test cannot backdate, so the test uses a short
 * age (20 s) on Trash, keeps Junk at its default (30 days), and restores the lab's settings after.
 */
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLab, labHost, type LabState } from "../lab/index.js";
import { site, stepsWith } from "./helpers.js";
import { imap, type Account } from "./mail-clients.js";

let lab: LabState;
const HOSTS = [
  { host: "mx1", release: "Debian 12, Dovecot 2.3" },
  { host: "mx2", release: "Debian 13, Dovecot 2.4" },
] as const;
const AGE_S = 20;

function inventory(vars: Record<string, unknown>): string {
  const inv = YAML.parse(readFileSync(lab.inventory, "utf8"));
  for (const h of ["mx1", "mx2"]) inv.hosts[h].vars = { ...inv.hosts[h].vars, ...vars };
  const dir = mkdtempSync(join(tmpdir(), "mailstead-retention-"));
  writeFileSync(join(dir, "inventory.yml"), YAML.stringify(inv));
  copyFileSync(lab.inventory.replace(/\.yml$/, ".secrets.yml"), join(dir, "inventory.secrets.yml"));
  chmodSync(join(dir, "inventory.secrets.yml"), 0o600);
  return join(dir, "inventory.yml");
}

const account = (host: string): Account => {
  const u = lab.mail.users.find((x) => x.host === host)!;
  return { host: labHost(lab, host).address, user: u.address, pass: u.password };
};

/** Subjects in a folder. */
const subjects = (a: Account, box: string) =>
  imap(a, async (c) => {
    const lock = await c.getMailboxLock(box);
    try {
      const out: string[] = [];
      // an empty folder has nothing to fetch; any other error fails the test
      if (c.mailbox && c.mailbox.exists === 0) return out;
      for await (const m of c.fetch("1:*", { envelope: true })) out.push(m.envelope?.subject ?? "");
      return out;
    } finally {
      lock.release();
    }
  });

const message = (subject: string) => `From: test@example.org\r\nTo: you@example.org\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\n\r\nretention test\r\n`;

beforeAll(async () => {
  lab = await ensureLab();
  const full = await site(["-i", lab.inventory, "--limit", "mail"]);
  expect(stepsWith(full, "failed"), full.stdout.slice(-3000)).toEqual([]);
  const r = await site(["-i", inventory({ dovecot_autoexpunge: { Junk: "30d", Trash: `${AGE_S}s` } }), "--limit", "mx1,mx2", "--tags", "dovecot"]);
  expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
}, 900_000);

afterAll(async () => {
  if (!lab) return;
  const r = await site(["-i", lab.inventory, "--limit", "mx1,mx2", "--tags", "dovecot"]);
  expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
}, 900_000);

describe("autoexpunge", () => {
  it(`a message saved in Trash more than ${AGE_S} s ago is expunged at the next session; Junk's (30 d) stays (${HOSTS.map((h) => `${h.host}: ${h.release}`).join("; ")})`, async () => {
    const tag = `retention ${Date.now()}`;
    // both hosts at once: one wait for the age to pass
    for (const { host } of HOSTS) {
      const a = account(host);
      await imap(a, async (c) => {
        await c.append("Trash", message(`${tag} trash`));
        await c.append("Junk", message(`${tag} junk`));
      });
      // still there right after saving
      expect(await subjects(a, "Trash"), host).toContain(`${tag} trash`);
    }
    await new Promise((r) => setTimeout(r, (AGE_S + 5) * 1000));
    for (const { host } of HOSTS) {
      const a = account(host);
      // The first session after the age has passed expunges (when it ends); the next one sees the result.
      await subjects(a, "INBOX");
      const deadline = Date.now() + 30_000;
      let trash = await subjects(a, "Trash");
      while (trash.includes(`${tag} trash`) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2000));
        trash = await subjects(a, "Trash");
      }
      expect(trash, host).not.toContain(`${tag} trash`);
      expect(await subjects(a, "Junk"), host).toContain(`${tag} junk`);
      // leave Junk as it was
      await imap(a, async (c) => {
        const lock = await c.getMailboxLock("Junk");
        try {
          await c.messageDelete({ subject: tag });
        } finally {
          lock.release();
        }
      });
    }
  }, 180_000);
});
