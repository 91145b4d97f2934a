/**
 * Where the lab keeps things, and the machine-readable state file `tests/lab/.state/lab.json`
 * (shape documented in README.md; `version` changes on any incompatible change).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { LabOs } from "./hosts.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Per-run state: keys, configs, logs, PIDs, lab.json. Git-ignored. */
export const STATE_DIR = process.env.MAILSTEAD_LAB_STATE ?? join(REPO_ROOT, "tests/lab/.state");
/** Outside the repo so clean clones reuse it: cached base images, VM root filesystems, apt cache. */
export const LAB_DIR = process.env.MAILSTEAD_LAB_DIR ?? "/var/lib/mailstead-lab";

export const paths = {
  state: STATE_DIR,
  labJson: join(STATE_DIR, "lab.json"),
  runJson: join(STATE_DIR, "run.json"),
  sshKey: join(STATE_DIR, "id_ed25519"),
  /** The mail hosts' key for the backup target (SFTP only there); its private half goes to the secrets file. */
  backupKey: join(STATE_DIR, "backup_ed25519"),
  /** The lab inventory's secrets (backup password and key), beside it under the default name, mode 600. */
  secrets: join(STATE_DIR, "inventory.secrets.yml"),
  knownHosts: join(STATE_DIR, "known_hosts"),
  inventory: join(STATE_DIR, "inventory.yml"),
  logs: join(STATE_DIR, "logs"),
  knot: join(STATE_DIR, "knot"),
  acme: join(STATE_DIR, "acme"),
  acng: join(STATE_DIR, "apt-cacher-ng"),
  images: join(LAB_DIR, "images"),
  vms: join(LAB_DIR, "vms"),
  acngCache: join(LAB_DIR, "apt-cacher-ng"),
};

export interface TsigKey {
  name: string;
  algorithm: "hmac-sha256";
  /** base64 */
  secret: string;
}

export interface LabHost {
  name: string;
  address: string;
  os: LabOs;
  /** login user: non-root, passwordless sudo */
  user: string;
  /** absolute path of the private key */
  sshKey: string;
  /** absolute path of the known_hosts file holding this host's keys */
  knownHosts: string;
  fqdn: string;
  domain: string;
}

/** Public, stable shape of tests/lab/.state/lab.json. */
export interface LabState {
  version: 1;
  bridge: { name: string; address: string; cidr: string };
  hosts: LabHost[];
  dns: {
    server: string;
    port: number;
    zones: string[];
    tsig: { acme: TsigKey; admin: TsigKey };
  };
  acme: {
    directory: string;
    /** Pebble's issuing root (changes whenever Pebble restarts) */
    rootCa: string;
    /** lab CA that signed the ACME server's TLS certificate */
    serverCa: string;
  };
  /** absolute path of the generated mailstead inventory */
  inventory: string;
  /** demo mailboxes in the generated inventory (passwords are lab-only, kept in the git-ignored state dir) */
  mail: { users: { host: string; address: string; password: string }[] };
  /** apt proxy URL the VMs use */
  aptProxy: string;
  /** ISO time the state was last written */
  updatedAt: string;
}

/** Internal bookkeeping (what we started, by PID). Not a stable interface. */
export interface RunState {
  bridge?: { name: string; createdByLab: boolean };
  aptCacherNg?: { pid: number };
  knot?: { pid: number; configHash: string };
  pebble?: { pid: number };
  vms: Record<string, { pid: number; memcg: string; rootfs: string; console: string; os: LabOs; startedAt: string }>;
  /** memory cgroup parent (…/lab) created by the lab, removed by down */
  memcgParent?: string;
  /** fs.inotify.max_user_instances before `up` raised it (restored by down) */
  inotifyRaisedFrom?: number;
}

export function ensureDir(p: string, mode = 0o755): string {
  mkdirSync(p, { recursive: true, mode });
  return p;
}

function writeJsonAtomic(file: string, data: unknown): void {
  ensureDir(dirname(file));
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n");
  renameSync(tmp, file);
}

export function readRunState(): RunState {
  if (!existsSync(paths.runJson)) return { vms: {} };
  const r = JSON.parse(readFileSync(paths.runJson, "utf8")) as RunState;
  r.vms ??= {};
  return r;
}

export function writeRunState(r: RunState): void {
  writeJsonAtomic(paths.runJson, r);
}

export function writeLabState(s: LabState): void {
  writeJsonAtomic(paths.labJson, s);
}

/** Load tests/lab/.state/lab.json; throws with a hint when the lab was never brought up. */
export function loadLabState(file: string = paths.labJson): LabState {
  if (!existsSync(file)) {
    throw new Error(`lab state ${file} not found: run \`npm run lab -- up\` (or call ensureLab())`);
  }
  const s = JSON.parse(readFileSync(file, "utf8")) as LabState;
  if (s.version !== 1) throw new Error(`lab state ${file}: unsupported version ${String(s.version)}`);
  return s;
}

/** Convenience: one host of the loaded state by name. */
export function labHost(state: LabState, name: string): LabHost {
  const h = state.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`host "${name}" is not in the lab state (up: ${state.hosts.map((x) => x.name).join(", ")})`);
  return h;
}
