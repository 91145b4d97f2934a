/**
 * Typed value formats. The JSON schema checks the shape of inventory values;
 * these check what a string *means* (an address, a CIDR, a path, an account
 * name...) so a value that would break a config file, widen the firewall or
 * clobber a system directory is refused when the inventory loads, before any
 * host is touched. Pure and dependency-free: Node's `net.isIP` and the WHATWG
 * `URL` are the only parsers.
 *
 * Every rule is one small function returning a {@link Reason} (what is wrong,
 * how to fix it); a format runs its rules in order and the first failure wins.
 * Regexes and sets are built once at module load: checking thousands of
 * mailbox addresses must stay in the low milliseconds.
 */
import { isIP } from "node:net";

export interface FormatContext {
  /** Merged vars of the host: lets a format read e.g. an `*_allow_wide` switch. */
  vars: Record<string, unknown>;
}

export interface Format {
  /** Name used in messages and docs, e.g. "cidr". */
  name: string;
  /** What a valid value looks like, one phrase ("an IPv4/IPv6 address or CIDR such as 203.0.113.0/24"). */
  expected: string;
  /**
   * `undefined` when fine; else `message` says what is wrong with THIS value
   * (quoted, shortened to 80 chars) and `fix` says how to correct it.
   */
  check(value: unknown, ctx: FormatContext): { message: string; fix: string } | undefined;
}

/** What a rule found wrong, without the quoted value (the format adds it). */
interface Reason {
  message: string;
  fix: string;
}

/** One rule over a string value; `undefined` when the value passes it. */
type Rule = (s: string, ctx: FormatContext) => Reason | undefined;

// ---------------------------------------------------------------------------
// Shared helpers

const SHOW_MAX = 80;

/** The value as JSON, at most 80 chars: messages must show the culprit without flooding the terminal. */
function show(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value); // BigInt, cycles
  }
  return s.length > SHOW_MAX ? `${s.slice(0, SHOW_MAX - 1)}…` : s;
}

/** A character named for a human: control characters and spaces are invisible in a message. */
function describeChar(ch: string): string {
  if (ch === "\n") return "a line break (\\n)";
  if (ch === "\r") return "a carriage return (\\r)";
  if (ch === "\t") return "a tab";
  if (ch === " ") return "a space";
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `a control character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
  if (code > 0x7e) return `the non-ASCII character ${JSON.stringify(ch)}`;
  return JSON.stringify(ch);
}

/** First character of `s` matched by the (non-global) `re`, or undefined. */
function firstMatch(s: string, re: RegExp): string | undefined {
  const m = re.exec(s);
  return m ? m[0] : undefined;
}

/** Run rules in order; the first failure wins (later rules may assume earlier ones passed). */
function firstReason(rules: readonly Rule[], s: string, ctx: FormatContext): Reason | undefined {
  for (const rule of rules) {
    const r = rule(s, ctx);
    if (r) return r;
  }
  return undefined;
}

/** Shortcut for a format's common case: true only for values that pass every rule (never the other way round). */
type FastAccept = (s: string) => boolean;

/**
 * Build a string format from its rules: non-strings are refused first,
 * messages are prefixed with the value. `fast`, when given, lets the bulk of
 * valid values (thousands of mailboxes) skip the rule chain; the rules stay
 * the reference and produce every message.
 */
function stringFormat(name: string, expected: string, rules: readonly Rule[], fast?: FastAccept): Format {
  return {
    name,
    expected,
    check(value, ctx) {
      if (typeof value !== "string") {
        const kind = value === null || value === undefined ? String(value) : Array.isArray(value) ? "a list" : typeof value === "object" ? "an object" : `a ${typeof value}`;
        return { message: `${show(value)} is ${kind}, not a string`, fix: `write ${expected}, quoted if YAML would read it otherwise` };
      }
      if (fast?.(value)) return undefined;
      const r = firstReason(rules, value, ctx);
      return r && { message: `${show(value)}: ${r.message}`, fix: r.fix };
    },
  };
}

/** Rule: the value is not empty — an empty string is never a meaningful name, address or path. */
function notEmpty(what: string): Rule {
  return (s) => (s === "" ? { message: "is empty", fix: `write ${what}` } : undefined);
}

/** Rule: at most `max` characters — protocol and kernel limits, and a cap on runaway input. */
function maxLength(max: number, what: string): Rule {
  return (s) => (s.length > max ? { message: `is ${s.length} characters long, more than the ${max} allowed for ${what}`, fix: `shorten it to ${max} characters or fewer` } : undefined);
}

const CONTROL_RE = /[\x00-\x1f\x7f]/;
const WHITESPACE_OR_CONTROL_RE = /[\s\x00-\x1f\x7f]/u;

/** Rule: no whitespace or control characters — a stray newline is how config injection starts. */
function noWhitespaceOrControl(what: string): Rule {
  return (s) => {
    const ch = firstMatch(s, WHITESPACE_OR_CONTROL_RE);
    return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}, not allowed in ${what}`, fix: "remove it (check for pasted line breaks or spaces)" };
  };
}

