/**
 * Base images: one debootstrap'ed Debian root per release, built once and cached under
 * /var/lib/mailstead-lab/images/<os>. Built in a temp dir and renamed into place when complete,
 * so an interrupted build never leaves something that looks like a valid image.
 * The cached image is never modified afterwards; VMs get `cp -a` copies.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { $, LabError, log, pidAlive, tail } from "./util.ts";
import { ensureDir, paths } from "./state.ts";
import { LAB_NET, type LabOs } from "./hosts.ts";

export const IMAGE_PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "python3",
  "ca-certificates", "sudo", "curl", "iputils-ping", "procps", "less",
  // As on cloud images: SSH logins get a systemd user session (not ssh.service's cgroup),
  // so restarting sshd during an upgrade never touches the converge's own connection.
  "libpam-systemd",
];
export const LOGIN_USER = "debian";
const STAMP = ".mailstead-image.json";
export const DEFAULT_MAX_AGE_DAYS = Number(process.env.MAILSTEAD_LAB_IMAGE_MAX_AGE_DAYS ?? 14);

export interface Mirrors {
  /** e.g. http://deb.debian.org/debian/ (trailing slash) */
  debian: string;
  /** e.g. http://deb.debian.org/debian-security/ or undefined */
  security?: string;
}

/** Read the Debian mirror from the host's own apt sources (deb822 and one-line formats). */
export function hostMirrors(): Mirrors {
  const entries: { uri: string; suites: string[] }[] = [];
  const files: string[] = [];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) if (/\.(sources|list)$/.test(f)) files.push(join(dir, f));
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    if (f.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const fields: Record<string, string> = {};
        for (const line of stanza.split("\n")) {
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
          if (m && m[1] && m[2] !== undefined) fields[m[1].toLowerCase()] = m[2];
        }
        if (fields.enabled === "no" || !(fields.types ?? "").split(/\s+/).includes("deb")) continue;
        for (const uri of (fields.uris ?? "").split(/\s+/).filter(Boolean)) entries.push({ uri, suites: (fields.suites ?? "").split(/\s+/) });
      }
    } else {
      for (const line of text.split("\n")) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (m && m[1] && m[2]) entries.push({ uri: m[1], suites: [m[2]] });
      }
    }
  }
  const slash = (u: string) => (u.endsWith("/") ? u : `${u}/`);
  const http = entries.filter((e) => /^https?:\/\//.test(e.uri));
  const sec = http.find((e) => e.suites.some((s) => s.endsWith("-security")));
  const main = http.find((e) => e.suites.some((s) => /^[a-z]+$/.test(s) || s.endsWith("-updates")) && e !== sec);
  if (!main) throw new LabError("no http Debian mirror found in /etc/apt/sources.list{,.d}: the lab reads the host's mirror from there");
  return { debian: slash(main.uri), security: sec ? slash(sec.uri) : undefined };
}

interface Stamp {
  os: LabOs;
  builtAt: string;
  mirror: string;
  packages: string[];
}

export function imagePath(os: LabOs): string {
  return join(paths.images, os);
}

function readStamp(os: LabOs): Stamp | undefined {
  const f = join(imagePath(os), STAMP);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as Stamp;
  } catch {
    return undefined;
  }
}

/** Unmount anything still mounted under `dir` (an interrupted debootstrap leaves /proc, /sys, maybe /dev), deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await $({ nothrow: true })`umount -l ${m}`;
}

/** rm -rf that never crosses into a mounted filesystem. */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await unmountUnder(dir);
  await $`rm -rf --one-file-system ${dir}`;
}

/** Remove leftovers of interrupted builds (whose building process is gone). */
async function cleanStaleBuilds(os: LabOs): Promise<void> {
  if (!existsSync(paths.images)) return;
  for (const d of readdirSync(paths.images)) {
    const m = new RegExp(`^\\.(?:build|old)-${os}-(\\d+)$`).exec(d);
    if (m && !pidAlive(Number(m[1]))) {
      log(`removing leftover ${d} from an interrupted build`);
      await removeTree(join(paths.images, d));
    }
  }
}

