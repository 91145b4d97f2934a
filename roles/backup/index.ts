/**
 * The backup role: a daily restic snapshot of every role's state (Role.state:
 * Maildirs, the user db, DKIM keys, certificates...) into an encrypted
 * repository off the host, 30 days kept. One script, mailstead-backup, runs in
 * its own unit outside the mail budget (its own memory cap): the timer's runs
 * and `playbooks/backup.ts` are the same run. A snapshot counts only when it
 * is complete (docs/backup.md: how a message renamed while it is read is kept
 * out of the count). Runs last, so the state of every role is declared.
 */
import { posix } from "node:path";
import { ref } from "../../lib/facts/types.js";
import { fileContent } from "../../lib/facts/files.js";
import { systemdUnit } from "../../lib/facts/system.js";
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole, type FlushStep, type StatePath, type Step } from "../../lib/role.js";
import type { VarsOf } from "../../lib/defaults.js";
import type { BaseVars } from "../base/index.js";
import { derived } from "../derived.js";
import { field } from "../../lib/text.js";
import { cmd } from "../../lib/shell.js";
import type { MailboxVars } from "../mailbox/model.js";
import { backupDefaults } from "./defaults.js";
import { MONIT_SOCKET, MONITRC } from "../status/paths.js";

export type BackupVars = VarsOf<typeof backupDefaults> & Pick<BaseVars, "base_hostname" | "base_domain"> & Pick<MailboxVars, "mailbox_root">;

export const CONF_DIR = "/etc/mailstead/backup";
export const STATE_DIR = "/var/lib/mailstead/backup";
export const CACHE_DIR = "/var/cache/mailstead/restic";
export const SCRIPT = "/usr/local/sbin/mailstead-backup";
export const SERVICE = "mailstead-backup.service";
export const TIMER = "mailstead-backup.timer";
/** The monthly restore drill (mailstead-backup --drill) and its record, read by drill.ts and the status checks. */
export const DRILL_SERVICE = "mailstead-drill.service";
export const DRILL_TIMER = "mailstead-drill.timer";
export const DRILL_RUN = `${STATE_DIR}/drill.json`;
/** What the last run left (result, snapshot, files, bytes added, start and end): backup.ts and the status checks read it. */
export const LAST_RUN = `${STATE_DIR}/last.json`;
/** backup_ca_bundle on the host: what restic --cacert trusts for a rest: or s3: endpoint. */
export const CA_FILE = `${CONF_DIR}/ca.pem`;
const UNITS = "/etc/systemd/system";
/** What a restore replaces is kept here (restore-<time>/<path>), never deleted. */
export const ASIDE_DIR = "/var/backups/mailstead";

export interface SftpTarget {
  user: string;
  host: string;
  path: string;
}

/** The parts of an sftp:user@host:/path repository; undefined for the other kinds. */
export function sftpTarget(repository: string): SftpTarget | undefined {
  const m = /^sftp:([^@]+)@([^:]+):(\/.*)$/.exec(repository);
  return m ? { user: m[1]!, host: m[2]!, path: m[3]! } : undefined;
}

/** The paths a backup holds: every declared state path that is not volatile, each once. */
export function backupPaths(state: StatePath[]): string[] {
  return [...new Set(state.filter((s) => !s.volatile).map((s) => s.path))].sort();
}

/** The snapshots' host name: the mail host's FQDN, so a rebuilt host keeps pruning its own history. */
export const hostTag = (v: Pick<BaseVars, "base_hostname" | "base_domain">) => derived(v).fqdn;

/** The extended options restic needs for this repository (s3: region and bucket style), in order. */
export function resticOptions(v: Pick<BackupVars, "backup_repository" | "backup_s3_region" | "backup_s3_bucket_lookup">): string[] {
  if (!v.backup_repository.startsWith("s3:")) return [];
  return [`s3.region=${v.backup_s3_region}`, `s3.bucket-lookup=${v.backup_s3_bucket_lookup}`];
}