// ---------------------------------------------------------------------------
// IP addresses and CIDRs

const PREFIX_RE = /^(?:0|[1-9][0-9]*)$/;
/** Prefixes shorter than these cover a large part of the Internet: almost always a typo. */
const WIDE_BELOW = { 4: 8, 6: 32 } as const;
const MAX_PREFIX = { 4: 32, 6: 128 } as const;

/** Rule: no IPv6 zone id ("%eth0") — isIP accepts it, but firewall rules and config files do not. */
const noZoneId: Rule = (s) =>
  s.includes("%") ? { message: "has an IPv6 zone id (%...), which firewall rules and configs do not take", fix: "drop the %zone part" } : undefined;

/** Rule: a single address has no prefix — a CIDR where one host is meant would open a whole network. */
const noPrefix: Rule = (s) =>
  s.includes("/") ? { message: "has a /prefix, but a single address is expected", fix: `drop the prefix: ${show(s.slice(0, s.indexOf("/")))}` } : undefined;

/** Rule: net.isIP accepts it — Node's parser, so no home-grown address regex. */
const isIpAddress: Rule = (s) =>
  isIP(s) === 0 ? { message: "not an IPv4 or IPv6 address", fix: "write an address such as 198.51.100.7 or 2001:db8::7 (no leading zeros, no spaces)" } : undefined;

/** Rule: the address family a setting needs (an IPv6 address in an IPv4 setting, or the reverse). */
function ipFamily(family: 4 | 6): Rule {
  const other = family === 4 ? "IPv6" : "IPv4";
  return (s) =>
    isIP(s) !== 0 && isIP(s) !== family
      ? { message: `is not an IPv${family} address`, fix: `write the host's IPv${family} address here (an ${other} address belongs in its own setting)` }
      : undefined;
}

/** Rule: at most one "/" — "a/b/c" is no CIDR. */
const oneSlash: Rule = (s) =>
  s.indexOf("/") !== s.lastIndexOf("/") ? { message: "has more than one '/'", fix: "write address/prefix, e.g. 203.0.113.0/24" } : undefined;

/** The address part of a CIDR (everything before "/"). */
function cidrAddress(s: string): string {
  const i = s.indexOf("/");
  return i < 0 ? s : s.slice(0, i);
}

/** The prefix part of a CIDR, or undefined when there is none (a single address). */
function cidrPrefix(s: string): string | undefined {
  const i = s.indexOf("/");
  return i < 0 ? undefined : s.slice(i + 1);
}

/** Rule: the address part of a CIDR is an IP address. */
const cidrAddressIsIp: Rule = (s) => {
  const addr = cidrAddress(s);
  if (isIP(addr) !== 0) return undefined;
  const what = addr === s ? "is" : `address part ${show(addr)} is`;
  return { message: `${what} not an IPv4 or IPv6 address`, fix: "write an address or CIDR such as 203.0.113.0/24 or 2001:db8::/32 (no leading zeros, no spaces)" };
};

/** Rule: the prefix is a plain decimal integer — "/024" or "/+8" parse differently in different tools. */
const prefixIsInteger: Rule = (s) => {
  const p = cidrPrefix(s);
  return p !== undefined && !PREFIX_RE.test(p)
    ? { message: `prefix ${show(p)} is not a whole number without leading zeros`, fix: "write the prefix length as a plain number, e.g. /24" }
    : undefined;
};

/** Rule: the prefix fits the address family — /33 on IPv4 is an error, not "a single host". */
const prefixInRange: Rule = (s) => {
  const p = cidrPrefix(s);
  if (p === undefined) return undefined;
  const family = isIP(cidrAddress(s)) as 4 | 6;
  const max = MAX_PREFIX[family];
  return Number(p) > max ? { message: `prefix /${p} is more than ${max}, the maximum for IPv${family}`, fix: `use a prefix from 0 to ${max}` } : undefined;
};

/** Rule: not wider than /8 (IPv4) or /32 (IPv6) unless switched on — "0.0.0.0/0" in an allow list opens the host to everyone. */
/** Unique local (RFC 4193) and link-local (RFC 4291) IPv6 blocks. */
const LOCAL_V6: ReadonlySet<string> = new Set(["fc00::/7", "fd00::/8", "fe80::/10"]);