async function build(os: LabOs, mirrors: Mirrors): Promise<void> {
  const tmp = join(paths.images, `.build-${os}-${process.pid}`);
  const logFile = join(ensureDir(paths.logs), `image-${os}.log`);
  await removeTree(tmp);
  log(`building ${os} image with debootstrap from ${mirrors.debian} (log: ${logFile})`);
  const r = await $({ nothrow: true })`debootstrap --variant=minbase --components=main --include=${IMAGE_PACKAGES.join(",")} ${os} ${tmp} ${mirrors.debian} > ${logFile} 2>&1`;
  if (r.exitCode !== 0) {
    await removeTree(tmp);
    throw new LabError(`debootstrap ${os} failed (exit ${r.exitCode}); tail of ${logFile}:\n${tail(logFile, 20)}`);
  }
  await customise(tmp, os, mirrors);
  const stamp: Stamp = { os, builtAt: new Date().toISOString(), mirror: mirrors.debian, packages: IMAGE_PACKAGES };
  writeFileSync(join(tmp, STAMP), JSON.stringify(stamp, null, 2) + "\n");
  // swap into place: old image (if any) aside, new one in, old one removed
  const dest = imagePath(os);
  const old = join(paths.images, `.old-${os}-${process.pid}`);
  if (existsSync(dest)) renameSync(dest, old);
  renameSync(tmp, dest);
  await removeTree(old);
}

/** Everything every VM shares, done once in the image: login user, sshd policy, apt, units. */
async function customise(root: string, os: LabOs, mirrors: Mirrors): Promise<void> {
  const w = (rel: string, content: string, mode = 0o644) => {
    const f = join(root, rel);
    mkdirSync(join(f, ".."), { recursive: true });
    writeFileSync(f, content, { mode });
  };
  await $`chroot ${root} useradd --create-home --shell /bin/bash --groups sudo ${LOGIN_USER}`;
  // '*' = no password, but not "locked": key login works, password login never does
  await $`chroot ${root} usermod --password ${"*"} ${LOGIN_USER}`;
  w(`etc/sudoers.d/90-lab-${LOGIN_USER}`, `${LOGIN_USER} ALL=(ALL) NOPASSWD:ALL\n`, 0o440);
  w("etc/ssh/sshd_config.d/10-lab.conf", "# mailstead lab: key-only, like a cloud image\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n");
  const lines = [`deb ${mirrors.debian} ${os} main`, `deb ${mirrors.debian} ${os}-updates main`];
  if (mirrors.security) lines.push(`deb ${mirrors.security} ${os}-security main`);
  w("etc/apt/sources.list", lines.join("\n") + "\n");
  w("etc/apt/apt.conf.d/01proxy", `Acquire::http::Proxy "http://${LAB_NET.address}:3142";\n`);
  // no surprise dpkg locks during tests; no getty on the (log-file) console
  await $`systemctl --root=${root} mask apt-daily.timer apt-daily-upgrade.timer console-getty.service`;
  await $`systemctl --root=${root} enable systemd-networkd.service`;
  // per-VM identity is made by vm.ts; never ship the build's one
  await $`sh -c ${"rm -f \"$0\"/etc/ssh/ssh_host_* \"$0\"/var/lib/dbus/machine-id \"$0\"/etc/resolv.conf && : > \"$0\"/etc/machine-id"} ${root}`;
  await $`chroot ${root} apt-get clean`;
}

export interface ImageResult {
  os: LabOs;
  path: string;
  built: boolean;
  seconds: number;
}

/** Make sure the image for `os` exists and is fresh; build it if not (or if `rebuild`). */
export async function ensureImage(os: LabOs, opts: { rebuild?: boolean; maxAgeDays?: number } = {}): Promise<ImageResult> {
  const t = performance.now();
  ensureDir(paths.images);
  await cleanStaleBuilds(os);
  const stamp = readStamp(os);
  const maxAge = (opts.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS) * 86_400_000;
  const samePackages = stamp && JSON.stringify(stamp.packages) === JSON.stringify(IMAGE_PACKAGES);
  const fresh = stamp && samePackages && Date.now() - Date.parse(stamp.builtAt) < maxAge;
  if (fresh && !opts.rebuild) return { os, path: imagePath(os), built: false, seconds: (performance.now() - t) / 1000 };
  if (stamp && !samePackages && !opts.rebuild) log(`${os} image was built with other packages: rebuilding`);
  else if (stamp && !opts.rebuild) log(`${os} image built ${stamp.builtAt} is older than ${opts.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS} days: rebuilding`);
  await build(os, hostMirrors());
  return { os, path: imagePath(os), built: true, seconds: (performance.now() - t) / 1000 };
}
