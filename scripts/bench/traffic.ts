/**
 * The traffic `npm run bench` makes with real clients from the lab host: nodemailer on 587
 * (STARTTLS + AUTH), imapflow on 993, and a Roundcube session over HTTPS. Every loop is bounded
 * in count and time. Extra client addresses for the burst live on the lab's own bridge, inside
 * 198.51.100.0/24, and are removed afterwards.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { ImapFlow } from "imapflow";
import nodemailer from "nodemailer";
import { $ } from "zx";
import { LAB_NET } from "../../tests/lab/index.js";

export interface Account {
  host: string; // IP address
  name: string; // the host's name (TLS, webmail)
  user: string;
  pass: string;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Client addresses on the lab bridge, `first` upwards (.200 for the burst, .230 for the delivery
 * timings): the per-address limits (postfix_message_rate_limit, 60 a minute) are not what is measured.
 */
export async function addClientAddresses(n: number, first = 200): Promise<{ addresses: string[]; remove: () => Promise<void> }> {
  const base = LAB_NET.address.split(".").slice(0, 3).join(".");
  const addresses = Array.from({ length: n }, (_, i) => `${base}.${first + i}`);
  const added: string[] = [];
  const have = (await $`ip -4 -o addr show dev ${LAB_NET.bridge}`).stdout;
  for (const a of addresses) {
    if (have.includes(` ${a}/`)) continue;
    await $`ip addr add ${a}/32 dev ${LAB_NET.bridge}`;
    added.push(a);
  }
  return {
    addresses,
    remove: async () => {
      for (const a of added) await $({ nothrow: true })`ip addr del ${a}/32 dev ${LAB_NET.bridge}`;
    },
  };
}

function transport(a: Account, localAddress?: string, pool = false) {
  return nodemailer.createTransport({
    host: a.host,
    port: 587,
    requireTLS: true,
    auth: { user: a.user, pass: a.pass },
    tls: { rejectUnauthorized: false, servername: a.name },
    ...(localAddress ? { localAddress } : {}),
    // one connection (one AUTH) for many messages: Postfix allows 10 AUTH commands per client address a minute
    ...(pool ? { pool: true, maxConnections: 1, maxMessages: Infinity } : {}),
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
  } as nodemailer.TransportOptions);
}

/** An IMAP client; `idleAfterMs` makes it enter IDLE that soon after its last command (imapflow waits 15 s). */
export async function imapClient(a: Account, idleAfterMs?: number): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: a.host,
    port: 993,
    secure: true,
    auth: { user: a.user, pass: a.pass },
    tls: { rejectUnauthorized: false, servername: a.name },
    logger: false,
    ...(idleAfterMs !== undefined ? { autoIdleDelay: idleAfterMs } : {}),
  });
  await c.connect();
  return c;
}

/**
 * Tries of a refused submission, 3 s apart: about 12 s, longer than a helper killed at the cap
 * takes to come back (the budget role's RestartSec=5s, then its start).
 */
export const RETRIES = 5;

/** Message sizes of the burst: mostly small, some large, up to 1 MB (bytes of body). */
export const SIZES = [1_000, 1_000, 1_000, 4_000, 4_000, 20_000, 20_000, 100_000, 300_000, 1_000_000];

/** A body of `size` bytes: base64 lines (as an attachment would travel). */
function body(size: number): string {
  const raw = randomBytes(Math.ceil((size * 3) / 4)).toString("base64").slice(0, size);
  return raw.replace(/(.{76})/g, "$1\r\n");
}

/** UIDs in INBOX carrying this bench header value. */
export async function benchUids(c: ImapFlow, tag: string, mailbox = "INBOX"): Promise<number[]> {
  const lock = await c.getMailboxLock(mailbox);
  try {
    return ((await c.search({ header: { "X-Mailstead-Bench": tag } }, { uid: true })) || []) as number[];
  } finally {
    lock.release();
  }
}

export async function deleteBench(a: Account, tag: string): Promise<number> {
  const c = await imapClient(a);
  try {
    const uids = await benchUids(c, tag);
    if (uids.length) {
      const lock = await c.getMailboxLock("INBOX");
      try {
        await c.messageDelete(uids.join(","), { uid: true });
      } finally {
        lock.release();
      }
    }
    return uids.length;
  } finally {
    await c.logout().catch(() => {});
  }
}

export interface BurstResult {
  sent: number;
  delivered: number;
  bytes: number;
  clientAddresses: number;
  /** messages refused three times (never accepted by the server) */
  unsent: number;
  sendSeconds: number;
  /** first submission to the last message visible in IMAP */
  drainSeconds: number;
  errors: string[];
}

/**
 * `count` messages from `acct` to itself through 587, `workers` connections at once, each
 * connection from the next client address and carrying up to 10 messages; then waits (bounded)
 * until all are in the INBOX.
 */