function notWide(allowWide: string | undefined): Rule {
  return (s, ctx) => {
    const p = cidrPrefix(s);
    if (p === undefined) return undefined;
    const family = isIP(cidrAddress(s)) as 4 | 6;
    const min = WIDE_BELOW[family];
    if (Number(p) >= min) return undefined;
    // IPv6's private blocks are wider than /32 by definition; they are the counterpart of 10.0.0.0/8.
    if (family === 6 && LOCAL_V6.has(`${cidrAddress(s).toLowerCase()}/${p}`)) return undefined;
    if (allowWide !== undefined && ctx.vars[allowWide] === true) return undefined;
    const what = p === "0" ? `covers every IPv${family} address` : `is wider than /${min}`;
    const fix = allowWide === undefined
      ? `use a prefix of /${min} or longer`
      : `use a prefix of /${min} or longer, or set ${allowWide}: true if you really mean it`;
    return { message: `/${p} ${what}`, fix };
  };
}

// ---------------------------------------------------------------------------
// Hostnames and mail domains (RFC 1123)

const HOST_MAX = 253;
const LABEL_MAX = 63;
const HOST_CHAR_BAD_RE = /[^A-Za-z0-9.-]/u;
const NUMERIC_TLD_RE = /\.[0-9]+$/u;
const LONG_LABEL_RE = /(?:^|\.)([^.]{64,})/u;
const HYPHEN_LABEL_RE = /(?:^|\.)(-[^.]*|[^.]*-)(?:\.|$)/u;

/** Rule: only letters, digits, '-' and '.' (RFC 1123); underscores get their own hint because SRV-style names tempt. */
function hostnameChars(what: string): Rule {
  return (s) => {
    const ch = firstMatch(s, HOST_CHAR_BAD_RE);
    if (ch === undefined) return undefined;
    if (ch === "_") return { message: `contains "_", not allowed in ${what} (RFC 1123)`, fix: "use '-' instead of '_'" };
    const fix = ch.codePointAt(0)! > 0x7e ? "write an internationalised name in its punycode form (xn--...)" : "use only letters, digits, '-' and '.'";
    return { message: `contains ${describeChar(ch)}, not allowed in ${what}`, fix };
  };
}

/** Rule: no trailing dot — the root dot is DNS-zone syntax, and Postfix/Dovecot/certbot treat "example.org." as a different name. */
const noTrailingDot: Rule = (s) =>
  s.endsWith(".") && s !== "." ? { message: "has a trailing dot", fix: `drop the trailing dot: ${show(s.replace(/\.+$/u, ""))}` } : undefined;

/** Rule: no empty label (leading dot or ".."). */
const noEmptyLabel: Rule = (s) =>
  s.startsWith(".") || s.includes("..") ? { message: "has an empty label (a leading dot or '..')", fix: "remove the extra dot" } : undefined;

/** Rule: at least two labels — a bare "mx" is not a name the world can resolve. */
const twoLabels: Rule = (s) =>
  !s.includes(".") ? { message: "is a single label, not a fully qualified name", fix: "write the full name, e.g. mx1.example.org" } : undefined;

/** Rule: each label 1-63 characters (RFC 1035 §2.3.4). */
const labelLength: Rule = (s) => {
  const m = LONG_LABEL_RE.exec(s);
  return m ? { message: `label ${show(m[1])} is longer than ${LABEL_MAX} characters`, fix: "shorten that label" } : undefined;
};

/** Rule: no label starts or ends with '-' (RFC 1123 §2.1); "xn--" punycode labels are fine. */
const labelHyphens: Rule = (s) => {
  const m = HYPHEN_LABEL_RE.exec(s);
  return m ? { message: `label ${show(m[1])} starts or ends with '-'`, fix: "remove the leading/trailing '-'" } : undefined;
};

/** Rule: the top-level label is not all digits — otherwise "1.2.3.4" or "example.123" pass as names. */
const tldNotNumeric: Rule = (s) => {
  if (!NUMERIC_TLD_RE.test(s)) return undefined;
  const tld = s.slice(s.lastIndexOf(".") + 1);
  if (isIP(s) === 4) return { message: "is an IP address, not a name", fix: "write the DNS name (e.g. mx1.example.org)" };
  return { message: `top-level label ${show(tld)} is all digits`, fix: "write a real domain, e.g. example.org" };
};

function hostnameRules(what: string): Rule[] {
  return [notEmpty(what), hostnameChars(what), noTrailingDot, maxLength(HOST_MAX, what), noEmptyLabel, twoLabels, labelLength, labelHyphens, tldNotNumeric];
}

const HOSTNAME_RULES = hostnameRules("a hostname");
const DOMAIN_RULES = hostnameRules("a mail domain");

/** The hostname rules as one regex source: labels of 1-63 [A-Za-z0-9-] not starting/ending in '-', two or more, last not all digits. */
const LABEL_SRC = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const DOMAIN_SRC = `(?:${LABEL_SRC}\\.)+(?![0-9]+$)${LABEL_SRC}`;
const DOMAIN_FAST_RE = new RegExp(`^${DOMAIN_SRC}$`, "u");
/** Fast accept for hostnames and domains (the length limit is the one thing the regex cannot say). */
const domainFast: FastAccept = (s) => s.length <= HOST_MAX && DOMAIN_FAST_RE.test(s);

