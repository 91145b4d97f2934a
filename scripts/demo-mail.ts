/**
 * The demo's mail round trip (run by scripts/demo.sh after both mail hosts converged):
 * alice@example.test submits a message to mx1:587 (STARTTLS + AUTH), mx1 delivers it to
 * mx2 (the MX of example.net), and dave@example.net reads it back over IMAPS on mx2:993.
 *
 * Users and passwords come from the lab state (tests/lab/.state/lab.json, `mail.users`).
 * TLS is verified for real rather than switched off, with the host name checked: mx1's
 * certificate comes from the lab's ACME CA (Pebble, certbot role), whose issuing root is the
 * trust anchor; mx2 keeps a self-signed certificate, fetched over SSH (the lab's verified
 * known_hosts) and used as its own trust anchor.
 */
import { readFileSync } from "node:fs";
import { ImapFlow } from "imapflow";
import nodemailer from "nodemailer";
import { labHost, loadLabState, sshRun, type LabHost, type LabState } from "../tests/lab/index.js";

const TLS_CERT = "/etc/mailstead/tls/fullchain.pem";
const step = (s: string) => console.log(`== ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function user(state: LabState, host: string): { address: string; password: string } {
  const u = state.mail?.users.find((x) => x.host === host);
  if (!u) throw new Error(`no demo mailbox for ${host} in the lab state: run \`npm run lab -- up\` again`);
  return u;
}

