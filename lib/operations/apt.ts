/**
 * Debian packages. Non-interactive, keeps existing config files on upgrade
 * (we own the ones we manage), waits for a busy dpkg lock for a bounded time.
 */
import { aptListsAge, aptPolicy, APT_STAMP, debconfSelections, debPackages } from "../facts/packages.js";
import { ref } from "../facts/types.js";
import { quote } from "../shell.js";
import type { Action, Command } from "./types.js";
import { noChange } from "./types.js";

/** Seconds apt waits for another dpkg/apt process (unattended-upgrades, cloud-init) to finish. */
export const DPKG_LOCK_TIMEOUT = 300;

const APT_ENV = "DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a";
const APT_OPTS =
  `-y -q -o DPkg::Lock::Timeout=${DPKG_LOCK_TIMEOUT} ` +
  `-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;

export interface PackagesArgs {
  present?: string[];
  absent?: string[];
  /** Installed and upgraded to the candidate version. */
  latest?: string[];
  /** Remove with their config files (dpkg --purge). */
  purge?: boolean;
  installRecommends?: boolean;
}

export function packages(args: PackagesArgs): Action {
  const installed = ref(debPackages, undefined);
  const latest = args.latest ?? [];
  const policy = latest.length ? ref(aptPolicy, [...latest].sort()) : undefined;
  return {
    kind: "apt.packages",
    facts: policy ? [installed, policy] : [installed],
    plan(f) {
      const have = f.get(installed);
      const commands: Command[] = [];
      const reasons: string[] = [];
      const toInstall = (args.present ?? []).filter((p) => !(p in have));
      if (policy) {
        const pol = f.get(policy);
        for (const p of latest) {
          const v = pol[p];
          if (!(p in have)) toInstall.push(p);
          else if (v?.candidate && v.candidate !== have[p]) {
            toInstall.push(p);
            reasons.push(`${p} ${have[p]} → ${v.candidate}`);
          }
        }
      }
      if (toInstall.length) {
        const missing = toInstall.filter((p) => !(p in have));
        if (missing.length) reasons.push(`not installed: ${missing.join(", ")}`);
        const rec = args.installRecommends ? "" : " --no-install-recommends";
        commands.push({ run: `${APT_ENV} apt-get install ${APT_OPTS}${rec} ${[...new Set(toInstall)].map(quote).join(" ")}` });
      }
      const toRemove = (args.absent ?? []).filter((p) => p in have);
      if (toRemove.length) {
        reasons.push(`installed: ${toRemove.join(", ")}`);
        commands.push({ run: `${APT_ENV} apt-get ${args.purge ? "purge" : "remove"} ${APT_OPTS} ${toRemove.map(quote).join(" ")}` });
      }
      return { commands, reasons };
    },
  };
}

export interface UpdateArgs {
  /** Refresh the lists only when older than this (default one hour). */
  maxAgeSeconds?: number;
  /** Refresh whatever their age (handlers after a sources change). */
  force?: boolean;
}

/**
 * `apt-get update` when the lists are older than the bound. A busy lists lock
 * is retried a bounded number of times (apt-get update does not wait for it).
 */
export function update(args: UpdateArgs = {}): Action {
  const age = ref(aptListsAge, undefined);
  const maxAge = args.maxAgeSeconds ?? 3600;
  return {
    kind: "apt.update",
    facts: [age],
    plan(f) {
      const a = f.get(age);
      if (!args.force && a !== null && a <= maxAge) return noChange();
      const retry =
        `err=$(mktemp); i=0; until LC_ALL=C apt-get update -q 2>"$err"; do rc=$?; i=$((i+1)); ` +
        `if [ $i -ge 10 ] || ! grep -q 'Could not get lock' "$err"; then cat "$err" >&2; rm -f "$err"; exit $rc; fi; sleep 6; done; ` +
        // apt-get update exits 0 when a mirror is unreachable; treat that as a failure.
        `if grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$err"; then cat "$err" >&2; rm -f "$err"; exit 1; fi; ` +
        `rm -f "$err"; touch ${APT_STAMP}`;
      const why = args.force ? "refresh requested" : a === null ? "lists never refreshed" : `lists are ${a} s old (max ${maxAge})`;
      return { commands: [{ run: retry }], reasons: [why] };
    },
  };
}

export interface DebconfArgs {
  package: string;
  /** question → [type, value], e.g. `"postfix/mailname": ["string", "mx1.example.test"]`. */
  questions: Record<string, [string, string]>;
}

/** Preseed debconf answers before a package is installed (or reconfigured). */
export function debconf(args: DebconfArgs): Action {
  const current = ref(debconfSelections, args.package);
  return {
    kind: "apt.debconf",
    facts: [current],
    plan(f) {
      const have = f.get(current);
      // debconf-show prints "(password omitted)" for password answers: those can only be
      // compared for presence, so a password question is set when it has no answer yet.
      const differs = Object.entries(args.questions).filter(([q, [type, v]]) =>
        type === "password" ? have[q] === undefined || have[q] === "" : have[q] !== v,
      );
      if (!differs.length) return noChange();
      const lines = differs.map(([q, [type, v]]) => `${args.package} ${q} ${type} ${v}`).join("\n") + "\n";
      return { commands: [{ run: "debconf-set-selections", stdin: lines }], reasons: differs.map(([q]) => `${q} differs`) };
    },
  };
}