// ---------------------------------------------------------------------------
// Mail addresses (RFC 5321/5322 dot-atom)

const LOCAL_MAX = 64;
const ADDRESS_MAX = 254; // RFC 5321 path limit 256 minus "<" and ">"
/** Specials that are syntax somewhere (headers, SMTP, Postfix maps, YAML) — named in the message. */
const LOCAL_SPECIAL_RE = /[ ,@<>"\\:;()[\]]/u;
const LOCAL_ATEXT_BAD_RE = /[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]/u;

/** Rule: no control characters — "alice\n@evil" would smuggle a header or map line. */
const localNoControl: Rule = (s) => {
  const ch = firstMatch(s, CONTROL_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}`, fix: "remove it (check for pasted line breaks)" };
};

/** Rule: none of the specials that need quoting in a mail address; quoted local parts are not supported on purpose. */
const localNoSpecials: Rule = (s) => {
  const ch = firstMatch(s, LOCAL_SPECIAL_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}, which would need quoting in a mail address`, fix: "use only letters, digits and !#$%&'*+/=?^_`{|}~.-" };
};

/** Rule: only dot-atom characters (ASCII; SMTPUTF8 local parts are not supported). */
const localAtext: Rule = (s) => {
  const ch = firstMatch(s, LOCAL_ATEXT_BAD_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}, not allowed in a local part`, fix: "use only ASCII letters, digits and !#$%&'*+/=?^_`{|}~.-" };
};

/** Rule: dots only between characters (dot-atom): ".a", "a." and "a..b" are refused by strict MTAs. */
const localDots: Rule = (s) =>
  s.startsWith(".") || s.endsWith(".") || s.includes("..") ? { message: "has a leading, trailing or doubled '.'", fix: "use single dots between characters only" } : undefined;

const LOCAL_RULES: Rule[] = [notEmpty("a local part"), maxLength(LOCAL_MAX, "a local part"), localNoControl, localNoSpecials, localAtext, localDots];

/** The local-part rules as one regex source: dot-atom (atext runs joined by single dots). */
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL_SRC = `${ATEXT}(?:\\.${ATEXT})*`;
const LOCAL_FAST_RE = new RegExp(`^${LOCAL_SRC}$`, "u");
const ADDRESS_FAST_RE = new RegExp(`^${LOCAL_SRC}@${DOMAIN_SRC}$`, "u");
/** Fast accept for local parts. */
const localFast: FastAccept = (s) => s.length <= LOCAL_MAX && LOCAL_FAST_RE.test(s);
/** Fast accept for addresses: the local part has no '@', so the first '@' is the separator; domain <= 253 follows from the total. */
const addressFast: FastAccept = (s) => s.length <= ADDRESS_MAX && s.indexOf("@") <= LOCAL_MAX && ADDRESS_FAST_RE.test(s);

/** Rule: contains an "@" — without it the value is a bare name. */
const hasAt: Rule = (s) =>
  !s.includes("@") ? { message: "has no '@'", fix: "write it as user@domain, e.g. alice@example.org" } : undefined;

/** Rule: the part before the first "@" is a valid local part (a second "@" lands in the domain and is refused there). */
const addressLocal: Rule = (s, ctx) => {
  const r = firstReason(LOCAL_RULES, s.slice(0, s.indexOf("@")), ctx);
  return r && { message: `local part ${r.message}`, fix: r.fix };
};

/** Rule: the part after the first "@" is a valid mail domain. */
const addressDomain: Rule = (s, ctx) => {
  const r = firstReason(DOMAIN_RULES, s.slice(s.indexOf("@") + 1), ctx);
  return r && { message: `domain ${r.message}`, fix: r.fix };
};

const ADDRESS_RULES: Rule[] = [notEmpty("a mail address"), hasAt, maxLength(ADDRESS_MAX, "a mail address"), addressLocal, addressDomain];

/** Rule: "@domain" (catch-all) checks the domain; anything else must be a full address. */
const addressOrCatchAll: Rule = (s, ctx) => {
  if (!s.startsWith("@")) return firstReason(ADDRESS_RULES, s, ctx);
  const r = firstReason(DOMAIN_RULES, s.slice(1), ctx);
  return r && { message: `domain ${r.message}`, fix: r.fix };
};

// ---------------------------------------------------------------------------
// Paths

/**
 * Directories that belong to the system (FHS, Debian) or to the services this
 * tool configures. A setting pointing at one of them — or at a parent of one —
 * would let a `chown -R`, `rm -rf` or mount take over the whole tree; their
 * own subdirectories (/var/mail/vhosts, /etc/mailstead/tls) are fine.
 */
