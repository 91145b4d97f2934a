import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/** A systemd memory size. */
const size = { type: "string", pattern: "^[1-9][0-9]{0,5}[KMG]?$", "x-expected": "a size such as 256M (K, M or G)" } as const;

/** Settings of the `backup` role: daily encrypted restic snapshots of every role's state, off the host. */
export const backupDefaults = defineDefaults("backup", {
  backup_enabled: {
    default: false,
    why: "Off until a repository off this host is chosen (a second VM over SFTP, a REST server, object storage): a backup on the same instance dies with it. See docs/backup.md.",
    schema: { type: "boolean" },
  },
  backup_repository: {
    default: "",
    why: "Where restic keeps the snapshots: sftp:user@host:/path (any SSH host), rest:https://host:8000/path, s3:https://endpoint/bucket; a local path only with backup_allow_local (restic(1), docs/backup.md).",
    schema: { type: "string", maxLength: 1024, pattern: "^$|^(?:sftp:[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/[A-Za-z0-9._/-]*|rest:https?://[^\\s'\"\\\\]+|s3:https://[^\\s'\"\\\\]+|/[A-Za-z0-9._/-]+)$", "x-expected": "sftp:user@host:/path, rest:https://host/path, s3:https://endpoint/bucket, or an absolute path" },
  },
  backup_allow_local: {
    default: false,
    why: "A repository on the host's own disk is not off-site (lost with the VM): allowed only when asked for, and every run warns.",
    schema: { type: "boolean" },
  },
  backup_password: {
    format: formats.singleLine(),
    default: "",
    why: "The repository's encryption password; secret (secrets file or MAILSTEAD_SECRET_BACKUP_PASSWORD). Keep a copy off the host: without it no backup can be read, by design.",
    sensitive: true,
    schema: { type: "string", maxLength: 1024 },
  },
  backup_sftp_key: {
    default: "",
    why: "The private SSH key the host logs in to an sftp: repository with (made by the operator, its public half authorized on the target only for sftp); secret.",
    sensitive: true,
    schema: { type: "string", maxLength: 16384, pattern: "^$|^-----BEGIN OPENSSH PRIVATE KEY-----\\n[A-Za-z0-9+/=\\n]+-----END OPENSSH PRIVATE KEY-----\\n?$", "x-expected": "an OpenSSH private key (ssh-keygen -t ed25519)" },
  },
  backup_sftp_known_hosts: {
    default: [],
    why: "The sftp target's host keys (ssh-keyscan lines): the host never trusts a first-seen key, so a man in the middle gets no backup.",
    schema: { type: "array", items: { type: "string", pattern: "^[A-Za-z0-9.:\\[\\],*-]+ (?:ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/=]+$", "x-expected": "a known_hosts line such as `198.51.100.50 ssh-ed25519 AAAA...`" } },
  },
  backup_s3_access_key_id: {
    format: formats.singleLine(),
    default: "",
    why: "The access key of an s3: repository (on Oracle Cloud: a Customer Secret Key of a user allowed only this bucket); secret (secrets file or MAILSTEAD_SECRET_BACKUP_S3_ACCESS_KEY_ID).",
    sensitive: true,
    schema: { type: "string", maxLength: 256, pattern: "^[A-Za-z0-9+/=._-]*$", "x-expected": "an access key id (letters, digits, + / = . _ -)" },
  },
  backup_s3_secret_access_key: {
    format: formats.singleLine(),
    default: "",
    why: "The secret half of that key (shown once when the key is made); secret. The host keeps it at mode 600 and hands it to restic in its environment only.",
    sensitive: true,
    schema: { type: "string", maxLength: 256 },
  },
  backup_s3_region: {
    default: "",
    why: "The object store's region (restic -o s3.region), required for s3:: Oracle's S3 compatibility API signs per region (e.g. eu-frankfurt-1) and refuses requests signed for another.",
    schema: { type: "string", maxLength: 64, pattern: "^[a-z0-9-]*$", "x-expected": "a region such as eu-frankfurt-1" },
  },
  backup_s3_bucket_lookup: {
    default: "path",
    why: "How restic names the bucket (-o s3.bucket-lookup): path style (https://endpoint/bucket), the only style Oracle's S3 compatibility endpoint serves; dns or auto for stores that want bucket.endpoint.",
    schema: { enum: ["path", "dns", "auto"] },
  },
  backup_ca_bundle: {
    default: "",
    why: "PEM certificates restic trusts for a rest: or s3: endpoint with a private CA (a self-signed rest-server, the lab's stand-in; restic --cacert). Empty: the system store, right for Oracle and any public endpoint.",
    schema: { type: "string", maxLength: 65536, pattern: "^$|^-----BEGIN CERTIFICATE-----[\\s\\S]*-----END CERTIFICATE-----\\s*$", "x-expected": "PEM certificates (-----BEGIN CERTIFICATE----- ...) or empty" },
  },
  backup_keep_daily: {
    default: 30,
    why: "30 days of daily snapshots, the retention the mission asks for (restic forget --keep-daily).",
    schema: { type: "integer", minimum: 1, maximum: 3650 },
  },
  backup_on_calendar: {
    default: "*-*-* 03:30:00",
    why: "Once a day at night, when mail is quiet (systemd.time(7) calendar event).",
    schema: { type: "string", pattern: "^[A-Za-z0-9*:,./ ~-]{1,64}$", "x-expected": "a systemd calendar event such as daily or *-*-* 03:30:00" },
  },
  backup_drill_on_calendar: {
    default: "*-*-01 04:30:00",
    why: "Once a month the latest snapshot is restored into a scratch place and compared with the live mail (playbooks/drill.ts does the same now): a backup is proven by restoring it (systemd.time(7) calendar event).",
    schema: { type: "string", pattern: "^[A-Za-z0-9*:,./ ~-]{1,64}$", "x-expected": "a systemd calendar event such as monthly or *-*-01 04:30:00" },
  },
  backup_randomized_delay: {
    default: "30m",
    why: "Spread over half an hour so several hosts do not hit one repository at the same second (systemd.timer(5) RandomizedDelaySec).",
    schema: { type: "string", pattern: "^[0-9]+(s|min|m|h)?$", "x-expected": "a duration such as 30m" },
  },
  backup_memory_max: {
    default: "256M",
    why: "restic runs outside the mail budget in its own unit with its own cap, so a big first backup can never get a mail service killed (measured restic 0.14 peaks 58-96 MB with GOGC=20 GOMAXPROCS=1, docs/backup.md).",
    schema: size,
  },
  backup_gogc: {
    default: 20,
    why: "Go's garbage collector runs more often: restic's peak memory drops by about half for a little CPU (restic docs, 'Tuning memory usage').",
    schema: { type: "integer", minimum: 10, maximum: 200 },
  },
});
