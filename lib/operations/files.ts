/**
 * Files: whole-file content (file/template), directories, symlinks, and
 * key/value edits of files a role does not own. A content change is uploaded
 * to a temp file beside the target, validated, then renamed over it
 * atomically; the previous version is kept under the backup directory (not
 * for sensitive files: an old secret is not kept).
 */
import { createHash } from "node:crypto";
import { dirname, basename, posix } from "node:path";
import { fileContent, fileStat, type FileStat } from "../facts/files.js";
import { ref, type FactReader } from "../facts/types.js";
import { editConf, type EditConfOptions } from "../keyvalue.js";
import { escapeRegExp } from "../text.js";
import { and, cmd, quote } from "../shell.js";
import type { Action, Command, Plan } from "./types.js";
import { noChange } from "./types.js";

/** Where previous versions of replaced files are kept on the host. */
export const DEFAULT_BACKUP_DIR = "/var/backups/mailstead";

export interface FileArgs {
  path: string;
  content: string;
  owner?: string;
  group?: string;
  /** Octal string, e.g. "0644". */
  mode?: string;
  /** Command run against the new file before it goes live; `%s` is the temp file's path. */
  validate?: string;
  /** Never show content or diff (keys, password files). */
  sensitive?: boolean;
  /** Keep the replaced version under backupDir (default true). */
  backup?: boolean;
  backupDir?: string;
}

function normMode(mode: string): string {
  return mode.replace(/^0o/, "").padStart(4, "0");
}

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The plan for a whole-file write given the current stat. Shared by file and key/value edits. */
export function planFile(args: FileArgs, stat: FileStat | null, before?: string | null): Plan {
  const owner = args.owner ?? "root";
  const group = args.group ?? "root";
  const mode = normMode(args.mode ?? "0644");
  const sensitive = args.sensitive ?? false;
  const path = args.path;
  if (stat && stat.type !== "file") {
    return {
      commands: [], error: `${path} exists and is a ${stat.type}, not a file; refusing to replace it`,
      reasons: [`${path} is a ${stat.type}`],
    };
  }
  const reasons: string[] = [];
  const contentDiffers = !stat || stat.sha256 !== sha256(args.content);
  if (!stat) reasons.push("file is missing");
  else if (contentDiffers) reasons.push("content differs");
  if (!contentDiffers && stat) {
    const commands: Command[] = [];
    if (stat.owner !== owner || stat.group !== group) {
      reasons.push(`owner ${stat.owner}:${stat.group} → ${owner}:${group}`);
      commands.push({ run: cmd("chown", `${owner}:${group}`, path) });
    }
    if (normMode(stat.mode) !== mode) {
      reasons.push(`mode ${stat.mode} → ${mode}`);
      commands.push({ run: cmd("chmod", mode, path) });
    }
    return { commands, reasons };
  }
  const tmp = posix.join(dirname(path), `.${basename(path)}.mailstead-tmp`);
  const t = quote(tmp);
  // One script, one line per stage; the EXIT trap removes the temp file whatever fails.
  const lines: string[] = [
    `umask 077; trap ${quote(`rm -f ${t}`)} EXIT`,
    `${and(cmd("rm", "-f", tmp), `cat > ${t}`, cmd("chown", `${owner}:${group}`, tmp), cmd("chmod", mode, tmp))} || exit 1`,
  ];
  if (args.validate) {
    const v = args.validate.split("%s").join(t);
    // In a subshell (an `exit` in the validator must not end this script), on lines of its
    // own (a trailing `# comment` in it cannot eat the parenthesis).
    lines.push(`(\n${v}\n) >&2 || { rc=$?; echo "validation failed (exit $rc): "${quote(args.validate)} >&2; exit 1; }`);
  }
  const backup = posix.join(args.backupDir ?? DEFAULT_BACKUP_DIR, path);
  if (stat && args.backup !== false && !sensitive) {
    lines.push(`${and(cmd("mkdir", "-p", dirname(backup)), cmd("cp", "-p", path, backup))} || exit 1`);
  } else if (sensitive && args.backup !== false) {
    // A sensitive file (a password file, a key) is never kept: its old version would be an
    // old secret lying in /var/backups for good; the secrets file is where it comes from.
    // A copy an earlier version of mailstead kept is removed.
    lines.push(cmd("rm", "-f", backup));
  }
  lines.push(cmd("mv", "-f", tmp, path));
  return {
    commands: [{ run: lines.join("\n"), stdin: args.content }],
    reasons,
    file: { path, after: args.content, ...(before !== undefined ? { before } : {}), sensitive },
  };
}

