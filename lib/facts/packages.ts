import { quote } from "../shell.js";
import type { Fact } from "./types.js";

/** Installed packages: name → version (only fully installed, status `ii`). */
export const debPackages: Fact<Record<string, string>> = {
  name: "deb.packages",
  command: () => `dpkg-query -W -f='\${db:Status-Abbrev}\\t\${Package}\\t\${Version}\\n'`,
  parse(stdout) {
    const out: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
      const [status, name, version] = line.split("\t");
      // Second letter of the abbreviated status: "i" = installed (ii, hi = held).
      if (!name || !version || status?.[1] !== "i") continue;
      out[name] = version;
    }
    return out;
  },
};

export interface AptPolicy {
  installed: string | null;
  candidate: string | null;
}

/** `apt-cache policy` for some packages: installed and candidate versions. */
export const aptPolicy: Fact<Record<string, AptPolicy>, string[]> = {
  name: "apt.policy",
  command: (pkgs) => `LC_ALL=C apt-cache policy ${pkgs.map(quote).join(" ")}`,
  parse(stdout) {
    const out: Record<string, AptPolicy> = {};
    let current: string | undefined;
    for (const line of stdout.split("\n")) {
      const head = /^(\S+):$/.exec(line);
      if (head) {
        current = head[1]!;
        out[current] = { installed: null, candidate: null };
        continue;
      }
      if (!current) continue;
      const m = /^\s+(Installed|Candidate):\s+(\S+)/.exec(line);
      if (m) {
        const v = m[2] === "(none)" ? null : m[2]!;
        if (m[1] === "Installed") out[current]!.installed = v;
        else out[current]!.candidate = v;
      }
    }
    return out;
  },
};

/** Where mailstead records a successful `apt-get update`. */
export const APT_STAMP = "/var/lib/apt/lists/.mailstead-update-stamp";

/** Seconds since the package lists were last refreshed (null: never). */
export const aptListsAge: Fact<number | null> = {
  name: "apt.lists_age",
  command: () =>
    `now=$(date +%s); t=$(stat -c %Y ${APT_STAMP} /var/lib/apt/periodic/update-success-stamp 2>/dev/null | sort -n | tail -n 1); ` +
    `if [ -n "$t" ]; then echo $((now - t)); else echo never; fi`,
  parse(stdout) {
    const s = stdout.trim();
    return s === "never" || s === "" ? null : Number(s);
  },
};

/** Debconf answers owned by a package: question → value. */
export const debconfSelections: Fact<Record<string, string>, string> = {
  name: "debconf.selections",
  command: (pkg) => `debconf-show ${quote(pkg)} 2>/dev/null || true`,
  parse(stdout) {
    const out: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
      const m = /^[* ] (\S+):(?: (.*))?$/.exec(line);
      if (m) out[m[1]!] = m[2] ?? "";
    }
    return out;
  },
};
