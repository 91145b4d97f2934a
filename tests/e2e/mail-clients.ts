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
