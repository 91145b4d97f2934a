/** Real mail clients for the e2e tests: nodemailer (submission) and imapflow (IMAPS). */
import { ImapFlow } from "imapflow";
import nodemailer from "nodemailer";
import { sleep } from "../lab/util.js";

export interface Account {
  host: string; // IP address
  user: string; // full address
  pass: string;
}

/** Submit a message on 587 (STARTTLS required) or 465 (implicit TLS). The lab certificate is self-signed. */
export async function submit(acct: Account, port: 587 | 465, msg: nodemailer.SendMailOptions): Promise<nodemailer.SentMessageInfo> {
  const t = nodemailer.createTransport({
    host: acct.host,
    port,
    secure: port === 465,
    requireTLS: port === 587,
    auth: { user: acct.user, pass: acct.pass },
    tls: { rejectUnauthorized: false, minVersion: "TLSv1.2" },
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
  });
  try {
    return await t.sendMail(msg);
  } finally {
    t.close();
  }
}

export async function imap<T>(acct: Account, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = new ImapFlow({ host: acct.host, port: 993, secure: true, auth: { user: acct.user, pass: acct.pass }, tls: { rejectUnauthorized: false }, logger: false });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout().catch(() => {});
  }
}

export interface Found {
  uid: number;
  source: Buffer;
  parts: { part: string; type: string; filename?: string; disposition?: string }[];
}

/** Find a message by subject in a mailbox (null when absent). */
export async function findMessage(c: ImapFlow, mailbox: string, subject: string): Promise<Found | null> {
  const lock = await c.getMailboxLock(mailbox);
  try {
    const uids = (await c.search({ subject }, { uid: true })) || [];
    if (!uids.length) return null;
    const uid = uids[uids.length - 1]!;
    const msg = await c.fetchOne(String(uid), { source: true, bodyStructure: true }, { uid: true });
    if (!msg) return null;
    const parts: Found["parts"] = [];
    const walk = (n: any) => {
      if (n.childNodes) n.childNodes.forEach(walk);
      else parts.push({ part: n.part ?? "1", type: n.type, filename: n.dispositionParameters?.filename ?? n.parameters?.name, disposition: n.disposition });
    };
    walk(msg.bodyStructure);
    return { uid, source: msg.source as Buffer, parts };
  } finally {
    lock.release();
  }
}

/** The decoded content of one MIME part. */
export async function downloadPart(c: ImapFlow, mailbox: string, uid: number, part: string): Promise<Buffer> {
  const lock = await c.getMailboxLock(mailbox);
  try {
    const { content } = await c.download(String(uid), part, { uid: true });
    const chunks: Buffer[] = [];
    if (!content) throw new Error(`part ${part} of uid ${uid} has no content`);
    for await (const ch of content) chunks.push(ch as Buffer);
    return Buffer.concat(chunks);
  } finally {
    lock.release();
  }
}

/** Poll until `probe` returns non-null, calling `nudge` between tries; bounded by time. */
export async function waitFor<T>(probe: () => Promise<T | null>, opts: { timeoutMs: number; everyMs?: number; nudge?: () => Promise<unknown> }): Promise<T | null> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > end) return null;
    await opts.nudge?.().catch(() => {});
    await sleep(opts.everyMs ?? 3000);
  }
}

/**
 * A minimal ManageSieve client (RFC 5804) over node's net/tls: greeting, STARTTLS,
 * AUTHENTICATE PLAIN, PUTSCRIPT, SETACTIVE, LISTSCRIPTS, LOGOUT. Returns the
 * transcript (client lines prefixed "C: ", the password masked) and each command's
 * final response line. The lab certificate is self-signed (not verified here).
 */
export async function manageSieveUpload(acct: Account, name: string, script: string, opts: { skipStartTls?: boolean } = {}): Promise<{ transcript: string[]; responses: Record<string, string> }> {
  const net = await import("node:net");
  const tls = await import("node:tls");
  const transcript: string[] = [];
  const responses: Record<string, string> = {};
  let sock: import("node:net").Socket = net.connect({ host: acct.host, port: 4190 });
  let buf = "";
  let waiter: (() => void) | null = null;
  const attach = (s: import("node:net").Socket) => {
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
      waiter?.();
    });
    s.on("error", () => waiter?.());
  };
  attach(sock);
  /** Read until a final response line (OK/NO/BYE), bounded by time. */
  const response = async (timeoutMs = 15_000): Promise<string> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const lines = buf.split("\r\n");
      const i = lines.findIndex((l) => /^(OK|NO|BYE)\b/.test(l));
      if (i >= 0) {
        transcript.push(...lines.slice(0, i + 1).map((l) => `S: ${l}`));
        buf = lines.slice(i + 1).join("\r\n");
        return lines[i]!;
      }
      if (Date.now() > end) throw new Error(`ManageSieve: no response in ${timeoutMs} ms; transcript:\n${transcript.join("\n")}\n${buf}`);
      await new Promise<void>((r) => {
        waiter = r;
        setTimeout(r, 500);
      });
    }
  };
  const send = async (key: string, line: string, shown = line) => {
    transcript.push(`C: ${shown}`);
    sock.write(`${line}\r\n`);
    responses[key] = await response();
    return responses[key]!;
  };
  try {
    await new Promise<void>((res, rej) => {
      sock.once("connect", () => res());
      sock.once("error", rej);
    });
    responses.greeting = await response();
    if (!opts.skipStartTls) {
      if (!/^OK/.test(await send("starttls", "STARTTLS"))) return { transcript, responses };
      const plain = sock;
      plain.removeAllListeners("data");
      sock = tls.connect({ socket: plain, rejectUnauthorized: false, minVersion: "TLSv1.2" });
      await new Promise<void>((res, rej) => {
        sock.once("secureConnect", () => res());
        sock.once("error", rej);
      });
      buf = "";
      attach(sock);
      transcript.push(`-- TLS ${(sock as import("node:tls").TLSSocket).getProtocol()}`);
      // RFC 5804 §2.2: the server sends its capabilities again after STARTTLS.
      responses.capabilities = await response();
    }
    const creds = Buffer.from(`\0${acct.user}\0${acct.pass}`).toString("base64");
    if (!/^OK/.test(await send("authenticate", `AUTHENTICATE "PLAIN" "${creds}"`, `AUTHENTICATE "PLAIN" "<masked>"`))) return { transcript, responses };
    const body = script.replace(/\r?\n/g, "\r\n");
    await send("putscript", `PUTSCRIPT "${name}" {${Buffer.byteLength(body)}+}\r\n${body}`, `PUTSCRIPT "${name}" {${Buffer.byteLength(body)}+} ...`);
    await send("setactive", `SETACTIVE "${name}"`);
    await send("listscripts", "LISTSCRIPTS");
    await send("logout", "LOGOUT").catch(() => "");
    return { transcript, responses };
  } finally {
    sock.destroy();
  }
}
