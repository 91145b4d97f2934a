/**
 * Orchestration: up / down / status / recreate, plus the files tests consume
 * (lab.json, inventory.yml, known_hosts). The CLI (cli.ts) and ensureLab() (index.ts) call these.
 */
import { chmodSync, closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import YAML from "yaml";
import { $, LabError, Timings, pidAlive, sleep } from "./util.ts";
import { REPO_ROOT, ensureDir, paths, readRunState, writeLabState, writeRunState, type LabState, type RunState } from "./state.ts";
import { HOSTS, LAB_NET, findHost, fqdn, labZones, selectHosts, labCertbotVars, type HostDef, type LabOs } from "./hosts.ts";
import { ensureImage, LOGIN_USER, removeTree, type ImageResult } from "./images.ts";
import { APT_PROXY, bridgeExists, deleteBridge, disableIpv6OnPorts, ensureAptCacher, ensureBridge, stopAptCacher } from "./network.ts";
import { DNS_PORT, ensureKnot, stopKnot, tsigKeys } from "./dns.ts";
import { ACME_DIRECTORY, acmePaths, ensurePebble, stopPebble } from "./acme.ts";
import { labMailUsers } from "./mailusers.ts";
import { ensureInotifyLimit, ensureSshKey, killLeftovers, prepareRootfs, removeCgroup, restoreInotifyLimit, rootfsPath, startVm, stopVm, vmAlive, waitReady } from "./vm.ts";

// ---- a simple lock so concurrent `up`s (e.g. two test runners) do not race -------------------

async function withLock<T>(fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  ensureDir(paths.state);
  const lock = join(paths.state, "lock");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = Number(readFileSync(lock, "utf8").trim());
      if (!pidAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new LabError(`lab is locked by pid ${holder} (${lock}) for too long`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new LabError("the lab needs root (bridge, cgroups, systemd-nspawn): run it as root");
}

// ---- generated files -------------------------------------------------------------------------

/** known_hosts from the public host keys in each VM's root filesystem (no network trust needed). */
function writeKnownHosts(run: RunState): void {
  const lines: string[] = [];
  for (const h of HOSTS) {
    const vm = run.vms[h.name];
    if (!vm) continue;
    for (const t of ["ed25519", "ecdsa", "rsa"]) {
      const f = join(vm.rootfs, `etc/ssh/ssh_host_${t}_key.pub`);
      if (!existsSync(f)) continue;
      const [type, key] = readFileSync(f, "utf8").trim().split(/\s+/);
      if (type && key) lines.push(`${h.address} ${type} ${key}`);
    }
  }
  writeFileSync(paths.knownHosts, lines.join("\n") + "\n");
}

function upHosts(run: RunState): HostDef[] {
  return HOSTS.filter((h) => run.vms[h.name]);
}

/**
 * certbot settings for a host the table marks `certbot`: Pebble's directory and a
 * CA bundle of Pebble's HTTPS CA (certbot talks to it) plus its current issuing
 * root (the served chain verifies to it). Pebble makes a new root on every start;
 * the inventory is rewritten by every `up`, so the bundle follows.
 */

/**
 * Backups in the lab: every mail host backs up over SFTP to the backup target (`vault`), each
 * into its own repository, with the lab's backup key and the target's host keys. The password
 * and the key are secrets: they go to the lab's secrets file (mode 600), made once and kept, so
 * a repository on a target that survived stays readable.
 */
function backupSetup(hosts: HostDef[]): { vars: (h: HostDef) => Record<string, unknown>; secrets: Record<string, string> } {
  const target = hosts.find((h) => h.backupTarget);
  if (!target || !existsSync(paths.backupKey)) return { vars: () => ({}), secrets: {} };
  const hostKeys: string[] = [];
  for (const t of ["ed25519", "ecdsa"]) {
    const f = join(rootfsPath(target.name), `etc/ssh/ssh_host_${t}_key.pub`);
    if (!existsSync(f)) continue;
    const [type, key] = readFileSync(f, "utf8").trim().split(/\s+/);
    if (type && key) hostKeys.push(`${target.address} ${type} ${key}`);
  }
  // One password for the lab's repositories (each host has its own repository), under `vars`:
  // the tests' inventories of a single host keep working with the same secrets.
  const old = labSecrets();
  const secrets = {
    backup_password: old.backup_password ?? randomBytes(24).toString("base64url"),
    backup_sftp_key: readFileSync(paths.backupKey, "utf8"),
  };
  return {
    vars: (h) =>
      h.group === "mail"
        ? { backup_enabled: true, backup_repository: `sftp:${LOGIN_USER}@${target.address}:/srv/restic/${h.name}`, backup_sftp_known_hosts: hostKeys }
        : {},
    secrets,
  };
}

/** The webmail's idle period in the lab: short, so the tests see PHP stop (the default is 300 s). */
export const LAB_WEBMAIL_IDLE_SECONDS = 30;

/** The lab's secrets (the `vars` of its secrets file): a test that writes its own inventory writes them beside it. */
export function labSecrets(): Record<string, string> {
  if (!existsSync(paths.secrets)) return {};
  return ((YAML.parse(readFileSync(paths.secrets, "utf8")) ?? {}) as { vars?: Record<string, string> }).vars ?? {};
}

function writeInventory(hosts: HostDef[]): void {
  const backups = backupSetup(hosts);
  writeFileSync(paths.secrets, `# generated by the lab; do not edit (throwaway lab secrets)\n${YAML.stringify({ vars: backups.secrets })}`, { mode: 0o600 });
  chmodSync(paths.secrets, 0o600);
  const users = labMailUsers(hosts);
  const pem = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");
  const certbotVars = (h: HostDef) => (h.certbot && pem(acmePaths.serverCa) && pem(acmePaths.rootCa) ? labCertbotVars(h, ACME_DIRECTORY, pem(acmePaths.serverCa), pem(acmePaths.rootCa)) : {});
  const mailVars = (h: HostDef) => {
    const list = users.filter((u) => u.host === h.name);
    return list.length ? { mailbox_users: list.map((u) => ({ name: u.name, password_hash: u.hash })) } : {};
  };
  // The watchdog's alerts go to a mailbox on the other mail host: a server's own trouble must not
  // keep its alert in it (and the test reads it there while this host's Dovecot is down).
  const adminVars = (h: HostDef) => {
    const other = hosts.find((o) => o.group === "mail" && o.name !== h.name);
    const u = other && users.find((x) => x.host === other.name);
    return h.group === "mail" && other && u ? { status_admin_email: `${u.name}@${other.domain}` } : {};
  };
  const inv = {
    // The lab host runs converges and opens many SSH connections: it is the admin.
    // Only Pebble issues certificates in the lab: hosts the table does not mark keep the self-signed one.
    // Mail authentication in the lab: OpenDKIM's libunbound must not answer the special-use
    // .test TLD itself; verify.ts's DNSBL and outbound probes stay inside the lab.
    vars: {
      firewall_admin_addresses: [LAB_NET.address],
      certbot_mode: "none",
      opendkim_unbound_nodefault_zones: ["test"],
      dns_dnsbl_zones: ["bl.example.net"],
      dns_outbound_probe_domain: "example.net",
    },
    hosts: Object.fromEntries(
      hosts.map((h) => [
        h.name,
        {
          address: h.address,
          ssh: { user: LOGIN_USER, port: 22, key: paths.sshKey, known_hosts: paths.knownHosts },
          vars: { base_hostname: h.name, base_domain: h.domain, ...mailVars(h), ...certbotVars(h), ...(h.web ? { web_enabled: true, webmail_enabled: true, webmail_idle_stop_seconds: LAB_WEBMAIL_IDLE_SECONDS } : {}), ...backups.vars(h), ...adminVars(h) },
        },
      ]),
    ),
    groups: Object.fromEntries(
      (["mail", "clients"] as const)
        .map((g) => [g, { hosts: hosts.filter((h) => h.group === g).map((h) => h.name) }] as const)
        .filter(([, v]) => v.hosts.length > 0),
    ),
  };
  const doc = new YAML.Document(inv, { aliasDuplicateObjects: false });
  for (const g of Object.keys(inv.groups)) {
    const seq = doc.getIn(["groups", g, "hosts"], true);
    if (YAML.isSeq(seq)) seq.flow = true;
  }
  writeFileSync(paths.inventory, `# generated by the lab; do not edit\n${doc.toString({ flowCollectionPadding: false })}`);
}

function buildLabState(hosts: HostDef[]): LabState {
  return {
    version: 1,
    bridge: { name: LAB_NET.bridge, address: LAB_NET.address, cidr: LAB_NET.cidr },
    hosts: hosts.map((h) => ({
      name: h.name,
      address: h.address,
      os: h.os,
      user: LOGIN_USER,
      sshKey: paths.sshKey,
      knownHosts: paths.knownHosts,
      fqdn: fqdn(h),
      domain: h.domain,
    })),
    dns: { server: LAB_NET.address, port: DNS_PORT, zones: labZones(), tsig: tsigKeys() },
    acme: { directory: ACME_DIRECTORY, rootCa: acmePaths.rootCa, serverCa: acmePaths.serverCa },
    inventory: paths.inventory,
    mail: { users: labMailUsers(hosts).map(({ host, address, password }) => ({ host, address, password })) },
    aptProxy: APT_PROXY,
    updatedAt: new Date().toISOString(),
  };
}

function writeOutputs(run: RunState): LabState {
  const hosts = upHosts(run);
  writeKnownHosts(run);
  writeInventory(hosts);
  const s = buildLabState(hosts);
  writeLabState(s);
  return s;
}

// ---- up ----------------------------------------------------------------------------------------

export interface UpOptions {
  os?: LabOs[];
  rebuild?: boolean;
  quiet?: boolean;
}

async function hostPackages(): Promise<void> {
  const script = join(REPO_ROOT, "scripts/lab-host-packages.sh");
  const r = await $({ nothrow: true })`bash ${script}`;
  if (r.exitCode !== 0) throw new LabError(`host packages: ${script} failed:\n${r.stdout}${r.stderr}`);
}

type Ready = { state: string; failed: string; sshSeconds: number };

/** Stop whatever runs for these hosts and give each a fresh copy of its image. */
async function freshRootfs(hosts: HostDef[], run: RunState, opts: { fault?: boolean } = {}): Promise<void> {
  for (const h of hosts) if (run.vms[h.name]) await stopVm(h.name, run);
  for (const h of hosts) {
    const n = await killLeftovers(h.name);
    if (n) console.log(`[lab] ${h.name}: killed ${n} leftover process(es) of an earlier lab`);
  }
  await Promise.all(hosts.map((h) => prepareRootfs(h, { fault: opts.fault ?? true })));
}

/**
 * Boot the given hosts (fresh copies) in parallel and wait until they are ready. A VM
 * that does not come up is booted once more from a fresh copy, after its diagnostics
 * are printed (a boot can fail for reasons outside the lab: the machine's inotify or
 * cgroup state); a second failure is an error.
 */
async function bootHosts(hosts: HostDef[], run: RunState, t: Timings): Promise<Record<string, Ready>> {
  if (hosts.length === 0) return {};
  await t.phase(`copy+personalise ${hosts.map((h) => h.name).join(",")}`, () => freshRootfs(hosts, run));
  // start, record, and trust the copies' new host keys
  const start = (list: HostDef[]) => {
    for (const h of list) startVm(h, run);
    writeRunState(run);
    writeKnownHosts(run);
  };
  return t.phase(`boot ${hosts.map((h) => h.name).join(",")}`, async () => {
    start(hosts);
    const res = await Promise.all(
      hosts.map(async (h) => {
        try {
          return [h.name, await waitReady(h, run)] as const;
        } catch (e) {
          if (!(e instanceof LabError)) throw e;
          console.log(`[lab] ${h.name} did not come up; booting it once more from a fresh copy. What was seen:\n${e.message}`);
          await freshRootfs([h], run, { fault: false });
          start([h]);
          return [h.name, await waitReady(h, run)] as const;
        }
      }),
    );
    disableIpv6OnPorts();
    return Object.fromEntries(res);
  });
}

export async function up(opts: UpOptions = {}): Promise<LabState> {
  requireRoot();
  return withLock(async () => {
    const t = new Timings();
    const run = readRunState();
    const hosts = selectHosts(opts.os);
    if (hosts.length === 0) throw new LabError(`no lab host runs ${opts.os?.join(",")}`);
    await t.phase("host packages", hostPackages);
    await t.phase("ssh key", ensureSshKey);
    const oses = [...new Set(hosts.map((h) => h.os))];
    const images: ImageResult[] = await t.phase(`images ${oses.join(",")}`, () => Promise.all(oses.map((os) => ensureImage(os, { rebuild: opts.rebuild }))));
    const rebuilt = new Set(images.filter((i) => i.built).map((i) => i.os));
    await t.phase("bridge", () => ensureBridge(run));
    const limit = await t.phase("inotify limit", async () => ensureInotifyLimit(run));
    if (limit.error) console.log(`[lab] fs.inotify.max_user_instances ${limit.was} (could not raise it: ${limit.error})`);
    else if (limit.now !== limit.was) console.log(`[lab] fs.inotify.max_user_instances ${limit.was} -> ${limit.now} (restored by down)`);
    writeRunState(run);
    let svc: string[] = [];
    try {
      svc = await t.phase("apt-cacher-ng, knot, pebble", async () => {
        const [a, k] = await Promise.all([ensureAptCacher(run), ensureKnot(run)]);
        const p = await ensurePebble(run);
        return [`apt-cacher-ng ${a}`, `knot ${k}`, `pebble ${p}`];
      });
    } finally {
      writeRunState(run);
    }
    let reuse: HostDef[] = [];
    const fresh: HostDef[] = [];
    for (const h of hosts) {
      if (vmAlive(h.name, run) && existsSync(rootfsPath(h.name)) && !rebuilt.has(h.os)) reuse.push(h);
      else fresh.push(h);
    }
    let ready: Record<string, Ready> = {};
    try {
      if (reuse.length) {
        writeKnownHosts(run);
        // a running VM that does not answer is booted again from a fresh copy, not reused
        const stale: HostDef[] = [];
        ready = await t.phase(`check running ${reuse.map((h) => h.name).join(",")}`, async () => {
          const r: Record<string, Ready> = {};
          await Promise.all(
            reuse.map(async (h) => {
              try {
                r[h.name] = await waitReady(h, run, 20_000);
              } catch (e) {
                if (!(e instanceof LabError)) throw e;
                console.log(`[lab] running ${h.name} does not answer; booting it again. What was seen:\n${e.message}`);
                stale.push(h);
              }
            }),
          );
          return r;
        });
        fresh.push(...stale);
        reuse = reuse.filter((h) => !stale.includes(h));
        disableIpv6OnPorts();
      }
      Object.assign(ready, await bootHosts(fresh, run, t));
    } finally {
      writeRunState(run);
    }
    const state = writeOutputs(run);
    if (!opts.quiet) printSummary(state, run, t, svc, images, reuse, ready);
    return state;
  });
}

function printSummary(
  s: LabState,
  run: RunState,
  t: Timings,
  svc: string[],
  images: ImageResult[],
  reuse: HostDef[],
  ready: Record<string, { state: string; failed: string; sshSeconds: number }>,
): void {
  const out: string[] = [];
  out.push(`lab is up (${t.total().toFixed(1)} s)`);
  out.push(`images: ${images.map((i) => `${i.os} ${i.built ? `built in ${i.seconds.toFixed(0)} s` : "cached"}`).join(", ")}`);
  out.push(`services on ${s.bridge.address} (${s.bridge.name}): ${svc.join(", ")}`);
  out.push("hosts:");
  for (const h of s.hosts) {
    const r = ready[h.name];
    const how = reuse.some((x) => x.name === h.name) ? "reused" : "fresh";
    out.push(`  ${h.name.padEnd(9)} ${h.address.padEnd(14)} ${h.os.padEnd(9)} ${h.fqdn.padEnd(22)} ${how}, systemd ${r?.state ?? "?"}${r?.failed ? ` (failed: ${r.failed.replace(/\n/g, "; ")})` : ""}, pid ${run.vms[h.name]?.pid}`);
  }
  out.push(`dns: ${s.dns.server}:${s.dns.port} zones ${s.dns.zones.join(" ")}`);
  out.push(`acme: ${s.acme.directory}  (server CA ${s.acme.serverCa}, issuing root ${s.acme.rootCa})`);
  out.push(`state: ${paths.labJson}`);
  out.push(`inventory: ${s.inventory}`);
  out.push(`ssh: npm run lab -- ssh mx1   (or ssh -i ${paths.sshKey} -o UserKnownHostsFile=${paths.knownHosts} ${LOGIN_USER}@${s.hosts[0]?.address ?? LAB_NET.address})`);
  out.push("timings:");
  out.push(t.format());
  console.log(out.join("\n"));
}

// ---- recreate ----------------------------------------------------------------------------------

/** Destroy one VM and bring it back fresh from its image (new host keys, new machine-id). */
export async function recreate(name: string): Promise<{ seconds: number; state: LabState }> {
  requireRoot();
  const h = findHost(name);
  return withLock(async () => {
    const t = new Timings();
    const run = readRunState();
    if (!bridgeExists() || !pidAlive(run.knot?.pid, "knotd")) throw new LabError("the lab is not up: run `npm run lab -- up` first");
    await t.phase(`images ${h.os}`, () => ensureImage(h.os));
    await t.phase(`stop ${name}`, () => stopVm(name, run));
    writeRunState(run);
    try {
      const r = await bootHosts([h], run, t);
      const ready = r[name];
      console.log(`${name} recreated (systemd ${ready?.state}${ready?.failed ? `, failed: ${ready.failed}` : ""})`);
    } finally {
      writeRunState(run);
    }
    const state = writeOutputs(run);
    console.log(t.format());
    return { seconds: t.total(), state };
  });
}

/**
 * Reboot one VM: an orderly halt, then a boot of the same root filesystem
 * (what survives is what a real reboot keeps: files, enabled units).
 */
export async function reboot(name: string): Promise<{ seconds: number }> {
  requireRoot();
  const h = findHost(name);
  return withLock(async () => {
    const t = new Timings();
    const run = readRunState();
    if (!run.vms[name]) throw new LabError(`${name} is not running: run \`npm run lab -- up\` first`);
    await t.phase(`halt ${name}`, () => stopVm(name, run, { keepRootfs: true }));
    writeRunState(run);
    try {
      await t.phase(`boot ${name}`, async () => {
        startVm(h, run);
        writeRunState(run);
        await waitReady(h, run);
        disableIpv6OnPorts();
      });
    } finally {
      writeRunState(run);
    }
    console.log(t.format());
    return { seconds: t.total() };
  });
}

// ---- down --------------------------------------------------------------------------------------

export async function down(): Promise<void> {
  requireRoot();
  await withLock(async () => {
    const t = new Timings();
    const run = readRunState();
    const names = Object.keys(run.vms);
    // keep going on errors so one stuck piece does not leave the rest running; report them at the end
    const errors: string[] = [];
    const attempt = async <T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
        return fallback;
      }
    };
    const vmResults = await t.phase(`stop VMs${names.length ? ` ${names.join(",")}` : ""}`, () =>
      Promise.all(names.map((n) => attempt(`stop ${n}`, async () => `${n} ${await stopVm(n, run)}`, `${n} FAILED`))),
    );
    writeRunState(run);
    await t.phase("memory cgroups", () =>
      attempt("memory cgroups", async () => {
        if (run.memcgParent && Object.keys(run.vms).length === 0) {
          await removeCgroup(run.memcgParent);
          delete run.memcgParent;
        }
      }, undefined),
    );
    const svc = await t.phase("pebble, knot, apt-cacher-ng", async () => [
      `pebble ${await attempt("pebble", () => stopPebble(run), "FAILED")}`,
      `knot ${await attempt("knot", () => stopKnot(run), "FAILED")}`,
      `apt-cacher-ng ${await attempt("apt-cacher-ng", () => stopAptCacher(run), "FAILED")}`,
    ]);
    writeRunState(run);
    const br = await t.phase("bridge", () => attempt("bridge", () => deleteBridge(run), false));
    if (Object.keys(run.vms).length === 0) await attempt("inotify limit", async () => restoreInotifyLimit(run), undefined);
    if (!bridgeExists()) delete run.bridge;
    if (Object.keys(run.vms).length === 0) await t.phase("VM root filesystems", () => attempt("VM root filesystems", () => removeTree(paths.vms), undefined));
    if (errors.length) {
      writeRunState(run);
      throw new LabError(`down did not finish (run it again after fixing):\n  ${errors.join("\n  ")}`);
    }
    for (const f of [paths.labJson, paths.inventory, paths.knownHosts, paths.runJson]) rmSync(f, { force: true });
    console.log(
      [
        "lab is down",
        `VMs: ${vmResults.length ? vmResults.join(", ") : "none running"}`,
        `services: ${svc.join(", ")}`,
        `bridge ${LAB_NET.bridge}: ${br ? "deleted" : "not present (or not ours)"}`,
        `kept: cached images in ${paths.images}, apt cache in ${paths.acngCache}, keys in ${paths.state}`,
        "timings:",
        t.format(),
      ].join("\n"),
    );
  });
}

// ---- status ------------------------------------------------------------------------------------

export interface LabStatus {
  up: boolean;
  bridge: boolean;
  services: Record<"aptCacherNg" | "knot" | "pebble", { pid?: number; alive: boolean }>;
  hosts: { name: string; address: string; os: LabOs; pid?: number; alive: boolean }[];
}

export function status(): LabStatus {
  const run = readRunState();
  const svc = (pid: number | undefined, exe: string) => ({ pid, alive: pidAlive(pid, exe) });
  const services = {
    aptCacherNg: svc(run.aptCacherNg?.pid, "apt-cacher-ng"),
    knot: svc(run.knot?.pid, "knotd"),
    pebble: svc(run.pebble?.pid, "pebble"),
  };
  const hosts = HOSTS.filter((h) => run.vms[h.name]).map((h) => ({ name: h.name, address: h.address, os: h.os, pid: run.vms[h.name]?.pid, alive: vmAlive(h.name, run) }));
  const bridge = bridgeExists();
  const upNow = bridge && Object.values(services).every((s) => s.alive) && hosts.length > 0 && hosts.every((h) => h.alive) && existsSync(paths.labJson);
  return { up: upNow, bridge, services, hosts };
}

export function formatStatus(s: LabStatus): string {
  const a = (b: boolean) => (b ? "up" : "DOWN");
  return [
    `lab: ${s.up ? "up" : "not (fully) up"}`,
    `bridge ${LAB_NET.bridge}: ${a(s.bridge)}`,
    ...Object.entries(s.services).map(([k, v]) => `${k}: ${a(v.alive)}${v.pid ? ` (pid ${v.pid})` : ""}`),
    ...(s.hosts.length ? s.hosts.map((h) => `${h.name} ${h.address} ${h.os}: ${a(h.alive)}${h.pid ? ` (pid ${h.pid})` : ""}`) : ["no VMs"]),
  ].join("\n");
}