export const SYSTEM_DIRS: readonly string[] = Object.freeze([
  "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt",
  "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
  "/usr/bin", "/usr/lib", "/usr/local", "/usr/sbin", "/usr/share",
  "/var/lib", "/var/log", "/var/mail", "/var/spool", "/var/www", "/var/cache", "/var/tmp", "/var/backups",
  "/etc/ssl", "/etc/postfix", "/etc/dovecot", "/etc/letsencrypt", "/etc/systemd", "/etc/ssh",
]);

const SYSTEM_DIR_SET: ReadonlySet<string> = new Set(SYSTEM_DIRS);

/**
 * Trees nothing of mailstead's may live inside when mailstead creates, owns
 * or chowns the path (`path({ owned: true })`): the mail root under
 * /root/.ssh or a home directory would hand it to vmail (and sshd's
 * StrictModes would then refuse the key), under /var/spool/postfix or
 * /var/lib/dpkg it breaks Postfix or dpkg, under /etc it changes who owns
 * system configuration. /etc/mailstead is ours.
 */
export const PROTECTED_TREES: readonly string[] = Object.freeze([
  "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run", "/sbin", "/sys", "/tmp", "/usr",
  "/var/spool", "/var/lib/dpkg", "/var/lib/apt", "/var/lib/systemd", "/var/log", "/var/cache", "/var/tmp", "/var/backups",
]);
/** Inside a protected tree but ours, or a dedicated account's own home (/home/vmail). */
const OWNED_EXCEPTIONS: readonly string[] = Object.freeze(["/etc/mailstead", "/home/vmail"]);

const insideTree = (s: string, tree: string) => s === tree || s.startsWith(`${tree}/`);

/** Rule (owned paths): not inside a protected tree. */
const pathNotProtected: Rule = (s) => {
  if (OWNED_EXCEPTIONS.some((e) => insideTree(s, e))) return undefined;
  const tree = PROTECTED_TREES.find((t) => insideTree(s, t));
  return tree
    ? { message: `is inside ${tree}, which mailstead must not create, own or chown anything in`, fix: "use a directory of its own, such as /var/mail/vhosts, /srv/mail or /var/lib/mailstead/..." }
    : undefined;
};

/** Parent directory → a system directory below it, for every parent of one. Built once. */
const SYSTEM_PARENTS: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  for (const dir of SYSTEM_DIRS) {
    for (let p = dir.slice(0, dir.lastIndexOf("/")); p !== ""; p = p.slice(0, p.lastIndexOf("/"))) if (!map.has(p)) map.set(p, dir);
    if (dir !== "/" && !map.has("/")) map.set("/", dir);
  }
  return map;
})();

const PATH_MAX = 4096;
const NAME_MAX = 255;
const PATH_CHAR_BAD_RE = /[^A-Za-z0-9._/-]/u;
const DOT_SEGMENT_RE = /(?:^|\/)\.\.?(?:\/|$)/u;
const LONG_SEGMENT_RE = new RegExp(`[^/]{${NAME_MAX + 1}}`, "u");

/** Rule: absolute — a relative path depends on the remote working directory. */
const pathAbsolute: Rule = (s) =>
  !s.startsWith("/") ? { message: "is not an absolute path", fix: "start it with '/', e.g. /var/mail/vhosts" } : undefined;

