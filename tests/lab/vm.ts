/**
 * VMs: systemd-nspawn containers booting systemd as PID 1 on the lab bridge, each a fresh
 * `cp -a` copy of a cached base image, personalised like a cloud image, and started inside
 * its own child memory cgroup (memory hierarchy remounted rw inside) so per-service memory
 * accounting works (see the recipe, §5).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $, LabError, pidAlive, sleep, spawnDaemon, tail, waitFor } from "./util.ts";
import { ensureDir, paths, type RunState } from "./state.ts";
import { LAB_NET, fqdn, type HostDef } from "./hosts.ts";
import { LOGIN_USER, imagePath, removeTree } from "./images.ts";

const NSPAWN = "systemd-nspawn";

export function rootfsPath(name: string): string {
  return join(paths.vms, name);
}

export function consolePath(name: string): string {
  return join(paths.logs, `${name}.console`);
}

/** Lab SSH key (ed25519, no passphrase), made once per state dir. */
export async function ensureSshKey(): Promise<string> {
  ensureDir(paths.state);
  if (!existsSync(paths.sshKey)) await $`ssh-keygen -q -t ed25519 -N ${""} -C mailstead-lab -f ${paths.sshKey}`;
  if (!existsSync(paths.backupKey)) await $`ssh-keygen -q -t ed25519 -N ${""} -C mailstead-lab-backup -f ${paths.backupKey}`;
  chmodSync(paths.sshKey, 0o600);
  return paths.sshKey;
}

/** The memory cgroup the lab's VMs live under: <our own memory cgroup>/mailstead-lab. */
export function memcgParent(): string {
  const line = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => l.split(":")[1] === "memory");
  if (!line) throw new LabError("no cgroup v1 memory controller in /proc/self/cgroup: per-VM memory cgroups need it");
  const rel = line.split(":").slice(2).join(":");
  return join("/sys/fs/cgroup/memory", rel, "mailstead-lab");
}