/** Rewrite a file we edit but do not own: owner, group and mode stay as found unless given. */
function planEdit(args: Omit<FileArgs, "content">, st: FileStat | null, current: string | null, next: string): Plan {
  return planFile({ ...args, content: next, owner: args.owner ?? st?.owner, group: args.group ?? st?.group, mode: args.mode ?? st?.mode }, st, current);
}

/** Ensure a file has exactly this content, owner, group and mode. */
export function file(args: FileArgs): Action {
  const stat = ref(fileStat, args.path);
  return {
    kind: "file",
    facts: [stat],
    plan: (f: FactReader) => planFile(args, f.get(stat)),
  };
}

export interface KeyValueArgs extends Omit<FileArgs, "content"> {
  /** Settings to set; `null` removes (comments out) the setting. */
  settings: Record<string, string | null>;
  format?: EditConfOptions;
  /** Create the file when missing (default: fail, since we only edit files others own). */
  create?: boolean;
}

/** Edit settings in a file the role does not own; everything else in it is kept. */
export function keyValue(args: KeyValueArgs): Action {
  const stat = ref(fileStat, args.path);
  const content = ref(fileContent, args.path);
  return {
    kind: "file.keyvalue",
    facts: [stat, content],
    plan(f) {
      const current = f.get(content);
      const st = f.get(stat);
      if (current === null && !args.create) {
        return {
          commands: [], error: `${args.path} does not exist; nothing to edit`,
          reasons: ["file is missing"],
        };
      }
      const next = editConf(current ?? "", args.settings, args.format);
      return planEdit(args, st, current, next);
    },
  };
}

export interface DirectoryArgs {
  path: string;
  owner?: string;
  group?: string;
  mode?: string;
  present?: boolean;
}

export function directory(args: DirectoryArgs): Action {
  const stat = ref(fileStat, args.path);
  return {
    kind: "directory",
    facts: [stat],
    plan(f) {
      const st = f.get(stat);
      const owner = args.owner ?? "root";
      const group = args.group ?? "root";
      const mode = normMode(args.mode ?? "0755");
      if (args.present === false) {
        if (!st) return noChange();
        if (st.type !== "directory") return { commands: [], error: `${args.path} is not a directory`, reasons: ["not a directory"] };
        // rmdir only: never delete a directory's content implicitly.
        return { commands: [{ run: cmd("rmdir", args.path) }], reasons: ["directory exists"] };
      }
      if (st && st.type !== "directory") {
        return { commands: [], error: `${args.path} exists and is a ${st.type}`, reasons: [`is a ${st.type}`] };
      }
      const commands: Command[] = [];
      const reasons: string[] = [];
      if (!st) {
        reasons.push("directory is missing");
        commands.push({ run: and(cmd("mkdir", "-p", args.path), cmd("chown", `${owner}:${group}`, args.path), cmd("chmod", mode, args.path)) });
        return { commands, reasons };
      }
      if (st.owner !== owner || st.group !== group) {
        reasons.push(`owner ${st.owner}:${st.group} → ${owner}:${group}`);
        commands.push({ run: cmd("chown", `${owner}:${group}`, args.path) });
      }
      if (normMode(st.mode) !== mode) {
        reasons.push(`mode ${st.mode} → ${mode}`);
        commands.push({ run: cmd("chmod", mode, args.path) });
      }
      return { commands, reasons };
    },
  };
}

