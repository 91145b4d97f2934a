/** System users and groups. Never deletes a home directory. */
import { group as groupFact, user as userFact } from "../facts/system.js";
import { ref } from "../facts/types.js";
import { cmd } from "../shell.js";
import type { Action, Command } from "./types.js";
import { noChange } from "./types.js";

export interface GroupArgs {
  name: string;
  gid?: number;
  system?: boolean;
  present?: boolean;
}

export function group(args: GroupArgs): Action {
  const g = ref(groupFact, args.name);
  return {
    kind: "group",
    facts: [g],
    plan(f) {
      const have = f.get(g);
      if (args.present === false) {
        return have ? { commands: [{ run: cmd("groupdel", args.name) }], reasons: ["group exists"] } : noChange();
      }
      if (!have) {
        const a = ["groupadd"];
        if (args.system) a.push("--system");
        if (args.gid !== undefined) a.push("--gid", String(args.gid));
        return { commands: [{ run: cmd(...a, args.name) }], reasons: ["group is missing"] };
      }
      if (args.gid !== undefined && have.gid !== args.gid) {
        return { commands: [{ run: cmd("groupmod", "--gid", args.gid, args.name) }], reasons: [`gid ${have.gid} → ${args.gid}`] };
      }
      return noChange();
    },
  };
}

export interface UserArgs {
  name: string;
  uid?: number;
  /** Primary group (must exist). */
  group?: string;
  /** Supplementary groups the user must be in (others are kept). */
  groups?: string[];
  home?: string;
  shell?: string;
  system?: boolean;
  createHome?: boolean;
  comment?: string;
  present?: boolean;
  /**
   * Refuse (Plan.error, also in check mode) to take over an existing account
   * that someone can log in as (a real shell) or that is uid 0: a service
   * owner made from a person's account would hand that person the service's
   * files, or the service theirs.
   */
  refuseLoginAccount?: boolean;
}

const NO_LOGIN_SHELLS = new Set(["/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", ""]);

export function user(args: UserArgs): Action {
  const u = ref(userFact, args.name);
  const g = args.group ? ref(groupFact, args.group) : undefined;
  return {
    kind: "user",
    facts: g ? [u, g] : [u],
    plan(f) {
      const have = f.get(u);
      if (args.present === false) {
        // userdel without -r: the user's files stay (mail must never be lost).
        return have ? { commands: [{ run: cmd("userdel", args.name) }], reasons: ["user exists"] } : noChange();
      }
      if (!have) {
        const a = ["useradd"];
        if (args.system) a.push("--system");
        if (args.uid !== undefined) a.push("--uid", String(args.uid));
        if (args.group) a.push("--gid", args.group);
        if (args.groups?.length) a.push("--groups", args.groups.join(","));
        if (args.home) a.push("--home-dir", args.home);
        a.push(args.createHome ? "--create-home" : "--no-create-home");
        a.push("--shell", args.shell ?? "/usr/sbin/nologin");
        if (args.comment) a.push("--comment", args.comment);
        return { commands: [{ run: cmd(...a, args.name) }], reasons: ["user is missing"] };
      }
      if (args.refuseLoginAccount && (have.uid === 0 || !NO_LOGIN_SHELLS.has(have.shell))) {
        return {
          commands: [],
          reasons: ["a login account of that name exists"],
          error: `account ${args.name} already exists on the host as a login account (uid ${have.uid}, shell ${have.shell || "none"}): it will not be made the owner of the service; choose another name for the service account`,
        };
      }
      const mod: string[] = [];
      const reasons: string[] = [];
      if (args.uid !== undefined && have.uid !== args.uid) {
        mod.push("--uid", String(args.uid));
        reasons.push(`uid ${have.uid} → ${args.uid}`);
      }
      if (g) {
        const wanted = f.get(g);
        if (wanted && have.gid !== wanted.gid) {
          mod.push("--gid", args.group!);
          reasons.push(`primary group → ${args.group}`);
        }
      }
      const missingGroups = (args.groups ?? []).filter((x) => !have.groups.includes(x));
      if (missingGroups.length) {
        mod.push("--append", "--groups", missingGroups.join(","));
        reasons.push(`not in ${missingGroups.join(", ")}`);
      }
      if (args.home && have.home !== args.home) {
        mod.push("--home", args.home);
        reasons.push(`home ${have.home} → ${args.home}`);
      }
      if (args.shell && have.shell !== args.shell) {
        mod.push("--shell", args.shell);
        reasons.push(`shell ${have.shell} → ${args.shell}`);
      }
      const commands: Command[] = mod.length ? [{ run: cmd("usermod", ...mod, args.name) }] : [];
      return { commands, reasons };
    },
  };
}
