/**
 * The lab's demo mailboxes: one user per mail host, so `npm run demo` and
 * tests can send and read mail with the lab's own inventory. The password is
 * made once and kept (mode 600) in the state dir with its BLF-CRYPT hash, so
 * regenerating the inventory never changes the hash (a converge stays a no-op).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { blfCrypt } from "../../roles/mailbox/passwd.js";
import { paths } from "./state.ts";
import type { HostDef } from "./hosts.ts";

export interface LabMailUser {
  host: string;
  name: string;
  address: string;
  password: string;
  hash: string;
}

/** Who gets a demo mailbox on which host. */
const DEMO: Record<string, string> = { mx1: "alice", mx2: "dave" };

export const mailUsersPath = () => join(paths.state, "mail-users.json");

export function labMailUsers(hosts: HostDef[]): LabMailUser[] {
  const file = mailUsersPath();
  const known: LabMailUser[] = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as LabMailUser[]) : [];
  const out: LabMailUser[] = [];
  for (const h of hosts) {
    const name = DEMO[h.name];
    if (!name) continue;
    const address = `${name}@${h.domain}`;
    const have = known.find((u) => u.host === h.name && u.address === address);
    if (have) {
      out.push(have);
      continue;
    }
    // Never a leading "-" (base64url has one in 64): tests pass it as an argument (doveadm auth
    // test took "-b..." for an option in the stop-25 CI's disaster-recovery test).
    const password = `pw${randomBytes(12).toString("base64url")}`;
    out.push({ host: h.name, name, address, password, hash: blfCrypt(password, 8) });
  }
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`, { mode: 0o600 });
  return out;
}