function idsOf(root: string, user: string): { uid: number; gid: number } {
  const row = readFileSync(join(root, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith(`${user}:`));
  const f = row?.split(":");
  if (!f || f.length < 4) throw new LabError(`user ${user} missing from ${root}/etc/passwd (broken image?)`);
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function writeIn(root: string, rel: string, content: string, mode = 0o644): void {
  const f = join(root, rel);
  mkdirSync(join(f, ".."), { recursive: true });
  try {
    if (lstatSync(f).isSymbolicLink()) unlinkSync(f);
  } catch {
    /* absent */
  }
  writeFileSync(f, content, { mode });
  chmodSync(f, mode);
}

/** Fresh copy of the image, with this VM's own identity (hostname, machine-id, host keys, address). */
export async function prepareRootfs(h: HostDef, opts: { fault?: boolean } = {}): Promise<string> {
  const root = rootfsPath(h.name);
  await removeTree(root);
  ensureDir(paths.vms);
  await $`cp -a --reflink=auto ${imagePath(h.os)} ${root}`;
  writeIn(root, "etc/hostname", `${h.name}\n`);
  writeIn(root, "etc/hosts", `127.0.0.1\tlocalhost\n${h.address}\t${fqdn(h)} ${h.name}\n\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  writeIn(root, "etc/mailname", `${fqdn(h)}\n`);
  // own machine-id (otherwise every clone would share one)
  writeIn(root, "etc/machine-id", `${randomBytes(16).toString("hex")}\n`, 0o444);
  // own SSH host keys
  await $`sh -c ${'rm -f "$0"/etc/ssh/ssh_host_*'} ${root}`;
  await $`ssh-keygen -A -f ${root}`;
  // login: key only
  const { uid, gid } = idsOf(root, LOGIN_USER);
  const sshDir = join(root, "home", LOGIN_USER, ".ssh");
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  // The backup target also lets the mail hosts' backup key in, for SFTP only (restic's sftp: backend).
  const backupLogin = h.backupTarget ? `restrict,command="/usr/lib/openssh/sftp-server" ${readFileSync(`${paths.backupKey}.pub`, "utf8")}` : "";
  writeIn(root, `home/${LOGIN_USER}/.ssh/authorized_keys`, readFileSync(`${paths.sshKey}.pub`, "utf8") + backupLogin, 0o600);
  chownSync(sshDir, uid, gid);
  chownSync(join(sshDir, "authorized_keys"), uid, gid);
  if (h.backupTarget) {
    mkdirSync(join(root, "srv/restic"), { recursive: true, mode: 0o700 });
    chownSync(join(root, "srv/restic"), uid, gid);
  }
  // Keep the login user's systemd manager running (lingering): otherwise every SSH login
  // waits for user@.service to start, and back-to-back logins race its 10 s stop delay.
  writeIn(root, `var/lib/systemd/linger/${LOGIN_USER}`, "", 0o644);
  // static address with systemd-networkd; the prefix must sort before 80-container-host0.network
  writeIn(
    root,
    "etc/systemd/network/10-lab.network",
    `# mailstead lab\n[Match]\nName=host0\n\n[Network]\nAddress=${h.address}/${LAB_NET.prefix}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n`,
  );
  // the lab DNS, no default route anywhere
  writeIn(root, "etc/resolv.conf", `# mailstead lab DNS\nnameserver ${LAB_NET.address}\nsearch ${h.domain}\n`);
  // Fault injection for the lab's own retry path: MAILSTEAD_LAB_FAULT_NOLOGIN=<name,...> leaves
  // /run/nologin after boot (what a failed systemd-user-sessions does), so SSH refuses the login user.
  const faulty = (process.env.MAILSTEAD_LAB_FAULT_NOLOGIN ?? "").split(",").includes(h.name);
  if (faulty && (opts.fault ?? true)) {
    writeIn(root, "etc/systemd/system/lab-fault-nologin.service", "[Unit]\nAfter=systemd-user-sessions.service\n[Service]\nType=oneshot\nExecStart=/usr/bin/touch /run/nologin\n[Install]\nWantedBy=multi-user.target\n");
    ensureDir(join(root, "etc/systemd/system/multi-user.target.wants"));
    symlinkSync("../lab-fault-nologin.service", join(root, "etc/systemd/system/multi-user.target.wants/lab-fault-nologin.service"));
  }
  return root;
}

/** Boot the VM in its own memory cgroup; returns the systemd-nspawn PID. */
/**
 * Kill every process still running in or for a VM's root filesystem although
 * no run state names it: a session that ended without `down` (CI ends what a
 * session left, but a container's processes can outlive a killed
 * systemd-nspawn and keep its address). Found by their memory cgroup
 * (…/mailstead-lab/<name>, under whichever session started them) or by a
 * systemd-nspawn command line naming the root: only ours.
 */
export async function killLeftovers(name: string): Promise<number> {
  const root = rootfsPath(name);
  // whatever the parent cgroup of the session that started it was
  const inVm = new RegExp(`/mailstead-lab/${name}(\\.[0-9a-z]+)?(/|$)`);
  const find = (): number[] => {
    const found: number[] = [];
    for (const e of readdirSync("/proc")) {
      if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
      try {
        const memcg = /^\d+:memory:(.*)$/m.exec(readFileSync(`/proc/${e}/cgroup`, "utf8"))?.[1] ?? "";
        const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
        if (inVm.test(memcg) || (cmd.some((c) => c.endsWith("systemd-nspawn")) && cmd.includes(root))) found.push(Number(e));
      } catch {
        /* gone or not ours to read */
      }
    }
    return found;
  };
  let killed = 0;
  for (let i = 0; i < 50; i++) {
    const pids = find().filter((p) => {
      try {
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, "utf8"));
      } catch {
        return false;
      }
    });
    if (pids.length === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
        killed++;
      } catch {
        /* gone */
      }
    }
    await sleep(100);
  }
  return killed;
}

