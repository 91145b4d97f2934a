export * as apt from "./apt.js";
export * as systemd from "./systemd.js";
export { file, keyValue, lineInFile, edit, directory, symlink, planFile, DEFAULT_BACKUP_DIR } from "./files.js";
export { user, group } from "./users.js";
export { command, refuse } from "./command.js";
export type { Action, Plan, Command, FileChange } from "./types.js";
