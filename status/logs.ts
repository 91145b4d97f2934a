/**
 * logs.ts's summary of a host's mail log in plain words (issue 16): deliveries, rejections,
 * bounces, logins and failed logins, and the last events, from the journal's Postfix and Dovecot
 * lines (journalctl -o short: "Mon DD HH:MM:SS host ident[pid]: message"). Pure: tests/unit/logs.test.ts
 * runs it on lines recorded on Debian 12 (Postfix 3.7, Dovecot 2.3) and 13 (3.10, 2.4).
 * pflogsumm (Debian's) gives Postfix's full report on request (`logs.ts --pflogsumm`).
 */

export interface LogEvent {
  /** "Dec 01 10:30:22" as the journal wrote it. */
  time: string;
  kind: "delivered" | "deferred" | "bounced" | "rejected" | "login" | "login-failed" | "sent-by-user";
  /** One line in plain words. */
  text: string;
}

export interface LogSummary {
  delivered: { local: number; remote: number };
  deferred: number;
  bounced: number;
  rejected: number;
  /** Successful IMAP and ManageSieve logins by user (Postfix logs SMTP AUTH per message: see sentBy). */
  logins: Record<string, number>;
  /** Failed logins by client address. */
  failed: Record<string, number>;
  /** Mail sent through submission, by login. */
  sentBy: Record<string, number>;
  events: LogEvent[];
  /** Deferral and bounce reasons, most frequent first (at most 5). */
  reasons: [string, number][];
}

const LINE = /^(\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ ([\w/.-]+)(?:\[\d+\])?: (.*)$/;
const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

/** The journal's lines in, one summary out. `last`: how many events to keep (newest last). */
export function summarise(text: string, last = 20): LogSummary {
  const s: LogSummary = { delivered: { local: 0, remote: 0 }, deferred: 0, bounced: 0, rejected: 0, logins: {}, failed: {}, sentBy: {}, events: [], reasons: [] };
  const reasons = new Map<string, number>();
  const ev = (time: string, kind: LogEvent["kind"], text: string) => s.events.push({ time, kind, text });
  for (const raw of text.split("\n")) {
    const m = LINE.exec(raw.trimEnd());
    if (!m) continue;
    const [, time = "", ident = "", msg = ""] = m;
    if (ident.startsWith("postfix/")) {
      const st = /: to=<([^>]*)>(?:, orig_to=<[^>]*>)?, relay=([^,]+),.* status=(sent|deferred|bounced) \((.*)\)$/.exec(msg);
      if (st) {
        const [, to = "", relay = "", status = "", why = ""] = st;
        if (status === "sent") {
          const local = /dovecot-lmtp|^local|^virtual/.test(relay);
          local ? s.delivered.local++ : s.delivered.remote++;
          ev(time, "delivered", `delivered to ${to} (${local ? "this host's mailbox" : relay})`);
        } else {
          status === "deferred" ? s.deferred++ : s.bounced++;
          const reason = why.replace(/\d+\.\d+\.\d+\.\d+/g, "<address>").slice(0, 120);
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
          ev(time, status as "deferred" | "bounced", `${status === "deferred" ? "deferred (will retry)" : "bounced (the sender is told)"} for ${to}: ${why.slice(0, 160)}`);
        }
        continue;
      }
      // smtpd and postscreen ("NOQUEUE: reject:"), after the queue file exists ("<id>: reject:"), and a milter's ("milter-reject:", OpenDMARC's p=reject)
      const rj = /(?:NOQUEUE|[0-9A-F]+): (?:milter-)?reject: [\w-]+ from (\S+): ((?:\d{3} )?\d\.\d+\.\d+ [^;]*?(?:; client \S+ blocked using \S+)?);(?: from=<([^>]*)>)?(?:,? to=<([^>]*)>)?/.exec(msg);
      if (rj) {
        s.rejected++;
        ev(time, "rejected", `refused mail from ${rj[1]}${rj[3] !== undefined ? ` (from <${rj[3]}>` : ""}${rj[4] !== undefined ? ` to <${rj[4]}>)` : rj[3] !== undefined ? ")" : ""}: ${rj[2]!.slice(0, 140)}`);
        continue;
      }
      const sasl = /^warning: (\S+?)\[([^\]]+)\]: SASL \S+ authentication failed: (.*?)(?:, sasl_username=(\S+))?$/.exec(msg);
      if (sasl) {
        bump(s.failed, sasl[2]!);
        ev(time, "login-failed", `failed SMTP login from ${sasl[2]}${sasl[4] && sasl[4] !== "(unavailable)" ? ` as ${sasl[4]}` : ""}`);
        continue;
      }
      const sub = /: client=(\S+?)\[([^\]]+)\](?:, sasl_method=\S+, sasl_username=(\S+))?/.exec(msg);
      if (sub?.[3]) {
        // One line per message, not per session: counted as mail sent, not as logins.
        bump(s.sentBy, sub[3]);
        ev(time, "sent-by-user", `${sub[3]} sent mail from ${sub[2]}`);
      }
      continue;
    }
    if (ident === "dovecot") {
      // 2.3: "Login: user=<...>"; 2.4: "Logged in: user=<...>"
      const ok = /^(imap|managesieve)-login: (?:Login|Logged in): user=<([^>]*)>, method=\S+, rip=([^,]+)/.exec(msg);
      if (ok) {
        bump(s.logins, ok[2]!);
        ev(time, "login", `${ok[2]} logged in (${ok[1] === "imap" ? "IMAP" : "ManageSieve"}) from ${ok[3]}`);
        continue;
      }
      // 2.3: "Disconnected: ... (auth failed, N attempts ...)"; 2.4: "Login aborted: ... (auth failed, N attempts ...) (auth_failed)"
      const bad = /^(imap|managesieve)-login: (?:Disconnected|Login aborted): .*\(auth failed, (\d+) attempts? .*?user=<([^>]*)>.*?rip=([^,]+)/.exec(msg);
      if (bad) {
        for (let i = 0; i < Number(bad[2]); i++) bump(s.failed, bad[4]!);
        ev(time, "login-failed", `failed IMAP login from ${bad[4]}${bad[3] ? ` as ${bad[3]}` : ""} (${bad[2]} attempt${bad[2] === "1" ? "" : "s"})`);
      }
    }
  }
  s.reasons = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 5);
  s.events = s.events.slice(-last);
  return s;
}

const top = (m: Record<string, number>, n = 5) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, c]) => `${k} ${c}`)
    .join(", ");

/** The summary as a person reads it. */
export function formatSummary(host: string, since: string, s: LogSummary): string {
  const n = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const lines = [
    `== ${host} (since ${since})`,
    `mail in and out: ${s.delivered.local} delivered to mailboxes here, ${s.delivered.remote} sent to other servers, ${s.deferred} deferred (retried), ${s.bounced} bounced, ${s.rejected} refused at the door`,
  ];
  if (s.reasons.length) lines.push(`  why deferred or bounced: ${s.reasons.map(([r, c]) => `${c}× ${r}`).join("; ")}`);
  lines.push(`logins: ${n(s.logins)}${n(s.logins) ? ` (${top(s.logins)})` : ""}; failed logins: ${n(s.failed)}${n(s.failed) ? ` (from ${top(s.failed)})` : ""}`);
  if (n(s.sentBy)) lines.push(`  sent through submission: ${top(s.sentBy)}`);
  lines.push(`last ${s.events.length} event(s):`);
  for (const e of s.events) lines.push(`  ${e.time}  ${e.text}`);
  return lines.join("\n");
}