/** The host's certificate, read over SSH; a demo that cannot verify TLS stops here. */
async function hostCert(h: LabHost): Promise<string> {
  const r = await sshRun(h, `sudo cat ${TLS_CERT}`);
  if (!r.stdout.includes("BEGIN CERTIFICATE")) throw new Error(`${h.name}: no certificate at ${TLS_CERT}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const state = loadLabState();
  const mx1 = labHost(state, "mx1");
  const mx2 = labHost(state, "mx2");
  const alice = user(state, "mx1");
  const dave = user(state, "mx2");

  step(`trust anchors: the lab ACME CA's root (${mx1.fqdn}) and ${mx2.fqdn}'s self-signed certificate, fetched over SSH`);
  // mx1's certificate chains to Pebble's root; its own certificate is added too, so a host
  // still on the self-signed stand-in (no ACME) also verifies.
  const [own1, ca2] = await Promise.all([hostCert(mx1), hostCert(mx2)]);
  const ca1 = [readFileSync(state.acme.rootCa, "utf8"), own1];

  const subject = `mailstead demo ${new Date().toISOString()}`;
  const text = `Hello Dave,\n\nthis message went from ${alice.address} through ${mx1.fqdn}:587 (STARTTLS + AUTH)\nto ${mx2.fqdn}, the MX of example.net.\n\nAlice\n`;
  step(`submit ${alice.address} -> ${dave.address} on ${mx1.fqdn}:587 (${mx1.address}), STARTTLS required, AUTH as ${alice.address}`);
  const smtp = nodemailer.createTransport({
    host: mx1.address,
    port: 587,
    secure: false,
    requireTLS: true,
    auth: { user: alice.address, pass: alice.password },
    tls: { ca: ca1, servername: mx1.fqdn, minVersion: "TLSv1.2" },
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
  });
  let info: { messageId: string; response: string };
  try {
    info = await smtp.sendMail({ from: alice.address, to: dave.address, subject, text });
  } finally {
    smtp.close();
  }
  console.log(`   accepted: ${info.response} (Message-ID ${info.messageId})`);

  step(`read it back over IMAPS on ${mx2.fqdn}:993 (${mx2.address}) as ${dave.address} with imapflow`);
  const imap = new ImapFlow({
    host: mx2.address,
    port: 993,
    secure: true,
    servername: mx2.fqdn,
    auth: { user: dave.address, pass: dave.password },
    tls: { ca: ca2, servername: mx2.fqdn, minVersion: "TLSv1.2" },
    logger: false,
  });
  await imap.connect();
  try {
    const tlsInfo = (imap as unknown as { socket?: { getProtocol?(): string | null; getCipher?(): { name: string } } }).socket;
    if (tlsInfo?.getProtocol) console.log(`   TLS: ${tlsInfo.getProtocol()} ${tlsInfo.getCipher?.().name ?? ""}, certificate verified for ${mx2.fqdn}`);
    // mx2's postscreen defers a first-time sending server once (RFC 5321 retry); mx1 retries
    // on its queue schedule, so the demo asks mx1 to flush its queue while it waits (bounded).
    const deadline = Date.now() + 180_000;
    let uid: number | undefined;
    for (let i = 0; Date.now() < deadline && uid === undefined; i++) {
      const lock = await imap.getMailboxLock("INBOX");
      try {
        const uids = (await imap.search({ subject }, { uid: true })) || [];
        uid = uids[uids.length - 1];
      } finally {
        lock.release();
      }
      if (uid !== undefined) break;
      if (i === 0) console.log("   not there yet; flushing mx1's queue and waiting (postscreen on mx2 defers a new sender's first attempt)");
      await sshRun(mx1, "sudo postqueue -f", { nothrow: true });
      await sleep(3000);
    }
    if (uid === undefined) throw new Error(`the message did not arrive in 180 s; see \`npm run lab -- ssh mx1 sudo postqueue -p\` and mx2's journal`);
    const lock = await imap.getMailboxLock("INBOX");
    try {
      const msg = await imap.fetchOne(String(uid), { envelope: true, source: true }, { uid: true });
      if (!msg) throw new Error(`uid ${uid} vanished`);
      const src = (msg.source as Buffer).toString("utf8");
      // The body as the client decodes it (nodemailer sent it quoted-printable).
      const { content } = await imap.download(String(uid), "1", { uid: true });
      const chunks: Buffer[] = [];
      if (!content) throw new Error(`uid ${uid} has no body part`);
      for await (const ch of content) chunks.push(ch as Buffer);
      const body = Buffer.concat(chunks).toString("utf8").replace(/\r\n/g, "\n").trim();
      console.log(`   found in INBOX (uid ${uid}): From ${msg.envelope?.from?.[0]?.address} "${msg.envelope?.subject}"`);
      for (const l of src.split(/\r?\n(?=\S)/).filter((x) => /^Received:/i.test(x))) console.log(`   ${l.replace(/\r?\n\s+/g, " ")}`);
      console.log(`   body:\n${body.split("\n").map((l) => `     | ${l}`).join("\n")}`);
      if (body !== text.trim()) throw new Error("the body read back differs from the one sent");
      // mx1 signed it (OpenDKIM); mx2 checked SPF, DKIM and DMARC (OpenDKIM + OpenDMARC) against the lab DNS.
      const ar = src.split(/\r?\n(?=\S)/).filter((x) => x.startsWith(`Authentication-Results: ${mx2.fqdn};`)).map((x) => x.replace(/\r?\n\s+/g, " "));
      for (const l of ar) console.log(`   ${l}`);
      const verdicts = ["dkim", "spf", "dmarc"].map((m) => `${m}=${new RegExp(`\\b${m}=(\\w+)`).exec(ar.join(" "))?.[1] ?? "none"}`);
      console.log(`   verdicts at ${mx2.fqdn}: ${verdicts.join(" ")}`);
      if (verdicts.join(" ") !== "dkim=pass spf=pass dmarc=pass") throw new Error(`expected dkim=pass spf=pass dmarc=pass, got ${verdicts.join(" ")}: are the records published (npx tsx scripts/demo-dns.ts)?`);
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout().catch(() => {});
  }
  step("mail round trip done: sent on 587 with STARTTLS + AUTH, signed by mx1 (DKIM), delivered mx1 -> mx2 with dkim=pass spf=pass dmarc=pass, read back over IMAPS");
}

main().catch((e: Error) => {
  console.error(`demo-mail: ${e.message}`);
  process.exit(1);
});
