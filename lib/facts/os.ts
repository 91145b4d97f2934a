import type { Fact } from "./types.js";

export interface OsRelease {
  id: string; // debian, ubuntu
  versionId: string; // "12", "13", "24.04"
  codename: string; // bookworm, trixie, noble
  prettyName: string;
  idLike: string[];
  arch: string; // amd64, arm64
  kernel: string;
}

/** Parse os-release (freedesktop format: KEY=value, values optionally quoted). */
export function parseOsReleaseText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) {
      v = v.slice(1, -1).replace(/\\(["$`\\])/g, "$1");
    }
    out[m[1]!] = v;
  }
  return out;
}

/** OS release, CPU architecture and kernel, read once per host per run. */
export const osRelease: Fact<OsRelease> = {
  name: "os.release",
  command: () => `cat /etc/os-release; echo "@@arch=$(dpkg --print-architecture 2>/dev/null)"; echo "@@kernel=$(uname -r)"`,
  parse(stdout) {
    const kv = parseOsReleaseText(stdout);
    const arch = /^@@arch=(.*)$/m.exec(stdout)?.[1] ?? "";
    const kernel = /^@@kernel=(.*)$/m.exec(stdout)?.[1] ?? "";
    return {
      id: kv.ID ?? "unknown",
      versionId: kv.VERSION_ID ?? "",
      // Debian testing/sid have no VERSION_CODENAME in some images; fall back to VERSION.
      codename: kv.VERSION_CODENAME ?? /\(([a-z]+)\)/.exec(kv.VERSION ?? "")?.[1] ?? "",
      prettyName: kv.PRETTY_NAME ?? "",
      idLike: (kv.ID_LIKE ?? "").split(/\s+/).filter(Boolean),
      arch,
      kernel,
    };
  },
};
