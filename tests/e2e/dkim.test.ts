/**
 * Mail authentication on real VMs: mx1 (Debian 12, example.test) signs with
 * OpenDKIM; mx2 (Debian 13, example.net) checks SPF, DKIM and DMARC with
 * OpenDKIM + OpenDMARC. The records come from playbooks/dns.ts, loaded into
 * the lab DNS. A delivered message is verified independently with the
 * `mailauth` library against the lab resolver.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { authenticate } from "mailauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLab, formatMem, labHost, memReport, setRecord, sshRun, type LabHost, type LabState } from "../lab/index.js";
import { genKey } from "../../roles/opendkim/index.js";
import { publishDns, labResolver, dnsLabVars, type DnsSnapshot } from "./dns-lab.js";
import { ROOT, site, stepsWith, type CliRun } from "./helpers.js";
import { findMessage, imap, submit, waitFor, type Account } from "./mail-clients.js";
import { testUsers, writeMailInventory, type MailInventory, type MailUserSpec } from "./mail-inventory.js";

let lab: LabState;
let inv: MailInventory;
let users: Record<string, MailUserSpec[]>;
let mx1: LabHost, mx2: LabHost, outsider: LabHost;
let first: CliRun;
let snap: DnsSnapshot | undefined;
const hashes: Record<string, string> = {};

const MX1 = "198.51.100.10";
const MX2 = "198.51.100.20";
const KEY = { mx1: "/etc/opendkim/keys/example.test/mail.private", mx2: "/etc/opendkim/keys/example.net/mail.private" };

function acct(host: "mx1" | "mx2", name: string): Account {
  const u = users[host]!.find((x) => x.name === name)!;
  return { host: host === "mx1" ? MX1 : MX2, user: `${name}@${host === "mx1" ? "example.test" : "example.net"}`, pass: u.password };
}
const token = () => randomBytes(6).toString("hex");
const out = (cmd: string, timeoutMs = 120_000) => sshRun(outsider, cmd, { nothrow: true, timeoutMs }).then((r) => `${r.stdout}\n${r.stderr}`);
const keyHash = async (h: LabHost, path: string) => createHash("sha256").update((await sshRun(h, `sudo cat ${path}`)).stdout).digest("hex");

/** The header blocks (unfolded) with this name. */
function headers(src: string, name: string): string[] {
  const head = src.split(/\r?\n\r?\n/)[0]!;
  return head.split(/\r?\n(?=\S)/).filter((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((h) => h.replace(/\r?\n\s+/g, " "));
}

/** swaks from outsider straight to mx2:25, twice (postscreen defers a new client's first session). */
async function swaksToMx2(args: string): Promise<string> {
  await out(`swaks --server ${MX2} --port 25 ${args} --timeout 30`);
  return out(`swaks --server ${MX2} --port 25 ${args} --timeout 30`);
}

async function waitIn(a: Account, box: string, subject: string, nudge?: LabHost, timeoutMs = 150_000) {
  return imap(a, (c) => waitFor(() => findMessage(c, box, subject), { timeoutMs, everyMs: 3000, nudge: nudge ? () => sshRun(nudge, "sudo postqueue -f", { nothrow: true }) : undefined }));
}

beforeAll(async () => {
  lab = await ensureLab();
  mx1 = labHost(lab, "mx1");
  mx2 = labHost(lab, "mx2");
  outsider = labHost(lab, "outsider");
  await sshRun(outsider, "sudo bash -s", { input: readFileSync(join(ROOT, "scripts/test-host-packages.sh"), "utf8"), timeoutMs: 300_000 });
  users = testUsers();
  inv = writeMailInventory(lab, users, { hashes, extra: { mx1: dnsLabVars, mx2: dnsLabVars } });
  first = await site(["-i", inv.path, "--limit", "mail"]);
  if (first.code !== 0) {
    console.log(`first converge failed (exit ${first.code}), retrying once:\n${stepsWith(first, "failed").join("\n")}`);
    first = await site(["-i", inv.path, "--limit", "mail"]);
  }
  console.log(`converge: ${first.seconds.toFixed(1)} s`);
  snap = (await publishDns(inv.path, lab)).snap;
});

afterAll(async () => {
  await snap?.restore();
});

describe("DKIM signing, SPF/DKIM/DMARC checks (opendkim + opendmarc)", () => {
  it("converges with every verify passing", () => {
    expect(stepsWith(first, "failed"), first.stdout.slice(-3000) + first.stderr).toEqual([]);
    expect(first.code).toBe(0);
    for (const host of ["mx1", "mx2"]) for (const role of ["opendkim", "opendmarc"]) {
      expect(first.report.steps.some((s) => s.host === host && s.role === role && s.kind === "verify" && s.status === "ok"), `${host} ${role} verify`).toBe(true);
    }
  });

  it("mx1 -> mx2: Authentication-Results on mx2 say spf=pass dkim=pass dmarc=pass; mailauth agrees with alignment", async () => {
    const subject = `dkim ${token()}`;
    await submit(acct("mx1", "alice"), 587, { from: "alice@example.test", to: "dave@example.net", subject, text: "Signed by mx1, checked by mx2.\n" });
    const found = await waitIn(acct("mx2", "dave"), "INBOX", subject, mx1);
    expect(found, `${subject} never reached dave's INBOX`).not.toBeNull();
    const src = found!.source.toString("utf8");
    const sig = headers(src, "DKIM-Signature");
    expect(sig.length, src.slice(0, 3000)).toBe(1);
    expect(sig[0]).toMatch(/\bd=example\.test;/);
    expect(sig[0]).toMatch(/\bs=mail;/);
    expect(sig[0]).toMatch(/\ba=rsa-sha256;/);
    const ar = headers(src, "Authentication-Results").filter((h) => /^Authentication-Results:\s*mx2\.example\.net;/i.test(h)).join("\n");
    console.log(ar);
    expect(ar).toMatch(/\bdkim=pass\b.*?header\.d=example\.test/);
    expect(ar).toMatch(/\bspf=pass\b[^;]*smtp\.mailfrom=example\.test/);
    expect(ar).toMatch(/\bdmarc=pass\b[^;]*header\.from=example\.test/);
    // Submitted mail is signed, not judged: mx1 added no Authentication-Results of its own.
    expect(headers(src, "Authentication-Results").filter((h) => /mx1\.example\.test/.test(h))).toEqual([]);
    // Independent check: the raw message as delivered, against the lab DNS.
    const r = labResolver();
    const res = await authenticate(found!.source, {
      ip: MX1,
      helo: "mx1.example.test",
      sender: "alice@example.test",
      mta: "verifier.example",
      resolver: (name: string, rr: string) => r.resolve(name, rr) as never,
    });
    // The body was delivered through LMTP with added headers only: the DKIM signature must still verify.
    expect(res.dkim.results.map((x) => x.status.result), JSON.stringify(res.dkim.results, null, 1)).toContain("pass");
    expect(res.spf && res.spf.status.result).toBe("pass");
    expect(res.dmarc && res.dmarc.status.result).toBe("pass");
    const al = (res.dmarc as { alignment?: { spf?: { result?: string | false }; dkim?: { result?: string | false } } }).alignment;
    expect(al?.dkim?.result).toBe("example.test");
    expect(al?.spf?.result).toBe("example.test");
  });

  it("mail made on mx1 itself (sendmail, non_smtpd_milters) is signed and passes at mx2", async () => {
    const subject = `local ${token()}`;
    await sshRun(mx1, `printf 'From: root@mx1.example.test\\nTo: dave@example.net\\nSubject: ${subject}\\n\\nfrom cron, say\\n' | sudo /usr/sbin/sendmail -f root@mx1.example.test dave@example.net`);
    const found = await waitIn(acct("mx2", "dave"), "INBOX", subject, mx1);
    expect(found, `${subject} never arrived`).not.toBeNull();
    const src = found!.source.toString("utf8");
    expect(headers(src, "DKIM-Signature")[0]).toMatch(/\bd=example\.test;/);
    const ar = headers(src, "Authentication-Results").filter((h) => /mx2\.example\.net;/.test(h)).join("\n");
    console.log(ar);
    expect(ar).toMatch(/\bdkim=pass\b.*?header\.d=example\.test/);
    expect(ar).toMatch(/\bspf=pass\b[^;]*smtp\.mailfrom=mx1\.example\.test/);
    // OpenDMARC finds no organizational domain for the lab's .test TLD (not in the public suffix
    // list), so the DMARC verdict on root@mx1.example.test is judged by mailauth (relaxed alignment).
    const r = labResolver();
    const res = await authenticate(found!.source, { ip: MX1, helo: "mx1.example.test", sender: "root@mx1.example.test", mta: "verifier.example", resolver: (n: string, rr: string) => r.resolve(n, rr) as never });
    expect(res.dmarc && res.dmarc.status.result, JSON.stringify(res.dmarc)).toBe("pass");
  });

  it("with OpenDKIM stopped (both releases): local mail from sendmail is still delivered, unsigned, not dropped; submission refuses with a 4xx instead of sending unsigned mail", async () => {
    const cases = [
      { h: mx1, a: acct("mx1", "alice"), from: "alice@example.test" },
      { h: mx2, a: acct("mx2", "dave"), from: "dave@example.net" },
    ];
    await Promise.all(cases.map(async ({ h, a, from }) => {
      await sshRun(h, "sudo systemctl stop opendkim");
      try {
        const subject = `milter away ${token()}`;
        await sshRun(h, `printf 'To: ${a.user}\\nSubject: ${subject}\\n\\nquota warning, say\\n' | sudo /usr/sbin/sendmail -f root ${a.user}`);
        const found = await waitIn(a, "INBOX", subject, h, 60_000);
        const log = (await sshRun(h, "sudo journalctl --since -3min --no-pager -o cat | grep -E 'milter|canceled' | tail -5", { nothrow: true })).stdout;
        expect(found, `${h.name}: local mail with OpenDKIM down never arrived; log:\n${log}`).not.toBeNull();
        expect(headers(found!.source.toString("utf8"), "DKIM-Signature"), h.name).toEqual([]);
        const err = await submit(a, 587, { from, to: a.user, subject: `${subject} smtp`, text: "must wait\n" }).then(() => null, (e: Error) => e);
        // A temporary refusal, so the client retries: Debian 12's Postfix says 451 4.7.1 at MAIL
        // FROM, Debian 13's (3.10) already refuses STARTTLS with 454 4.3.0.
        expect(err?.message ?? "accepted unsigned", h.name).toMatch(/\b4\d\d 4\.\d\.\d\b/);
      } finally {
        await sshRun(h, "sudo systemctl start opendkim");
      }
    }));
  });

  it("forged From: example.test from outsider to mx2: p=quarantine files it into Junk (every forged Authentication-Results and ARC header removed, two copies each of seven forms); p=reject refuses it at SMTP time", async () => {
    const dave = acct("mx2", "dave");
    const subject = `forged ${token()}`;
    // The attacker also brings its own "pass" verdicts, in every form OpenDMARC's parser reads as
    // mx2's own (authserv-id with a comment or a version, a leading comment, none at all) and in
    // another host's name, plus an ARC set; two copies of each (OpenDKIM's own removal can skip a
    // second copy). None may survive: every Authentication-Results in the delivered message is mx2's.
    const verdict = "dkim=pass header.d=example.test; spf=pass smtp.mailfrom=example.test; dmarc=pass header.from=example.test forged-marker";
    const forged = [
      `Authentication-Results: mx2.example.net; ${verdict}`,
      `Authentication-Results: mx2.example.net (c); ${verdict}`,
      `Authentication-Results: mx2.example.net 1; ${verdict}`,
      `Authentication-Results: (c) mx2.example.net; ${verdict}`,
      `Authentication-Results: mx2.example.net`,
      `Authentication-Results: relay.example.org; ${verdict}`,
      `Authentication-Results : mx2.example.net; ${verdict}`,
      `ARC-Authentication-Results: i=1; mx2.example.net; ${verdict}`,
      `ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.test; s=mail; b=forged-marker`,
    ].map((h) => h.replace(/^([^:]+): (.*)$/, (_, n: string, v: string) => `${n}: ${v}${v.includes("forged-marker") ? "" : " forged-marker"}`));
    const forgedAr = forged.flatMap((h) => [h, h]).map((h) => `--add-header '${h}'`).join(" ");
    const q = await swaksToMx2(`--ehlo outsider.example.net --from alice@example.test --to dave@example.net --header 'From: alice@example.test' --header 'Subject: ${subject}' ${forgedAr}`);
    expect(q).toMatch(/<- +250 .*queued as/);
    const junk = await waitIn(dave, "Junk", subject, undefined, 60_000);
    expect(junk, `${subject} is not in Junk\n${q}`).not.toBeNull();
    const inbox = await imap(dave, (c) => findMessage(c, "INBOX", subject));
    expect(inbox).toBeNull();
    const ar = headers(junk!.source.toString("utf8"), "Authentication-Results");
    console.log(ar.join("\n"));
    expect(ar.join("\n")).toMatch(/dmarc=fail \(p=quarantine/);
    expect(ar.join("\n")).not.toMatch(/dmarc=pass/);
    const src = junk!.source.toString("utf8");
    expect(src.split(/\r?\n\r?\n/)[0], "a forged header survived").not.toContain("forged-marker");
    for (const h of ar) expect(h).toMatch(/^Authentication-Results:\s*mx2\.example\.net;/i);
    expect(headers(src, "ARC-Seal")).toEqual([]);
    // The policy is the domain's: publish p=reject (afterAll restores dns.ts's records).
    await setRecord("_dmarc.example.test", "TXT", ['"v=DMARC1; p=reject; rua=mailto:postmaster@example.test"'], { state: lab });
    const subject2 = `forged-reject ${token()}`;
    const r = await swaksToMx2(`--ehlo outsider.example.net --from alice@example.test --to dave@example.net --header 'From: alice@example.test' --header 'Subject: ${subject2}'`);
    expect(r).toMatch(/<\*\* +550 5\.7\.1 .*DMARC/i);
    expect(await imap(dave, (c) => findMessage(c, "INBOX", subject2))).toBeNull();
    expect(await imap(dave, (c) => findMessage(c, "Junk", subject2))).toBeNull();
  });

  it("the DKIM key survives a re-converge unchanged; the second converge changes nothing", async () => {
    const before = { mx1: await keyHash(mx1, KEY.mx1), mx2: await keyHash(mx2, KEY.mx2) };
    const second = await site(["-i", inv.path, "--limit", "mail"]);
    expect(second.code, second.stdout.slice(-2000) + second.stderr).toBe(0);
    expect(stepsWith(second, "changed")).toEqual([]);
    expect(second.stdout).toMatch(/^mx1\s+ok=\d+ changed=0 failed=0/m);
    expect(second.stdout).toMatch(/^mx2\s+ok=\d+ changed=0 failed=0/m);
    expect({ mx1: await keyHash(mx1, KEY.mx1), mx2: await keyHash(mx2, KEY.mx2) }).toEqual(before);
    console.log(`second converge (no-op): ${second.seconds.toFixed(1)} s`);
  });

  it("opendkim_ed25519 is refused (Debian's OpenDKIM cannot sign with two algorithms) when the inventory loads; mail stays signed", async () => {
    const edInv = writeMailInventory(lab, users, { hashes, extra: { mx1: { ...dnsLabVars, opendkim_ed25519: true }, mx2: dnsLabVars } });
    const r = await site(["-i", edInv.path, "--limit", "mx1", "--tags", "opendkim"]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/\.yml:\d+: hosts\.mx1\.vars\.opendkim_ed25519: .*rsa-sha256.* — set opendkim_ed25519: false/);
    expect(r.report.steps).toEqual([]);
    const subject = `after-ed ${token()}`;
    await submit(acct("mx1", "alice"), 587, { from: "alice@example.test", to: "dave@example.net", subject, text: "still signed\n" });
    const found = await waitIn(acct("mx2", "dave"), "INBOX", subject, mx1);
    expect(found).not.toBeNull();
    expect(headers(found!.source.toString("utf8"), "DKIM-Signature")).toHaveLength(1);
  });

  it("key generation never writes through a link the opendkim user planted (both releases)", async () => {
    // The keys directory belongs to opendkim: a compromised opendkim could plant links at the
    // temporary and final names, hoping root writes or chowns through them.
    const dir = "/etc/opendkim/keys/symlink.invalid";
    const cmd = genKey({ name: "rsa", algorithm: "rsa", selector: "mail", path: `${dir}/mail.private`, pem: `${dir}/mail.private` });
    for (const h of [mx1, mx2]) {
      await sshRun(h, `sudo sh -c 'rm -rf ${dir} /root/victim /root/victim-new; install -d -o opendkim -g opendkim -m 700 ${dir}; echo keep > /root/victim; chmod 600 /root/victim'`);
      await sshRun(h, `sudo -u opendkim ln -s /root/victim ${dir}/mail.private.tmp && sudo -u opendkim ln -s /root/victim-new ${dir}/mail.private`);
      await sshRun(h, "sudo sh", { input: cmd, timeoutMs: 60_000 });
      const state = await sshRun(h, `sudo sh -c 'cat /root/victim; stat -c "%U %a" /root/victim; test -e /root/victim-new && echo new-exists; stat -c "%F %U %a" ${dir}/mail.private; test -e ${dir}/mail.private.tmp && echo tmp-left; openssl pkey -in ${dir}/mail.private -noout && echo key-ok'`);
      expect(state.stdout.trim().split("\n"), h.name).toEqual(["keep", "root 600", "regular file opendkim 600", "key-ok"]);
      await sshRun(h, `sudo rm -rf ${dir} /root/victim /root/victim-new`);
    }
  });

  it("OpenDKIM and OpenDMARC stay small after this traffic (PSS; bounds in docs/memory.md)", async () => {
    for (const h of [mx1, mx2]) {
      const m = await memReport(h);
      const pss = (u: string) => (m.units.find((x) => x.unit === u)?.pssKiB ?? NaN) / 1024;
      console.log(`${h.name} (${h.os}): opendkim ${pss("opendkim.service").toFixed(1)} MiB, opendmarc ${pss("opendmarc.service").toFixed(1)} MiB PSS`);
      // Measured 7.0-8.3 MiB (one process; it grows with the signing and its resolver's cache, and PSS
      // moves with how many other processes share its libraries) and ~2.5 MiB. The bounds leave room
      // and fail on a runaway (e.g. a second daemon, a leak).
      expect(pss("opendkim.service"), formatMem(m)).toBeLessThan(10);
      expect(pss("opendmarc.service"), formatMem(m)).toBeLessThan(5);
    }
  });
});