/** Rule: only [A-Za-z0-9._/-] — such a path is safe in shell commands and config files even unquoted. */
const pathChars: Rule = (s) => {
  const ch = firstMatch(s, PATH_CHAR_BAD_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}; paths may hold only letters, digits and . _ / -`, fix: "rename the directory to use only those characters" };
};

/** Rule: no "//" — an empty segment means a typo, and string comparisons against it lie. */
const pathNoDoubleSlash: Rule = (s) =>
  s.includes("//") ? { message: "contains '//'", fix: `use single slashes: ${show(s.replace(/\/+/gu, "/"))}` } : undefined;

/** Rule: no trailing slash (except "/") — keeps one spelling per path, so the system-directory check cannot be dodged. */
const pathNoTrailingSlash: Rule = (s) =>
  s.length > 1 && s.endsWith("/") ? { message: "ends with '/'", fix: `drop the trailing slash: ${show(s.replace(/\/+$/u, "") || "/")}` } : undefined;

/** Rule: no "." or ".." segment — "/var/mail/../../etc" is /etc in disguise. */
const pathNoDotSegments: Rule = (s) =>
  DOT_SEGMENT_RE.test(s)
    ? { message: "has a '.' or '..' segment", fix: "write the resolved path without . or .. segments" }
    : undefined;

/** Rule: each segment at most 255 bytes (NAME_MAX). */
const pathSegmentLength: Rule = (s) =>
  LONG_SEGMENT_RE.test(s) ? { message: `has a segment longer than ${NAME_MAX} characters`, fix: "shorten it" } : undefined;

/** Rule: not a system directory nor a parent of one — the tool chowns, empties or mounts what it is given. */
const pathNotSystem: Rule = (s) => {
  const below = SYSTEM_PARENTS.get(s);
  if (!SYSTEM_DIR_SET.has(s) && below === undefined) return undefined;
  const what = SYSTEM_DIR_SET.has(s) ? "is a system directory" : `contains the system directory ${below}`;
  return { message: `${what}; this tool may change its owner, mode or contents`, fix: `use a subdirectory of your own, e.g. ${s === "/" ? "/srv" : s}/mailstead` };
};

// ---------------------------------------------------------------------------
// Accounts, services, interfaces

/**
 * Account and group names Debian (base-passwd, systemd, the mail packages this
 * tool installs) already uses or gives special powers: reusing one as the
 * mail owner would hand its files and privileges to the mail stack.
 */
export const RESERVED_ACCOUNTS: readonly string[] = Object.freeze([
  "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data", "backup",
  "list", "irc", "gnats", "nobody", "nogroup", "systemd-network", "systemd-resolve", "systemd-timesync", "systemd-journal",
  "messagebus", "sshd", "_apt", "postfix", "postdrop", "dovecot", "dovenull", "opendkim", "opendmarc", "debian", "admin",
  "sudo", "adm", "staff", "users", "wheel", "shadow", "utmp", "tty", "disk", "kmem", "dialout", "fax", "voice", "cdrom",
  "floppy", "tape", "audio", "video", "plugdev", "netdev", "operator", "src", "input", "render", "sgx", "kvm", "_chrony",
  "unbound", "Debian-exim", "ssl-cert", "crontab",
]);

const RESERVED_SET: ReadonlySet<string> = new Set(RESERVED_ACCOUNTS);
const ACCOUNT_RE = /^[a-z_][a-z0-9_-]{0,31}$/u;
const UPPER_RE = /[A-Z]/u;

/** Rule: the portable pattern useradd(8) recommends: lower case, at most 32, not starting with a digit or '-'. */
const accountPattern: Rule = (s) => {
  if (ACCOUNT_RE.test(s)) return undefined;
  if (UPPER_RE.test(s)) return { message: "has upper-case letters", fix: `use lower case: ${show(s.toLowerCase())}` };
  if (s.length > 32) return { message: "is longer than 32 characters", fix: "shorten it" };
  return { message: "is not a valid account name", fix: "start with a lower-case letter or '_', then use only a-z, 0-9, '_' and '-' (at most 32)" };
};

/** Rule: not an account the system or the SSH login already uses. */
function accountNotReserved(extra: ReadonlySet<string>): Rule {
  return (s) =>
    RESERVED_SET.has(s) || extra.has(s)
      ? { message: "is a reserved system account (or the SSH login user)", fix: "pick a dedicated name, e.g. vmail" }
      : undefined;
}

const SERVICE_MAX = 255;
const SERVICE_CHAR_BAD_RE = /[^A-Za-z0-9:_.@\\-]/u;

/** Rule: only systemd unit-name characters (systemd.unit(5)). */
const serviceChars: Rule = (s) => {
  const ch = firstMatch(s, SERVICE_CHAR_BAD_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}, not allowed in a systemd unit name`, fix: "use only letters, digits and : _ . @ \\ -" };
};

/** Rule: does not start with '-' — it would be read as an option by systemctl. */
const noLeadingDash: Rule = (s) =>
  s.startsWith("-") ? { message: "starts with '-', which commands read as an option", fix: "remove the leading '-'" } : undefined;

const IFNAME_MAX = 15; // IFNAMSIZ - 1
const IFNAME_CHAR_BAD_RE = /[^A-Za-z0-9_.-]/u;

/** Rule: no '*' — in nftables `iifname "e*"` is a prefix match that could include the uplink. */
const ifnameNoWildcard: Rule = (s) =>
  s.includes("*") ? { message: "is a wildcard pattern, which could match the uplink interface too", fix: "name one interface exactly, e.g. wg0" } : undefined;

/** Rule: only [A-Za-z0-9_.-] — what Linux and nftables take without quoting surprises. */
const ifnameChars: Rule = (s) => {
  const ch = firstMatch(s, IFNAME_CHAR_BAD_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}, not allowed in an interface name`, fix: "use only letters, digits, '_', '.' and '-'" };
};

/** Rule: not "." or ".." — the kernel refuses them (dev_valid_name). */
const ifnameNotDots: Rule = (s) =>
  s === "." || s === ".." ? { message: "is not a valid interface name", fix: "write the interface name, e.g. eth0" } : undefined;

// ---------------------------------------------------------------------------
// Free text, URLs, DMARC

const LINE_BREAK_RE = /[\r\n]/u;
const SINGLE_LINE_BAD_RE = /[\x00-\x08\x0b-\x1f\x7f]/u;

/** Rule: no line break — a secret with "\n" would add a line to the file it is written into. */
const noLineBreak: Rule = (s) => {
  const ch = firstMatch(s, LINE_BREAK_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}`, fix: "put the value on one line (check for a pasted trailing newline)" };
};