export interface SymlinkArgs {
  path: string;
  target: string;
  present?: boolean;
}

export function symlink(args: SymlinkArgs): Action {
  const stat = ref(fileStat, args.path);
  return {
    kind: "symlink",
    facts: [stat],
    plan(f) {
      const st = f.get(stat);
      if (args.present === false) {
        if (!st) return noChange();
        if (st.type !== "symlink") return { commands: [], error: `${args.path} is not a symlink; not removing it`, reasons: ["not a symlink"] };
        return { commands: [{ run: cmd("rm", "-f", args.path) }], reasons: ["symlink exists"] };
      }
      if (st && st.type === "symlink" && st.target === args.target) return noChange();
      if (st && st.type !== "symlink") {
        return { commands: [], error: `${args.path} exists and is a ${st.type}; not replacing it with a symlink`, reasons: [`is a ${st.type}`] };
      }
      // ln -sfn replaces an existing link atomically enough for config links.
      return { commands: [{ run: cmd("ln", "-sfn", args.target, args.path) }], reasons: [st ? `points to ${st.target}` : "symlink is missing"] };
    },
  };
}

export interface LineArgs extends Omit<FileArgs, "content"> {
  /** The line that must be present. */
  line: string;
  /** Lines matching this (JS regexp source) are replaced by `line`; default: the exact line. */
  regexp?: string;
  /** Remove matching lines instead. */
  present?: boolean;
}

/**
 * Ensure one line is in a file the role does not own (fstab, hosts): replace
 * the first line matching `regexp`, drop later matches, or append it.
 */
export function lineInFile(args: LineArgs): Action {
  const stat = ref(fileStat, args.path);
  const content = ref(fileContent, args.path);
  return {
    kind: "file.line",
    facts: [stat, content],
    plan(f) {
      if (/[\n\r\0]/.test(args.line)) return { commands: [], reasons: ["the line holds a line break"], error: `the line for ${args.path} holds a line break: one line may not add another to the file` };
      const current = f.get(content);
      const st = f.get(stat);
      const re = new RegExp(args.regexp ?? `^${escapeRegExp(args.line)}$`);
      const text = current ?? "";
      const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
      const out: string[] = [];
      let placed = false;
      for (const l of lines) {
        // The wanted line itself counts as a match even when `regexp` does not match it
        // (regexp "^#PermitRootLogin", line "PermitRootLogin no"): otherwise it is appended every run.
        if (!re.test(l) && l !== args.line) out.push(l);
        else if (args.present !== false && !placed) {
          out.push(args.line);
          placed = true;
        }
      }
      if (args.present !== false && !placed) out.push(args.line);
      const next = out.length ? `${out.join("\n")}\n` : "";
      if (current !== null && next === text) return noChange();
      if (current === null && args.present === false) return noChange();
      return planEdit(args, st, current, next);
    },
  };
}

export interface EditArgs extends Omit<FileArgs, "content"> {
  /** Pure function from the current content to the wanted content. */
  transform: (current: string) => string;
  /** Short name of the edit for `kind` and messages, e.g. "iptables.accept". */
  name?: string;
}

/**
 * Edit a file the role does not own with a pure, tested function (the general
 * form of keyValue and lineInFile). A missing file is an error.
 */
export function edit(args: EditArgs): Action {
  const stat = ref(fileStat, args.path);
  const content = ref(fileContent, args.path);
  return {
    kind: "file.edit",
    facts: [stat, content],
    plan(f) {
      const current = f.get(content);
      const st = f.get(stat);
      if (current === null) return { commands: [], reasons: ["file is missing"], error: `${args.path} does not exist; nothing to edit` };
      const next = args.transform(current);
      if (next === current) return noChange();
      return planEdit(args, st, current, next);
    },
  };
}