export async function burst(acct: Account, count: number, addresses: string[], opts: { workers?: number; tag: string; timeoutMs: number }): Promise<BurstResult> {
  const workers = opts.workers ?? 6;
  const t0 = performance.now();
  let next = 0;
  let bytes = 0;
  const errors: string[] = [];
  let sent = 0;
  let unsent = 0;
  const worker = async (w: number) => {
    let round = 0;
    while (next < count) {
      const batch: number[] = [];
      while (batch.length < 10 && next < count) batch.push(next++);
      // A refused or broken message is tried again on a new connection, up to RETRIES times 3 s
      // apart: a temporary answer (4xx: a helper restarting at the cap, a limit) is the server's
      // to give and the client's to retry, as any MTA would; each refusal is recorded.
      for (let attempt = 1; batch.length && attempt <= RETRIES; attempt++) {
        if (attempt > 1) await sleep(3000);
        const t = transport(acct, addresses[(w + round * workers) % addresses.length], true);
        round++;
        try {
          while (batch.length) {
            const i = batch[0]!;
            const size = SIZES[i % SIZES.length]!;
            await t.sendMail({ from: acct.user, to: acct.user, subject: `bench burst ${opts.tag} ${i}`, headers: { "X-Mailstead-Bench": opts.tag }, text: body(size) });
            batch.shift();
            bytes += size;
            sent++;
          }
        } catch (e) {
          errors.push(`attempt ${attempt}: ${(e as Error).message.slice(0, 200)}`);
        } finally {
          t.close();
        }
      }
      unsent += batch.length;
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  const sendSeconds = (performance.now() - t0) / 1000;
  const end = Date.now() + opts.timeoutMs;
  let delivered = 0;
  const c = await imapClient(acct);
  try {
    for (;;) {
      delivered = (await benchUids(c, opts.tag)).length;
      // in the INBOX is out of the queue (LMTP delivered it); other mail queued meanwhile is not the burst's
      if (delivered >= sent) break;
      if (Date.now() > end) break;
      await sleep(500);
    }
  } finally {
    await c.logout().catch(() => {});
  }
  return { sent, unsent, delivered, bytes, clientAddresses: addresses.length, sendSeconds, drainSeconds: (performance.now() - t0) / 1000, errors };
}

/** `n` IMAP clients sitting in IDLE on INBOX (imapflow idles by itself once a mailbox is open). */
export async function idlers(a: Account, n: number): Promise<{ close: () => Promise<void> }> {
  const cs: ImapFlow[] = [];
  for (let i = 0; i < n; i++) {
    const c = await imapClient(a, 100);
    await c.mailboxOpen("INBOX");
    cs.push(c);
  }
  return { close: async () => void (await Promise.all(cs.map((c) => c.logout().catch(() => {})))) };
}

/**
 * Messages start at least this far apart (54 a minute): Postfix's per-address limit of 60 a
 * minute holds for the sending server on the receiver's port 25 too (one address, mx1's), as a
 * mail server under its peer's limit would send.
 */
const GAP_MS = 1100;

/**
 * Delivery latency: `n` messages, one at a time, from `from` to `to`; each timed from the start of
 * its submission to the moment an IMAP IDLE on the recipient's INBOX sees it (by subject).
 * One warm-up message first (the pair passes postscreen once), not counted. They leave from
 * `addresses` in turn (one pooled connection, one AUTH, per address): from one address, 100
 * messages at under a second each pass Postfix's 60 a minute and get "450 4.7.1 too much mail"
 * (the 2026-12-03 baseline lost its p95 to it).
 */
export async function deliveryTimes(from: Account, to: Account, n: number, tag: string, addresses: string[] = []): Promise<{ ms: number[]; lost: number; unsent: number; errors: string[] }> {
  const c = await imapClient(to, 20); // back in IDLE 20 ms after each fetch, so the next EXISTS is pushed at once
  const seen = new Map<string, number>();
  let waiting: (() => void) | null = null;
  const box = await c.mailboxOpen("INBOX");
  const poll = async (subject: string, timeoutMs: number): Promise<boolean> => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (seen.has(subject)) return true;
      await new Promise<void>((r) => {
        waiting = r;
        setTimeout(r, 50);
      });
    }
    return false;
  };
  // One loop reads new messages' subjects whenever the server says the mailbox grew.
  let lastUid = Number(box.uidNext) - 1;
  let reading = false;
  let again = false;
  const read = async () => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        for await (const m of c.fetch(`${lastUid + 1}:*`, { envelope: true }, { uid: true })) {
          if (m.uid <= lastUid) continue;
          lastUid = Math.max(lastUid, m.uid);
          if (m.envelope?.subject) seen.set(m.envelope.subject, performance.now());
        }
      } while (again);
    } catch {
      /* retried at the next EXISTS */
    } finally {
      reading = false;
      waiting?.();
    }
  };
  c.on("exists", () => void read());
  const sources = addresses.length ? addresses : [undefined];
  const trs = sources.map((a) => transport(from, a, true));
  const ms: number[] = [];
  const errors: string[] = [];
  let lost = 0;
  let unsent = 0;
  try {
    for (let i = -1; i < n; i++) {
      const subject = `bench delivery ${tag} ${i < 0 ? "warm-up" : i}`;
      const start = performance.now();
      let t0 = 0;
      let accepted = false;
      // a refusal (4xx) is retried on a new connection, up to RETRIES times, and recorded
      const k = (i + 1) % sources.length;
      for (let attempt = 1; !accepted && attempt <= RETRIES; attempt++) {
        t0 = performance.now();
        try {
          await trs[k]!.sendMail({ from: from.user, to: to.user, subject, headers: { "X-Mailstead-Bench": tag }, text: `delivery ${i}\r\n` });
          accepted = true;
        } catch (e) {
          errors.push(`attempt ${attempt}: ${(e as Error).message.slice(0, 200)}`);
          trs[k]!.close();
          await sleep(3000);
          trs[k] = transport(from, sources[k], true);
        }
      }
      if (!accepted) {
        unsent++;
        continue;
      }
      let ok = await poll(subject, 2_000);
      if (!ok) {
        await read(); // an EXISTS may have come while a fetch ran
        ok = await poll(subject, 28_000);
      }
      if (!ok) lost++;
      else if (i >= 0) ms.push(seen.get(subject)! - t0);
      const rest = GAP_MS - (performance.now() - start);
      if (rest > 0) await sleep(rest);
    }
  } finally {
    for (const t of trs) t.close();
    await c.logout().catch(() => {});
  }
  return { ms, lost, unsent, errors };
}