export function startVm(h: HostDef, run: RunState): number {
  const parent = memcgParent();
  // A new memory cgroup per boot: re-creating the name of one just removed (down, then up) left
  // the VM's systemd unable to place services (status=219/CGROUP, "Input/output error").
  const memcg = join(parent, `${h.name}.${Date.now().toString(36)}`);
  mkdirSync(memcg, { recursive: true });
  run.memcgParent = parent;
  const consoleFile = consolePath(h.name);
  ensureDir(paths.logs);
  writeFileSync(consoleFile, "");
  const script = 'echo $$ > "$0/cgroup.procs" && exec systemd-nspawn "$@"';
  const pid = spawnDaemon(
    "bash",
    [
      "-c", script, memcg,
      "-D", rootfsPath(h.name),
      `--network-bridge=${LAB_NET.bridge}`,
      "--register=no", "--keep-unit",
      "-M", h.name,
      "--kill-signal=SIGRTMIN+3",
      "--console=read-only",
      "--resolv-conf=off", "--timezone=off", "--link-journal=no",
      "/bin/sh", "-c",
      // cgroup v1 controllers are mounted read-only by nspawn: make memory writable so the VM's
      // systemd makes per-service memory cgroups. systemd >= 256 (trixie) refuses cgroup v1 unless
      // forced; in a container it reads these switches from its own command line.
      "mount -o remount,bind,rw /sys/fs/cgroup/memory; exec /lib/systemd/systemd systemd.unified_cgroup_hierarchy=0 SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1",
    ],
    consoleFile,
  );
  run.vms[h.name] = { pid, memcg, rootfs: rootfsPath(h.name), console: consoleFile, os: h.os, startedAt: new Date().toISOString() };
  return pid;
}

export function sshArgs(h: { address: string }, extra: string[] = []): string[] {
  return [
    "-i", paths.sshKey,
    "-o", `UserKnownHostsFile=${paths.knownHosts}`,
    "-o", "StrictHostKeyChecking=yes",
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=3",
    "-o", "LogLevel=ERROR",
    ...extra,
    `${LOGIN_USER}@${h.address}`,
  ];
}

/** Run a command in a VM as the login user (use `sudo` in it for root). */
export async function sshRun(h: { address: string }, command: string, opts: { nothrow?: boolean; input?: string; timeoutMs?: number } = {}) {
  return $({ nothrow: opts.nothrow ?? false, input: opts.input, timeout: opts.timeoutMs ?? 120_000 })`ssh ${sshArgs(h)} ${command}`;
}