/** restic's sftp: login: only this key, only the target's known key. */
export function sftpCommand(t: SftpTarget): string {
  return `ssh -i ${CONF_DIR}/ssh_key -o IdentitiesOnly=yes -o UserKnownHostsFile=${CONF_DIR}/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=30 ${t.user}@${t.host} -s sftp`;
}

export const backup = defineRole<BackupVars>({
  name: "backup",
  settings: backupDefaults,
  switch: {
    setting: "backup_enabled",
    // Off: no more scheduled runs; the repository, its snapshots and the settings on the host stay.
    off: () => [
      {
        title: `Stop the scheduled backups (backup_enabled is false)`,
        action: command({ run: `systemctl disable --now ${TIMER} ${DRILL_TIMER}`, onlyIf: `systemctl is-enabled --quiet ${TIMER} || systemctl is-active --quiet ${TIMER} || systemctl is-enabled --quiet ${DRILL_TIMER} || systemctl is-active --quiet ${DRILL_TIMER}` }),
      },
    ],
  },
  validate(v) {
    if (!v.backup_enabled) return [];
    const out = [];
    if (!v.backup_repository) out.push({ setting: "backup_repository", message: "backup_enabled is true but no repository is set", fix: "set backup_repository (sftp:user@host:/path to a second VM, rest:https://..., s3:https://...), or backup_enabled: false" });
    if (!v.backup_password) out.push({ setting: "backup_password", message: "backup_enabled is true but backup_password (a secret) is empty", fix: "put a long random backup_password in the secrets file (or MAILSTEAD_SECRET_BACKUP_PASSWORD) and keep a copy off the host" });
    if (v.backup_repository.startsWith("/") && !v.backup_allow_local) {
      out.push({ setting: "backup_repository", message: `${v.backup_repository} is on this host's own disk: it is lost with the VM`, fix: "use a repository on another machine (sftp:, rest:, s3:), or set backup_allow_local: true if you copy it off the host yourself" });
    }
    if (v.backup_repository.startsWith("/") && v.backup_allow_local && (v.backup_repository === v.mailbox_root || v.backup_repository.startsWith(`${v.mailbox_root}/`))) {
      out.push({ setting: "backup_repository", message: `${v.backup_repository} is inside mailbox_root: the backup would back itself up`, fix: "choose a path outside mailbox_root" });
    }
    if (v.backup_repository.startsWith("s3:")) {
      const get = "on Oracle Cloud: Profile > Customer secret keys > Generate (docs/backup.md)";
      if (!v.backup_s3_access_key_id) out.push({ setting: "backup_s3_access_key_id", message: "an s3: repository needs an access key (a secret)", fix: `put the key's access key id in the secrets file as backup_s3_access_key_id (${get})` });
      if (!v.backup_s3_secret_access_key) out.push({ setting: "backup_s3_secret_access_key", message: "an s3: repository needs the access key's secret", fix: `put it in the secrets file as backup_s3_secret_access_key (${get})` });
      if (!v.backup_s3_region) out.push({ setting: "backup_s3_region", message: "an s3: repository needs its region: requests are signed for one", fix: "set backup_s3_region to the bucket's region (Oracle: the region in the endpoint's name, e.g. eu-frankfurt-1)" });
    } else if (v.backup_s3_access_key_id || v.backup_s3_secret_access_key) {
      out.push({ setting: "backup_s3_access_key_id", message: `S3 credentials are set but ${v.backup_repository || "the repository"} is not an s3: repository`, fix: "remove backup_s3_access_key_id and backup_s3_secret_access_key, or set backup_repository to s3:https://endpoint/bucket" });
    }
    if (v.backup_ca_bundle && !/^(rest|s3):https:/.test(v.backup_repository)) {
      out.push({ setting: "backup_ca_bundle", message: "backup_ca_bundle is only for a rest:https: or s3:https: repository", fix: "remove backup_ca_bundle (sftp: checks the target's host key instead)" });
    }
    if (sftpTarget(v.backup_repository)) {
      if (!v.backup_sftp_key) out.push({ setting: "backup_sftp_key", message: "an sftp: repository needs the SSH key the host logs in with (a secret)", fix: "make one with `ssh-keygen -t ed25519 -N '' -f backup_key`, authorize backup_key.pub on the target, and put the private key in the secrets file as backup_sftp_key" });
      if (!v.backup_sftp_known_hosts.length) out.push({ setting: "backup_sftp_known_hosts", message: "an sftp: repository needs the target's host key: the host never trusts a first-seen key", fix: "add the target's lines from `ssh-keyscan -t ed25519 <target>` (checked against the target's console) to backup_sftp_known_hosts" });
    }
    return out;
  },
  steps(ctx) {
    const v = ctx.vars;
    const sftp = sftpTarget(v.backup_repository);
    const paths = backupPaths(ctx.state);
    const unit = (name: string, template: string, vars: Record<string, unknown> = {}) =>
      ({ title: `Write ${name}`, action: file({ path: posix.join(UNITS, name), content: ctx.template(template, vars) }), notify: "daemon-reload" }) satisfies Step;
    const steps: (Step | FlushStep)[] = [
      { title: "Install restic and jq", action: apt.packages({ present: ["restic", "jq"] }) },
      { title: `Create ${CONF_DIR}`, action: directory({ path: CONF_DIR, owner: "root", group: "root", mode: "0700" }) },
      { title: `Create ${STATE_DIR}`, action: directory({ path: STATE_DIR, owner: "root", group: "root", mode: "0700" }) },
      { title: `Create ${CACHE_DIR}`, action: directory({ path: CACHE_DIR, owner: "root", group: "root", mode: "0700" }) },
      {
        title: `Write the repository password (${CONF_DIR}/password)`,
        action: file({ path: `${CONF_DIR}/password`, content: `${field(v.backup_password, "backup_password")}\n`, owner: "root", group: "root", mode: "0600", sensitive: true }),
        sensitive: true,
      },
      {
        title: `Write the paths to back up (${CONF_DIR}/paths)`,
        action: file({ path: `${CONF_DIR}/paths`, content: ctx.template("paths", { paths }) }),
      },
      {
        title: `Write what a snapshot leaves out (${CONF_DIR}/excludes)`,
        action: file({ path: `${CONF_DIR}/excludes`, content: ctx.template("excludes", { mailbox_root: v.mailbox_root }) }),
      },
    ];
    const s3 = v.backup_repository.startsWith("s3:");
    const s3Files = ["s3_access_key_id", "s3_secret_access_key"].map((n) => `${CONF_DIR}/${n}`);
    if (s3) {
      // The access key goes to restic in its environment, read from these files by the script:
      // never on a command line or in a unit file (readable by any user via ps / systemctl show).
      steps.push(
        {
          title: `Write the S3 access key id (${s3Files[0]})`,
          action: file({ path: s3Files[0]!, content: `${field(v.backup_s3_access_key_id, "backup_s3_access_key_id")}\n`, owner: "root", group: "root", mode: "0600", sensitive: true }),
          sensitive: true,
        },
        {
          title: `Write the S3 secret access key (${s3Files[1]})`,
          action: file({ path: s3Files[1]!, content: `${field(v.backup_s3_secret_access_key, "backup_s3_secret_access_key")}\n`, owner: "root", group: "root", mode: "0600", sensitive: true }),
          sensitive: true,
        },
      );
    } else {
      steps.push({ title: "Remove S3 credentials (not an s3: repository)", action: command({ run: cmd("rm", "-f", ...s3Files), onlyIf: s3Files.map((f) => cmd("test", "-e", f)).join(" || ") }) });
    }
    if (v.backup_ca_bundle) {
      steps.push({ title: `Write the CA restic trusts for the repository (${CA_FILE})`, action: file({ path: CA_FILE, content: v.backup_ca_bundle.replace(/\s*$/, "\n"), validate: "openssl x509 -in %s -noout" }) });
    }
    if (sftp) {
      steps.push(
        {
          title: `Write the SSH key for ${sftp.host} (${CONF_DIR}/ssh_key)`,
          action: file({ path: `${CONF_DIR}/ssh_key`, content: v.backup_sftp_key.endsWith("\n") ? v.backup_sftp_key : `${v.backup_sftp_key}\n`, owner: "root", group: "root", mode: "0600", sensitive: true }),
          sensitive: true,
        },
        { title: `Write ${sftp.host}'s host keys (${CONF_DIR}/known_hosts)`, action: file({ path: `${CONF_DIR}/known_hosts`, content: ctx.template("known_hosts") }) },
      );
    }
    steps.push(
      {
        title: `Install ${SCRIPT}`,
        action: file({
          path: SCRIPT,
          mode: "0755",
          validate: "sh -n %s",
          content: ctx.template("mailstead-backup.sh", {
            conf_dir: CONF_DIR,
            state_dir: STATE_DIR,
            cache_dir: CACHE_DIR,
            host_tag: hostTag(v),
            sftp_command: sftp ? sftpCommand(sftp) : "",
            restic_options: resticOptions(v),
            ca_file: v.backup_ca_bundle ? CA_FILE : "",
            mailbox_root: v.mailbox_root,
            aside_dir: ASIDE_DIR,
            // a restore pauses the watchdog (the status role's monit) while Dovecot is stopped
            monit_socket: MONIT_SOCKET,
            monitrc: MONITRC,
            local: v.backup_repository.startsWith("/"),
          }),
        }),
      },
      unit(SERVICE, "mailstead-backup.service", { script: SCRIPT, drill: false }),
      unit(TIMER, "mailstead-backup.timer", { drill: false }),
      unit(DRILL_SERVICE, "mailstead-backup.service", { script: `${SCRIPT} --drill`, drill: true }),
      unit(DRILL_TIMER, "mailstead-backup.timer", { drill: true }),
      { title: "Load the unit files", flush: true },
      { title: `Run backups on schedule (${TIMER})`, action: systemd.service({ name: TIMER, enabled: true, running: true }) },
      { title: `Run the restore drill on schedule (${DRILL_TIMER})`, action: systemd.service({ name: DRILL_TIMER, enabled: true, running: true }) },
    );
    return steps;
  },
  handlers: () => [{ name: "daemon-reload", action: systemd.daemonReload() }],
  verifyFacts: () => [ref(systemdUnit, TIMER), ref(systemdUnit, DRILL_TIMER), ref(fileContent, `${CONF_DIR}/paths`)],
  verify(ctx) {
    const t = ctx.fact(ref(systemdUnit, TIMER));
    const d = ctx.fact(ref(systemdUnit, DRILL_TIMER));
    const listed = (ctx.fact(ref(fileContent, `${CONF_DIR}/paths`)) ?? "").split("\n").filter((l) => l && !l.startsWith("#"));
    const want = backupPaths(ctx.state);
    return [
      { name: `${TIMER} is scheduled`, ok: t.unitFile === "enabled" && t.active === "active", detail: `${TIMER}: ${t.unitFile || "not installed"}, ${t.active}` },
      { name: `${DRILL_TIMER} is scheduled`, ok: d.unitFile === "enabled" && d.active === "active", detail: `${DRILL_TIMER}: ${d.unitFile || "not installed"}, ${d.active}` },
      { name: "every role's state is in the backup list", ok: want.every((p) => listed.includes(p)), detail: `missing: ${want.filter((p) => !listed.includes(p)).join(" ")}` },
    ];
  },
});
