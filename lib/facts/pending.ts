/**
 * Handlers notified by a run that failed before they ran, persisted on the
 * host (one small file per role and handler under <stateDir>/pending/), so
 * the next run that includes the role runs them. Ansible loses them; the
 * file in place would make the next run notify nothing.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { quote } from "../shell.js";
import type { Fact } from "./types.js";

/** Where mailstead keeps its own state on a host. */
export const DEFAULT_STATE_DIR = "/var/lib/mailstead";

export interface PendingHandler {
  role: string;
  handler: string;
}

/** The marker file of one role's handler (its name hashed: handler names are free text). */
export function pendingPath(stateDir: string, p: PendingHandler): string {
  const id = createHash("sha256").update(`${p.role}\n${p.handler}`).digest("hex").slice(0, 16);
  return posix.join(stateDir, "pending", `${p.role}--${id}`);
}

/** Every pending handler on the host: each marker holds "role\nhandler". */
export const pendingHandlers: Fact<PendingHandler[], string> = {
  name: "mailstead.pending",
  command: (stateDir) => `for f in ${quote(posix.join(stateDir, "pending"))}/*--*; do [ -f "$f" ] && { cat "$f"; printf '\\n\\036\\n'; }; done; true`,
  parse(stdout) {
    return stdout
      .split("\n\u001e\n")
      .map((b) => b.replace(/^\n+/, ""))
      .filter((b) => b.includes("\n"))
      .map((b) => {
        const i = b.indexOf("\n");
        return { role: b.slice(0, i), handler: b.slice(i + 1).replace(/\n$/, "") };
      });
  },
};
