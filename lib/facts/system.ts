import { quote } from "../shell.js";
import type { Fact } from "./types.js";

export interface UnitState {
  load: string; // loaded, not-found, masked
  active: string; // active, inactive, failed, activating, reloading
  sub: string;
  unitFile: string; // enabled, disabled, static, masked, "" when not found
  needDaemonReload: boolean;
}

/** `systemctl show` of one unit. */
export const systemdUnit: Fact<UnitState, string> = {
  name: "systemd.unit",
  command: (unit) =>
    `systemctl show --no-pager -p LoadState -p ActiveState -p SubState -p UnitFileState -p NeedDaemonReload ${quote(unit)}`,
  parse(stdout) {
    const kv: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1);
    }
    return {
      load: kv.LoadState ?? "",
      active: kv.ActiveState ?? "",
      sub: kv.SubState ?? "",
      unitFile: kv.UnitFileState ?? "",
      needDaemonReload: kv.NeedDaemonReload === "yes",
    };
  },
};

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
  /** Supplementary and primary group names. */
  groups: string[];
}

/** A user from the passwd database and its groups; null when absent. */
export const user: Fact<PasswdEntry | null, string> = {
  name: "user",
  command: (name) => `getent passwd ${quote(name)} && id -Gn ${quote(name)} || echo absent`,
  parse(stdout) {
    const [pw, groups] = stdout.split("\n");
    if (!pw || pw === "absent") return null;
    const f = pw.split(":");
    return {
      name: f[0]!,
      uid: Number(f[2]),
      gid: Number(f[3]),
      gecos: f[4] ?? "",
      home: f[5] ?? "",
      shell: f[6] ?? "",
      groups: (groups ?? "").split(/\s+/).filter(Boolean),
    };
  },
};

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export const group: Fact<GroupEntry | null, string> = {
  name: "group",
  command: (name) => `getent group ${quote(name)} || echo absent`,
  parse(stdout) {
    const line = stdout.split("\n")[0];
    if (!line || line === "absent") return null;
    const f = line.split(":");
    return { name: f[0]!, gid: Number(f[2]), members: (f[3] ?? "").split(",").filter(Boolean) };
  },
};

export interface ListeningSocket {
  proto: "tcp" | "udp";
  address: string;
  port: number;
  process?: string;
}

/** Listening TCP and UDP sockets (`ss -Hlntup`). */
export const listeningSockets: Fact<ListeningSocket[]> = {
  name: "net.listening",
  command: () => `ss -Hlntup`,
  parse(stdout) {
    const out: ListeningSocket[] = [];
    for (const line of stdout.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      const proto = f[0] === "tcp" ? "tcp" : f[0] === "udp" ? "udp" : undefined;
      if (!proto) continue;
      const local = f[4]!;
      const i = local.lastIndexOf(":");
      // [fe80::1]%eth0 and 0.0.0.0%lo: drop the scope, then the brackets.
      const address = local.slice(0, i).replace(/%[^\]]*$/, "").replace(/^\[|\]$/g, "");
      const port = Number(local.slice(i + 1));
      const proc = /users:\(\("([^"]+)"/.exec(line)?.[1];
      out.push({ proto, address, port, ...(proc ? { process: proc } : {}) });
    }
    return out;
  },
};

/** Exit status of a test command (for `unless`/`onlyIf` guards). */
export const commandStatus: Fact<number, string> = {
  name: "command.status",
  command: (command) => `(\n${command}\n) >/dev/null 2>&1; echo $?`,
  parse: (stdout) => Number(stdout.trim()),
};

/** Trimmed stdout of a read-only command, for facts a role needs once. */
export const commandOutput: Fact<string, string> = {
  name: "command.output",
  command: (command) => command,
  parse: (stdout) => stdout.trim(),
};

export interface Memory {
  memTotalKb: number;
  swapTotalKb: number;
}

/** Total RAM and swap from /proc/meminfo. */
export const memory: Fact<Memory> = {
  name: "memory",
  command: () => `grep -E '^(MemTotal|SwapTotal):' /proc/meminfo`,
  parse(stdout) {
    const v = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(stdout)?.[1] ?? 0);
    return { memTotalKb: v("MemTotal"), swapTotalKb: v("SwapTotal") };
  },
};

/** Container technology the host runs in ("" on a VM or bare metal): nspawn, lxc, docker... */
export const containerVirt: Fact<string> = {
  name: "virt.container",
  command: () => `systemd-detect-virt --container 2>/dev/null || true`,
  parse: (stdout) => {
    const v = stdout.trim();
    return v === "none" ? "" : v;
  },
};

/**
 * `key = value` lines a command prints (postconf, doveconf -n, sysctl...), as a
 * map: the one reader of such output. Lines without " = " are ignored; a key
 * printed twice keeps its last value.
 */
export const confValues: Fact<Record<string, string>, string> = {
  name: "conf.values",
  command: (command) => `(\n${command}\n) 2>/dev/null; true`,
  parse(stdout) {
    const out: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
      const m = /^\s*([^=\s][^=]*?)\s*=\s?(.*)$/.exec(line);
      if (m) out[m[1]!] = m[2]!.trim();
    }
    return out;
  },
};

/** The addresses something listens on for this TCP port ("127.0.0.1", "::1", "0.0.0.0", "::"...). */
export function tcpListeners(sockets: ListeningSocket[], port: number): string[] {
  return sockets.filter((s) => s.proto === "tcp" && s.port === port).map((s) => s.address);
}

/** The TCP ports anything listens on, sorted. */
export function tcpPorts(sockets: ListeningSocket[]): number[] {
  return [...new Set(sockets.filter((s) => s.proto === "tcp").map((s) => s.port))].sort((a, b) => a - b);
}

/** A loopback address (127.0.0.0/8, ::1). */
export function isLoopback(address: string): boolean {
  return address === "::1" || /^127\./.test(address);
}