/** Time `fn` `n` times after one warm-up; milliseconds. */
export async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** IMAP on a large folder: SELECT + FETCH of the 50 newest envelopes, and a SEARCH by subject. */
export async function imapTimes(a: Account, folder: string, needle: string, n: number): Promise<{ selectFetchMs: number[]; searchMs: number[]; messages: number; found: number }> {
  const c = await imapClient(a);
  try {
    let messages = 0;
    const selectFetchMs = await timed(n, async () => {
      const box = await c.mailboxOpen(folder, { readOnly: true });
      messages = box.exists;
      let k = 0;
      for await (const m of c.fetch(`${Math.max(1, box.exists - 49)}:*`, { envelope: true })) if (m.envelope) k++;
      if (k !== Math.min(50, box.exists)) throw new Error(`FETCH returned ${k} envelopes`);
      await c.mailboxClose();
    });
    await c.mailboxOpen(folder, { readOnly: true });
    let found = 0;
    const searchMs = await timed(n, async () => {
      found = ((await c.search({ subject: needle })) || []).length;
    });
    return { selectFetchMs, searchMs, messages, found };
  } finally {
    await c.logout().catch(() => {});
  }
}

/**
 * A Roundcube session as a browser holds one: log in through the form, then read (the message
 * list of INBOX and its newest message) on each `read()`. Pebble's root is trusted; the name is
 * sent, the lab address connected to.
 */
export async function webmailSession(a: Account, caFile: string): Promise<{ read: () => Promise<number>; logout: () => Promise<void> }> {
  const ca = readFileSync(caFile);
  const cookies = new Map<string, string>();
  const go = (path: string, form?: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string; location?: string }>((resolve, reject) => {
      const req = request(
        {
          host: a.host,
          servername: a.name,
          port: 443,
          path,
          method: form ? "POST" : "GET",
          ca,
          timeout: 30_000,
          headers: {
            Host: a.name,
            Cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "),
            ...(form ? { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(form) } : {}),
            ...headers,
          },
        },
        (res) => {
          for (const sc of res.headers["set-cookie"] ?? []) {
            const [kv] = sc.split(";");
            const i = kv!.indexOf("=");
            cookies.set(kv!.slice(0, i), kv!.slice(i + 1));
          }
          let b = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (b += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b, location: res.headers.location }));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`webmail ${path}: timeout`)));
      req.on("error", reject);
      req.end(form);
    });
  const page = await go("/");
  const token = /name="_token" value="([^"]+)"/.exec(page.body)?.[1];
  if (!token) throw new Error(`webmail on ${a.name}: no login form (HTTP ${page.status})`);
  const form = new URLSearchParams({ _token: token, _task: "login", _action: "login", _timezone: "UTC", _url: "", _user: a.user, _pass: a.pass }).toString();
  const login = await go("/?_task=login", form);
  if (login.status !== 302) throw new Error(`webmail on ${a.name}: login answered HTTP ${login.status}`);
  const mail = await go("/?_task=mail&_mbox=INBOX");
  const rcToken = /"request_token":"([^"]+)"/.exec(mail.body)?.[1];
  if (!rcToken) throw new Error(`webmail on ${a.name}: logged in, but no request token on the mail page`);
  const ajax = { "X-Roundcube-Request": rcToken, "X-Requested-With": "XMLHttpRequest" };
  return {
    read: async () => {
      const t0 = performance.now();
      const list = await go(`/?_task=mail&_action=list&_mbox=INBOX&_page=1&_remote=1&_unlock=0`, undefined, ajax);
      if (list.status !== 200) throw new Error(`webmail list: HTTP ${list.status}`);
      const uid = /add_message_row\((\d+)/.exec(list.body)?.[1];
      if (uid) await go(`/?_task=mail&_action=show&_uid=${uid}&_mbox=INBOX`);
      return performance.now() - t0;
    },
    logout: async () => void (await go(`/?_task=logout&_token=${rcToken}`).catch(() => undefined)),
  };
}
