import { quote } from "../shell.js";
import type { Fact } from "./types.js";

export type FileType = "file" | "directory" | "symlink" | "other";

export interface FileStat {
  type: FileType;
  /** Octal permission bits, 4 digits, e.g. "0644". */
  mode: string;
  owner: string;
  group: string;
  size: number;
  /** sha256 of the content, regular files only. */
  sha256?: string;
  /** Link target, symlinks only. */
  target?: string;
}

/**
 * stat (without following symlinks) plus sha256 for regular files and the
 * target for symlinks. `null` when nothing exists at the path.
 */
export const fileStat: Fact<FileStat | null, string> = {
  name: "file.stat",
  command: (path) => {
    const p = quote(path);
    return (
      `if [ -e ${p} ] || [ -L ${p} ]; then stat -c '%F|%a|%U|%G|%s' ${p}; ` +
      `if [ -L ${p} ]; then printf 'target:%s\\n' "$(readlink ${p})"; ` +
      `elif [ -f ${p} ]; then sha256sum < ${p}; fi; else echo absent; fi`
    );
  },
  parse(stdout) {
    const lines = stdout.split("\n").filter(Boolean);
    if (lines[0] === "absent" || lines.length === 0) return null;
    const [ftype, mode, owner, group, size] = lines[0]!.split("|");
    const type: FileType =
      ftype === "regular file" || ftype === "regular empty file"
        ? "file"
        : ftype === "directory"
          ? "directory"
          : ftype === "symbolic link"
            ? "symlink"
            : "other";
    const stat: FileStat = {
      type,
      mode: (mode ?? "0").padStart(4, "0"),
      owner: owner ?? "",
      group: group ?? "",
      size: Number(size ?? 0),
    };
    for (const l of lines.slice(1)) {
      if (l.startsWith("target:")) stat.target = l.slice("target:".length);
      else if (type === "file") stat.sha256 = l.split(/\s+/)[0];
    }
    return stat;
  },
};

/** Content of a file (UTF-8), `null` when absent. Read for diffs and key/value edits. */
export const fileContent: Fact<string | null, string> = {
  name: "file.content",
  command: (path) => `if [ -f ${quote(path)} ]; then echo present; base64 -w0 < ${quote(path)}; else echo absent; fi`,
  parse(stdout) {
    const nl = stdout.indexOf("\n");
    const head = nl < 0 ? stdout : stdout.slice(0, nl);
    if (head !== "present") return null;
    const raw = Buffer.from(stdout.slice(nl + 1).trim(), "base64");
    const text = raw.toString("utf8");
    // Editing a file that is not UTF-8 would corrupt the lines we do not own: refuse.
    if (!Buffer.from(text, "utf8").equals(raw)) throw new Error("the file is not valid UTF-8; refusing to edit it");
    return text;
  },
};