/** Rule: no other control character (tab is allowed) — they corrupt line-based files invisibly. */
const noControlExceptTab: Rule = (s) => {
  const ch = firstMatch(s, SINGLE_LINE_BAD_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}`, fix: "remove it" };
};

/** Rules for a WHATWG URL with a scheme from `protocols`, no credentials and a host. */
function urlRules(protocols: readonly string[]): Rule[] {
  const allowed = new Set(protocols.map((p) => p.toLowerCase().replace(/:$/u, "")));
  const list = [...allowed].join(", ");
  /** Rule: parses as a WHATWG URL — Node's parser, so no home-grown URL regex. */
  const parses: Rule = (s) =>
    URL.canParse(s) ? undefined : { message: "is not a URL", fix: `write a full URL, e.g. ${[...allowed][0] ?? "https"}://example.org/` };
  /** Rule: the scheme is one the setting supports — "ftp://" where https is needed fails far later. */
  const protocol: Rule = (s) => {
    const p = new URL(s).protocol.slice(0, -1);
    return allowed.has(p) ? undefined : { message: `uses ${p}:, not ${list}`, fix: `use a URL starting with ${[...allowed].map((a) => `${a}://`).join(" or ")}` };
  };
  /** Rule: no user:password in the URL — credentials would end up in configs and logs. */
  const noCredentials: Rule = (s) => {
    const u = new URL(s);
    return u.username || u.password ? { message: "contains credentials (user:password@)", fix: "remove them; put secrets in the secrets file" } : undefined;
  };
  /** Rule: has a host — "file:///x" or "mailto:x" name no server to talk to. */
  const hasHost: Rule = (s) =>
    new URL(s).hostname === "" ? { message: "has no host name", fix: "write a URL with a host, e.g. https://example.org/" } : undefined;
  return [notEmpty("a URL"), noWhitespaceOrControl("a URL"), parses, protocol, noCredentials, hasHost];
}

const MAILTO = "mailto:";
/** ';' ends the tag in the TXT record, ',' separates URIs, '!' starts a size limit; '?', '#', '%' are URI syntax. */
const DMARC_BAD_RE = /[;,!?#%\s]/u;

/** Rule: starts with "mailto:" (RFC 7489 §6.2: reports go to mailto URIs). */
const dmarcMailto: Rule = (s) =>
  s.slice(0, MAILTO.length).toLowerCase() !== MAILTO ? { message: "does not start with mailto:", fix: `write it as a URI: ${show(`mailto:${s}`)}` } : undefined;

/** Rule: none of the characters that end or split the rua/ruf tag. */
const dmarcChars: Rule = (s) => {
  const ch = firstMatch(s, DMARC_BAD_RE);
  return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}, which would break the DMARC record`, fix: "give a single mailto:address with no size limit or extra tags" };
};

/** Rule: the part after "mailto:" is a valid mail address. */
const dmarcAddress: Rule = (s, ctx) => {
  const r = firstReason(ADDRESS_RULES, s.slice(MAILTO.length), ctx);
  return r && { message: `address ${r.message}`, fix: r.fix };
};

/** Rules for a string holding none of `chars` nor any control character. */
function noSyntaxRules(chars: string, what: string): Rule[] {
  const banned = new Set(chars);
  /** Rule: no control character — newlines split any line-based file. */
  const noControl: Rule = (s) => {
    const ch = firstMatch(s, CONTROL_RE);
    return ch === undefined ? undefined : { message: `contains ${describeChar(ch)}, which would break ${what}`, fix: "remove it" };
  };
  /** Rule: none of the characters that are syntax in the target file. */
  const noBanned: Rule = (s) => {
    for (const ch of s) {
      if (banned.has(ch)) return { message: `contains ${describeChar(ch)}, which is syntax in ${what}`, fix: `remove it (not allowed: ${[...banned].join(" ")})` };
    }
    return undefined;
  };
  return [noControl, noBanned];
}

// ---------------------------------------------------------------------------
// The formats

export const formats = {
  /** A single IPv4 or IPv6 address: where one host is meant, a prefix would be a mistake. */
  ip(opts: { family?: 4 | 6 } = {}): Format {
    const rules = [notEmpty("an IP address"), noZoneId, noPrefix, isIpAddress];
    if (opts.family) rules.push(ipFamily(opts.family));
    const expected = opts.family === 4 ? "an IPv4 address such as 198.51.100.7" : opts.family === 6 ? "an IPv6 address such as 2001:db8::7" : "an IPv4 or IPv6 address such as 198.51.100.7 or 2001:db8::7";
    return stringFormat("ip", expected, rules);
  },

  /** An address or address/prefix for allow lists; wide prefixes need `opts.allowWide` set to true in the host vars. */
  cidr(opts: { allowWide?: string } = {}): Format {
    return stringFormat("cidr", "an IPv4/IPv6 address or CIDR such as 203.0.113.0/24", [
      notEmpty("an address or CIDR"), noZoneId, oneSlash, cidrAddressIsIp, prefixIsInteger, prefixInRange, notWide(opts.allowWide),
    ]);
  },

  /** A fully qualified host name (RFC 1123), as used for the MX, HELO and certificates. */
  hostname(): Format {
    return stringFormat("hostname", "a fully qualified host name such as mx1.example.org", HOSTNAME_RULES, domainFast);
  },

  /** A mail domain: the same rules as a host name. */
  domain(): Format {
    return stringFormat("domain", "a mail domain such as example.org", DOMAIN_RULES, domainFast);
  },

  /** The part before "@" in a mail address (dot-atom only, no quoting). */
  localPart(): Format {
    return stringFormat("localPart", "a mailbox name such as alice or alice.smith+lists", LOCAL_RULES, localFast);
  },

  /** A mail address local@domain. */
  address(): Format {
    return stringFormat("address", "a mail address such as alice@example.org", ADDRESS_RULES, addressFast);
  },

  /** A mail address or "@domain" (a catch-all source). */
  addressOrDomain(): Format {
    return stringFormat("addressOrDomain", "a mail address such as alice@example.org, or @example.org for the whole domain", [notEmpty("an address or @domain"), addressOrCatchAll],
      (s) => (s.startsWith("@") ? domainFast(s.slice(1)) : addressFast(s)));
  },

  /** A normalised absolute path; unless `allowSystem`, not a system directory nor a parent of one. */
  path(opts: { allowSystem?: boolean; owned?: boolean } = {}): Format {
    const rules = [notEmpty("a path"), pathAbsolute, pathChars, maxLength(PATH_MAX, "a path"), pathNoDoubleSlash, pathNoTrailingSlash, pathNoDotSegments, pathSegmentLength];
    if (!opts.allowSystem) rules.push(pathNotSystem);
    if (opts.owned) rules.push(pathNotProtected);
    return stringFormat("path", "an absolute path such as /var/mail/vhosts", rules);
  },

  /** A Unix account or group name that is not reserved (`extraReserved`: e.g. the SSH login user). */
  account(opts: { extraReserved?: string[] } = {}): Format {
    const extra = new Set(opts.extraReserved ?? []);
    return stringFormat("account", "a lower-case account name such as vmail", [notEmpty("an account name"), accountNotReserved(extra), accountPattern]);
  },

  /** A systemd unit name, safe to pass to systemctl. */
  serviceName(): Format {
    return stringFormat("serviceName", "a systemd unit name such as nginx or postfix@-.service", [notEmpty("a unit name"), maxLength(SERVICE_MAX, "a unit name"), serviceChars, noLeadingDash]);
  },

  /** A plain Linux interface name for nftables `iifname` (no patterns). */
  interfaceName(): Format {
    return stringFormat("interfaceName", "a network interface name such as eth0 or wg0", [
      notEmpty("an interface name"), ifnameNoWildcard, ifnameChars, maxLength(IFNAME_MAX, "an interface name"), noLeadingDash, ifnameNotDots,
    ]);
  },

  /** A string without line breaks or control characters, for secrets written into line-based files. */
  singleLine(): Format {
    return stringFormat("singleLine", "a single line of text", [noLineBreak, noControlExceptTab]);
  },

  /** A WHATWG URL with one of `opts.protocols` (with or without ":"), no credentials and a host. */
  url(opts: { protocols: string[] }): Format {
    const list = opts.protocols.map((p) => p.replace(/:$/u, "")).join("/");
    return stringFormat("url", `a URL (${list}) such as ${opts.protocols[0]?.replace(/:$/u, "") ?? "https"}://example.org/`, urlRules(opts.protocols));
  },

  /** A DMARC rua/ruf target "mailto:local@domain" (RFC 7489 §6.2), without size limit. */
  dmarcUri(): Format {
    return stringFormat("dmarcUri", "a DMARC report URI such as mailto:dmarc@example.org", [notEmpty("a DMARC URI"), dmarcMailto, dmarcChars, dmarcAddress]);
  },

  /** A string with none of `chars` (nor control characters), because they are syntax in `what` (e.g. "Postfix main.cf"). */
  noSyntax(chars: string, what: string): Format {
    return stringFormat("noSyntax", `text without control characters or any of ${[...new Set(chars)].join(" ")}`, noSyntaxRules(chars, what));
  },
};

/** Run a format over a value or, for arrays, each item; returns problems with the item index. */
export function checkValue(format: Format, value: unknown, ctx: FormatContext): { index?: number; message: string; fix: string }[] {
  if (!Array.isArray(value)) {
    const p = format.check(value, ctx);
    return p ? [p] : [];
  }
  const out: { index: number; message: string; fix: string }[] = [];
  value.forEach((item, index) => {
    const p = format.check(item, ctx);
    if (p) out.push({ index, ...p });
  });
  return out;
}