/** The VM's PID 1 (its systemd), the child of systemd-nspawn; undefined while it is not there. */
export function vmInitPid(nspawnPid: number | undefined): number | undefined {
  if (!nspawnPid || !pidAlive(nspawnPid)) return undefined;
  try {
    const kids = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return kids.length ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** Open inotify file descriptors on this machine (a dup'd one counts twice) and the per-user instance limit. */
export function inotifyUse(): { used: number; max: number } {
  let used = 0;
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      for (const fd of readdirSync(`/proc/${e}/fd`)) {
        try {
          if (readlinkSync(`/proc/${e}/fd/${fd}`) === "anon_inode:inotify") used++;
        } catch {
          /* closed meanwhile */
        }
      }
    } catch {
      /* gone or not ours */
    }
  }
  const max = Number(readFileSync("/proc/sys/fs/inotify/max_user_instances", "utf8").trim());
  return { used, max };
}

/**
 * What a VM that does not answer SSH looks like from inside (entered with nsenter, no SSH
 * needed): failed units, its addresses, /run/nologin, the boot's warnings; and the
 * machine's inotify use. Printed with the error, so a failure in CI says why.
 */
export async function vmDiagnostics(name: string, run: RunState): Promise<string> {
  const out: string[] = [];
  const ino = inotifyUse();
  out.push(`machine: ${ino.used} inotify fds open, per-user instance limit ${ino.max}`);
  const init = vmInitPid(run.vms[name]?.pid);
  if (!init) return [...out, `${name}: no VM process (systemd-nspawn pid ${run.vms[name]?.pid ?? "none"} is gone)`].join("\n");
  const script = [
    "echo '-- systemctl is-system-running:'; systemctl is-system-running",
    "echo '-- failed units:'; systemctl --failed --no-legend --plain",
    "for u in $(systemctl --failed --no-legend --plain | awk '{print $1}' | head -4); do echo \"-- status $u:\"; systemctl status --no-pager -n 8 \"$u\" 2>&1 | tail -12; done",
    "echo '-- addresses:'; ip -br addr 2>&1",
    "echo '-- /run/nologin:'; ls -l /run/nologin 2>&1",
    "echo '-- boot warnings (sshd: last 3):'; journalctl -b -p warning --no-pager -o short-monotonic 2>&1 | grep -v ' sshd\\[' | tail -25; journalctl -b -p warning --no-pager -o short-monotonic _COMM=sshd 2>&1 | tail -3",
  ].join("; ");
  const r = await $({ nothrow: true, timeout: 15_000 })`nsenter -t ${init} -m -u -i -n -p -- sh -c ${script}`;
  out.push(`${name} (PID 1 = ${init}), seen from inside:`, (r.stdout + r.stderr).trim().split("\n").slice(0, 120).join("\n"));
  return out.join("\n");
}

/**
 * Every VM's systemd (and later its services: Dovecot, Fail2ban, path units) holds inotify
 * instances, all counted against root's per-user limit, which Debian sets to 128 and which
 * the rest of the machine shares. Run out, and units fail at boot ("Failed to allocate
 * inotify fd: Too many open files"): reproduced here by holding 112 instances during `up`.
 * Raise it for the lab's lifetime; `down` puts the old value back.
 */
export const LAB_INOTIFY_INSTANCES = 1024;
const INOTIFY_SYSCTL = "/proc/sys/fs/inotify/max_user_instances";

export function ensureInotifyLimit(run: RunState): { was: number; now: number; error?: string } {
  const was = Number(readFileSync(INOTIFY_SYSCTL, "utf8").trim());
  if (was >= LAB_INOTIFY_INSTANCES) return { was, now: was };
  try {
    writeFileSync(INOTIFY_SYSCTL, `${LAB_INOTIFY_INSTANCES}\n`);
  } catch (e) {
    // a read-only /proc/sys (some sandboxes): go on; a VM that fails to boot says why
    return { was, now: was, error: (e as Error).message };
  }
  run.inotifyRaisedFrom ??= was;
  return { was, now: LAB_INOTIFY_INSTANCES };
}

export function restoreInotifyLimit(run: RunState): void {
  if (run.inotifyRaisedFrom === undefined) return;
  writeFileSync(INOTIFY_SYSCTL, `${run.inotifyRaisedFrom}\n`);
  delete run.inotifyRaisedFrom;
}

/**
 * On this machine's cgroup v1 hybrid host, systemd in a VM now and then fails to attach a boot
 * unit to its cgroup ("Failed to attach to cgroup ...: No such file or directory", status
 * 219/CGROUP). When that unit is systemd-user-sessions.service, /run/nologin stays and SSH
 * refuses the login user until a reboot (seen twice in one CI run: 90 s lost each time).
 * Start the unit again from inside (nsenter, no SSH needed); a second attach normally works.
 * Only that failure is repaired: anything else (the lab's own nologin fault injection among
 * them) still goes through the reboot from a fresh copy.
 */
async function repairUserSessions(name: string, run: RunState): Promise<boolean> {
  const init = vmInitPid(run.vms[name]?.pid);
  if (!init) return false;
  const script = "test -e /run/nologin && systemctl is-failed -q systemd-user-sessions.service && systemctl restart systemd-user-sessions.service && ! test -e /run/nologin && echo repaired";
  const r = await $({ nothrow: true, timeout: 15_000 })`nsenter -t ${init} -m -u -i -n -p -- sh -c ${script}`;
  return r.stdout.trim() === "repaired";
}

/** Wait for SSH, then for systemd to finish booting (running or degraded). */
// MAILSTEAD_LAB_BOOT_TIMEOUT_S: the lifecycle test's injected failed boot waits this long, not 90 s.
export async function waitReady(h: HostDef, run: RunState, timeoutMs = Number(process.env.MAILSTEAD_LAB_BOOT_TIMEOUT_S || 90) * 1000): Promise<{ sshSeconds: number; state: string; failed: string }> {
  const t0 = performance.now();
  const vm = run.vms[h.name];
  const detail = () => `tail of ${consolePath(h.name)}:\n${tail(consolePath(h.name), 25)}`;
  let repairs = 0;
  try {
    await waitFor(`SSH on ${h.name} (${h.address})`, timeoutMs, async () => {
      if (vm && !pidAlive(vm.pid)) throw new LabError(`${h.name}: systemd-nspawn (pid ${vm.pid}) exited during boot\n${detail()}`);
      const r = await $({ nothrow: true, timeout: 5000 })`ssh ${sshArgs(h)} true`;
      if (r.exitCode !== 0 && repairs < 2 && performance.now() - t0 > 3000 && (await repairUserSessions(h.name, run))) {
        repairs++;
        console.log(`[lab] ${h.name}: systemd-user-sessions.service failed at boot (cgroup attach, status 219/CGROUP) and left /run/nologin; started it again in place`);
        return false;
      }
      // the reason (refused, no route, permission denied) goes into "last error"
      if (r.exitCode !== 0) throw new Error(`ssh exit ${r.exitCode}: ${r.stderr.trim() || "(no message)"}`);
      return true;
    }, { detail });
  } catch (e) {
    if (e instanceof LabError) e.message += `\n${await vmDiagnostics(h.name, run)}`;
    throw e;
  }
  const sshSeconds = (performance.now() - t0) / 1000;
  const left = Math.max(10, Math.round((timeoutMs - (performance.now() - t0)) / 1000));
  const r = await sshRun(h, `timeout ${left} systemctl is-system-running --wait`, { nothrow: true, timeoutMs: (left + 5) * 1000 });
  const state = r.stdout.trim();
  if (state !== "running" && state !== "degraded") {
    throw new LabError(`${h.name}: systemd did not finish booting (is-system-running: "${state || r.stderr.trim()}")\n${detail()}\n${await vmDiagnostics(h.name, run)}`);
  }
  let failed = "";
  if (state === "degraded") failed = (await sshRun(h, "systemctl --failed --no-legend --plain", { nothrow: true })).stdout.trim();
  return { sshSeconds, state, failed };
}

/** Remove a memory cgroup and everything below it, deepest first. */
async function removeCgroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const all: string[] = [];
  const walk = (d: string) => {
    all.push(d);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  all.sort((a, b) => b.split("/").length - a.split("/").length);
  for (const d of all) {
    for (let i = 0; ; i++) {
      try {
        rmdirSync(d);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") break;
        if (i >= 50) throw new LabError(`cannot remove memory cgroup ${d}: ${(e as Error).message}`);
        await sleep(100);
      }
    }
  }
}

/** PIDs in a memory cgroup and all its children (the VM's processes: they are all ours). */
function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    try {
      for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (l.trim()) pids.push(Number(l));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      /* vanished */
    }
  };
  if (existsSync(dir)) walk(dir);
  return pids;
}

/**
 * Orderly halt: SIGTERM to nspawn, which sends SIGRTMIN+3 to the VM's systemd. Once the VM
 * reports "Reached target halt.target" (every unit stopped) or after the grace time, SIGKILL
 * what is left in the VM's memory cgroup (trixie's systemd on this cgroup-v1 host never leaves
 * the final stage by itself).
 */
async function haltVm(vm: RunState["vms"][string], graceMs: number): Promise<"gone" | "stopped" | "killed"> {
  if (!pidAlive(vm.pid, NSPAWN)) {
    if (cgroupPids(vm.memcg).length === 0) return "gone";
  } else {
    const offset = existsSync(vm.console) ? readFileSync(vm.console).length : 0;
    try {
      process.kill(vm.pid, "SIGTERM");
    } catch {
      /* gone */
    }
    const deadline = Date.now() + graceMs;
    let haltedAt = 0;
    while (Date.now() < deadline && pidAlive(vm.pid)) {
      if (!haltedAt && existsSync(vm.console) && readFileSync(vm.console).subarray(offset).includes("Reached target halt.target")) haltedAt = Date.now();
      if (haltedAt && Date.now() - haltedAt > 1500) break;
      await sleep(100);
    }
    if (!pidAlive(vm.pid) && cgroupPids(vm.memcg).length === 0) return "stopped";
  }
  for (let i = 0; i < 50; i++) {
    const pids = cgroupPids(vm.memcg);
    if (pidAlive(vm.pid)) pids.push(vm.pid);
    if (pids.length === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sleep(100);
  }
  return "killed";
}

/** Stop a VM (orderly, bounded), remove its memory cgroups deepest first, delete its root filesystem. */
export async function stopVm(name: string, run: RunState, opts: { keepRootfs?: boolean; graceMs?: number } = {}): Promise<string> {
  const vm = run.vms[name];
  const how = vm ? await haltVm(vm, opts.graceMs ?? 20_000) : "gone";
  if (vm?.memcg) await removeCgroup(vm.memcg);
  if (!opts.keepRootfs) await removeTree(vm?.rootfs ?? rootfsPath(name));
  delete run.vms[name];
  return how;
}

export function vmAlive(name: string, run: RunState): boolean {
  return pidAlive(run.vms[name]?.pid, NSPAWN);
}

export { removeCgroup };
