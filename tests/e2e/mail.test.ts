/**
 * The mail core on real VMs with real clients: mx1 (Debian 12, example.test)
 * and mx2 (Debian 13, example.net) converged by the site playbook with this
 * test's own inventory; outsider plays the internet (swaks, nmap, testssl.sh,
 * openssl, installed by scripts/test-host-packages.sh).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLab, formatMem, labHost, memReport, sshRun, type LabHost, type LabState } from "../lab/index.js";
import { ROOT, site, stepsWith, type CliRun } from "./helpers.js";
import { downloadPart, findMessage, imap, manageSieveUpload, submit, waitFor, type Account } from "./mail-clients.js";
import { testUsers, writeMailInventory, type MailInventory, type MailUserSpec } from "./mail-inventory.js";

let lab: LabState;
let inv: MailInventory;
let users: Record<string, MailUserSpec[]>;
const hashes: Record<string, string> = {};
let mx1: LabHost, mx2: LabHost, outsider: LabHost;
let first: CliRun;

const MX1 = "198.51.100.10";
const MX2 = "198.51.100.20";

function acct(host: "mx1" | "mx2", name: string): Account {
  const u = users[host]!.find((x) => x.name === name)!;
  return { host: host === "mx1" ? MX1 : MX2, user: `${name}@${host === "mx1" ? "example.test" : "example.net"}`, pass: u.password };
}
const out = (cmd: string, timeoutMs = 120_000) => sshRun(outsider, cmd, { nothrow: true, timeoutMs }).then((r) => `${r.stdout}\n${r.stderr}`);
const flush = (h: LabHost) => sshRun(h, "sudo postqueue -f", { nothrow: true });
const token = () => randomBytes(6).toString("hex");

/** Run swaks against port 25 twice: postscreen's deep tests defer a new client's first session. */
async function swaks25(args: string): Promise<string> {
  await out(`swaks --server ${MX1} --port 25 ${args} --timeout 30`);
  return out(`swaks --server ${MX1} --port 25 ${args} --timeout 30`);
}

beforeAll(async () => {
  lab = await ensureLab();
  mx1 = labHost(lab, "mx1");
  mx2 = labHost(lab, "mx2");
  outsider = labHost(lab, "outsider");
  const pk = await sshRun(outsider, "sudo bash -s", { input: readFileSync(join(ROOT, "scripts/test-host-packages.sh"), "utf8"), timeoutMs: 300_000 });
  console.log(pk.stdout.trim());
  users = testUsers();
  inv = writeMailInventory(lab, users, { hashes });
  // No retry: a first converge that fails is a failure (the test below says which steps).
  first = await site(["-i", inv.path, "--limit", "mail"]);
  console.log(`mail converge: first ${first.seconds.toFixed(1)} s`);
});

afterAll(async () => {
  if (!lab) return;
  for (const h of [mx1, mx2]) {
    if (!h) continue;
    try {
      console.log(formatMem(await memReport(h)));
    } catch (e) {
      console.log(`memory report of ${h.name} failed: ${(e as Error).message}`);
    }
  }
});

describe("mail core (postfix + dovecot) on Debian 12 and 13", () => {
  it("converges mx1 and mx2 with every verify passing; a second run changes nothing", async () => {
    expect(stepsWith(first, "failed"), first.stdout + first.stderr).toEqual([]);
    expect(first.code).toBe(0);
    for (const host of ["mx1", "mx2"]) for (const role of ["tls", "mailbox", "postfix", "dovecot"]) {
      expect(first.report.steps.some((s) => s.host === host && s.role === role && s.kind === "verify"), `${host} ${role} verify`).toBe(true);
    }
    const second = await site(["-i", inv.path, "--limit", "mail"]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(stepsWith(second, "changed")).toEqual([]);
    expect(second.stdout).toMatch(/^mx1\s+ok=\d+ changed=0 failed=0/m);
    expect(second.stdout).toMatch(/^mx2\s+ok=\d+ changed=0 failed=0/m);
    console.log(`mail converge: second (no-op) ${second.seconds.toFixed(1)} s`);
  });

  it("delivers example.test -> example.net (587) and back (465); body and attachment byte-identical; client headers stripped", async () => {
    for (const [from, fromHost, to, toHost, port, sender] of [
      [acct("mx1", "alice"), mx1, acct("mx2", "dave"), mx2, 587, "alice@example.test"],
      [acct("mx2", "dave"), mx2, acct("mx1", "alice"), mx1, 465, "dave@example.net"],
    ] as const) {
      const subject = `e2e ${token()}`;
      const attachment = randomBytes(300_000);
      const text = `Hello from ${sender}.\nLine two with ümlauts.\n`;
      const t0 = performance.now();
      await submit(from, port, {
        from: sender,
        to: to.user,
        subject,
        text,
        headers: { "User-Agent": "SecretClient/9.9", "X-Mailer": "SecretMailer 1.0" },
        attachments: [{ filename: "blob.bin", content: attachment, contentType: "application/octet-stream" }],
      });
      const found = await imap(to, (c) =>
        waitFor(() => findMessage(c, "INBOX", subject), { timeoutMs: 150_000, everyMs: 3000, nudge: () => flush(fromHost) }),
      );
      expect(found, `${subject} never arrived at ${to.user}`).not.toBeNull();
      console.log(`delivery ${sender} -> ${to.user} via ${port}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const src = found!.source.toString("latin1");
      expect(src).not.toMatch(/^User-Agent:/im);
      expect(src).not.toMatch(/^X-Mailer:/im);
      expect(src).not.toContain("[198.51.100.1]");
      const att = found!.parts.find((p) => p.filename === "blob.bin");
      const txt = found!.parts.find((p) => p.type === "text/plain");
      expect(att && txt, JSON.stringify(found!.parts)).toBeTruthy();
      const got = await imap(to, (c) => downloadPart(c, "INBOX", found!.uid, att!.part));
      expect(got.equals(attachment)).toBe(true);
      const body = await imap(to, (c) => downloadPart(c, "INBOX", found!.uid, txt!.part));
      expect(body.toString("utf8").replace(/\r\n/g, "\n")).toBe(text);
    }
  });

  it("is no open relay: swaks and nmap smtp-open-relay from outsider", async () => {
    const r = await swaks25(`--from probe@example.net --to victim@example.org --quit-after RCPT`);
    expect(r).toMatch(/<\*\* 554 5\.7\.1 .*Relay access denied/);
    const n = await out(`nmap -Pn -p 25,465,587 --script smtp-open-relay --script-args smtp-open-relay.domain=example.net ${MX1}`, 300_000);
    expect(n).not.toMatch(/is an open relay/i);
    expect(n).toMatch(/doesn't seem to be an open relay|Server doesn't seem/i);
  });

  it("offers no AUTH on 25 nor before STARTTLS on 587; refuses MAIL before STARTTLS on 587", async () => {
    const p25 = await swaks25(`--tls --quit-after HELO --from probe@example.net --to alice@example.test`);
    expect(p25).toMatch(/STARTTLS/);
    expect(p25).toMatch(/<~? +250.*SIZE 10485760/);
    expect(p25).not.toMatch(/250[ -]AUTH/);
    const pre = await out(`swaks --server ${MX1} --port 587 --quit-after FIRST-HELO --timeout 30`);
    expect(pre).toMatch(/STARTTLS/);
    expect(pre).not.toMatch(/250[ -]AUTH/);
    const post = await out(`swaks --server ${MX1} --port 587 --tls --quit-after HELO --timeout 30`);
    expect(post).toMatch(/250[ -]AUTH PLAIN LOGIN/);
    const mail = await out(`swaks --server ${MX1} --port 587 --from alice@example.test --to dave@example.net --quit-after MAIL --timeout 30`);
    expect(mail).toMatch(/<\*\* 530 5\.7\.0 Must issue a STARTTLS command first/);
    const sieve = await out(`bash -c 'exec 3<>/dev/tcp/${MX1}/4190; timeout 3 cat <&3; true'`);
    expect(sieve).toMatch(/"STARTTLS"/);
    expect(sieve).toMatch(/"SASL" ""/);
  });

  it("refuses TLS 1.0/1.1 and non-AEAD suites; offers TLS 1.3 (testssl.sh JSON on 25, 465, 587, 993; openssl with SECLEVEL=0)", async () => {
    const targets: [string, string][] = [["25", "-t smtp"], ["587", "-t smtp"], ["465", ""], ["993", ""]];
    const cmd = targets
      .map(([p, st]) => `(timeout 900 testssl --quiet --warnings off --color 0 -p -E --jsonfile /tmp/tls-${p}.json ${st} ${MX1}:${p} >/tmp/tls-${p}.log 2>&1; echo "exit ${p} $?")`)
      .join(" & ");
    const t0 = performance.now();
    await sshRun(outsider, `rm -f /tmp/tls-*.json; ${cmd}; wait`, { nothrow: true, timeoutMs: 960_000 });
    console.log(`testssl on 4 ports: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    for (const [p] of targets) {
      const raw = (await sshRun(outsider, `cat /tmp/tls-${p}.json`, { nothrow: true })).stdout;
      const findings = JSON.parse(raw) as { id: string; finding: string }[];
      const f = (id: string) => findings.find((x) => x.id === id)?.finding ?? "(missing)";
      for (const id of ["SSLv2", "SSLv3", "TLS1", "TLS1_1"]) expect(f(id), `${p} ${id}`).toMatch(/not offered/);
      expect(f("TLS1_2"), `${p} TLS1_2`).toMatch(/^offered/);
      expect(f("TLS1_3"), `${p} TLS1_3`).toMatch(/offered/);
      expect(f("TLS1_3"), `${p} TLS1_3`).not.toMatch(/not offered/);
      const tls12 = findings.filter((x) => /^cipher-tls1_2_x/.test(x.id));
      expect(tls12.length, `${p}: no TLS 1.2 suites listed`).toBeGreaterThan(0);
      for (const c of tls12) expect(c.finding, `${p}: ${c.finding}`).toMatch(/ECDHE.*(GCM|CHACHA20)|(GCM|CHACHA20).*ECDH/);
      for (const old of findings.filter((x) => /^cipher-(tls1|tls1_1|ssl3)_x/.test(x.id))) expect.fail(`${p}: ${old.finding}`);
    }
    // Negative protocol tests need an OpenSSL 3 client that is willing (field notes: SECLEVEL=0);
    // TLS 1.2 with the same client is the positive control.
    const hs = (p: string, st: string, v: string) =>
      out(`echo | timeout 15 openssl s_client -connect ${MX1}:${p} ${st} ${v} -cipher 'DEFAULT@SECLEVEL=0' 2>&1 | grep -E '^New, |alert|no protocols available' | head -3`);
    for (const [p, st] of [["465", ""], ["993", ""], ["587", "-starttls smtp"], ["25", "-starttls smtp"]] as const) {
      for (const v of ["-tls1", "-tls1_1"]) {
        const r = await hs(p, st, v);
        expect(r, `${p} ${v}`).not.toMatch(/^New, TLSv1(\.1)?, Cipher is (?!\(NONE\))/m);
        expect(r, `${p} ${v}`).toMatch(/alert|no protocols available|Cipher is \(NONE\)/);
      }
      expect(await hs(p, st, "-tls1_2"), `${p} TLS 1.2 positive control`).toMatch(/^New, TLSv1\.2, Cipher is ECDHE-/m);
    }
  });

  it("refuses spoofing another local user but accepts the user's own alias", async () => {
    const alice = acct("mx1", "alice");
    const err = await submit(alice, 587, { from: "bob@example.test", to: "dave@example.net", subject: "spoof", text: "x" }).then(() => null, (e: { responseCode?: number; response?: string }) => e);
    expect(err?.responseCode, String(err?.response)).toBe(553);
    expect(err?.response).toMatch(/not owned by user/);
    await submit(alice, 587, { from: "info@example.test", to: "bob@example.test", subject: `alias ${token()}`, text: "ok" });
  });

  it("refuses an 11 MiB message with 552", async () => {
    const err = await submit(acct("mx1", "alice"), 587, {
      from: "alice@example.test",
      to: "bob@example.test",
      subject: "too big",
      text: "x",
      attachments: [{ filename: "big.bin", content: randomBytes(11 * 1024 * 1024) }],
    }).then(() => null, (e: { responseCode?: number; response?: string }) => e);
    expect(err?.responseCode, String(err?.response)).toBe(552);
  });

  for (const [host, senderName, boxName, series] of [
    ["mx1", "alice", "carol", "Dovecot 2.3"],
    ["mx2", "dave", "frank", "Dovecot 2.4"],
  ] as const) {
    it(`refuses mail to a full mailbox at SMTP time (552 at RCPT) and warns at 90% (${host}, ${series})`, async () => {
      const h = host === "mx1" ? mx1 : mx2;
      const sender = acct(host, senderName);
      const box = acct(host, boxName);
      // Start from an empty box (the lab VM keeps mail between runs).
      await sshRun(h, `sudo doveadm expunge -u ${box.user} mailbox '*' all; sudo doveadm quota recalc -u ${box.user}`);
      let refused: { responseCode?: number; response?: string; command?: string } | null = null;
      let accepted = 0;
      for (let i = 0; i < 15 && !refused; i++) {
        const content = randomBytes(200_000);
        // Declare the size like an MTA does (RFC 1870 SIZE=), so the policy can judge before DATA.
        refused = await submit(sender, 587, {
          from: sender.user,
          to: box.user,
          envelope: { from: sender.user, to: [box.user], size: Math.ceil(content.length * 1.4) } as never,
          subject: `fill ${i}`,
          text: "x",
          attachments: [{ filename: "f.bin", content }],
        }).then(
          () => null,
          (e) => e,
        );
        if (!refused) accepted++;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const q = await sshRun(h, `sudo doveadm quota get -u ${box.user}`, { nothrow: true });
      console.log(`quota ${host} (${series}): ${accepted} messages of ~275 KiB accepted before the refusal\n${q.stdout.trim()}`);
      expect(refused, `${box.user}'s 2M quota never refused mail`).not.toBeNull();
      expect(refused!.responseCode, String(refused!.response)).toBe(552);
      expect(refused!.command).toMatch(/RCPT/);
      expect(refused!.response).toMatch(/552 5\.2\.2 .*Mailbox is full/);
      // mailbox_quota_grace (10M by default) bounds the overshoot: usage never passes 2M + 10M.
      const used = /STORAGE\s+(\d+)\s+(\d+)/.exec(q.stdout);
      expect(used, q.stdout).not.toBeNull();
      expect(Number(used![1])).toBeLessThanOrEqual(Number(used![2]) + 10 * 1024);
      const warn = await imap(box, (c) => waitFor(() => findMessage(c, "INBOX", "Your mailbox is 90% full"), { timeoutMs: 30_000 }));
      expect(warn, `no 90% warning for ${box.user}`).not.toBeNull();
      const log = await sshRun(h, "sudo journalctl -u dovecot --since '-3 min' --no-pager | grep -E 'quota-warning|stats-writer' | grep -iE 'error|fatal' | tail -3", { nothrow: true });
      expect(log.stdout.trim(), "quota-warning errors in the dovecot log").toBe("");
    });
  }

  it("a relay whose certificate does not verify gets nothing: verify names the fix, the message stays queued", async () => {
    // mx2's certificate is from the lab's private CA (Pebble): with the system CA store (relay_tls_ca empty) it must not verify.
    const password = users.mx2!.find((u) => u.name === "relay")!.password;
    const relayInv = writeMailInventory(lab, users, {
      hashes,
      extra: {
        mx1: { relay_enabled: true, relay_host: "mx2.example.net", relay_port: 587, relay_username: "relay@example.net" },
        mx2: { mailbox_send_as: { relay: ["@example.test"] } },
      },
      secrets: { mx1: { relay_password: password } },
    });
    let failure: unknown;
    try {
      const r = await site(["-i", relayInv.path, "--limit", "mail"]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const failed = stepsWith(r, "failed");
      expect(failed, r.stdout).toEqual([expect.stringMatching(/^mx1 postfix: verify: the relay's certificate verifies .* did not present a certificate that verifies with \/etc\/ssl\/certs\/ca-certificates\.crt .*relay_tls_ca/)]);
      expect(JSON.stringify(r.report).includes(password)).toBe(false);
      const subject = `unverified relay ${token()}`;
      await submit(acct("mx1", "alice"), 587, { from: "alice@example.test", to: "dave@example.net", subject, text: "must not leave" });
      let log = "";
      for (let i = 0; i < 20 && !/status=deferred/.test(log); i++) {
        await flush(mx1);
        await new Promise((res) => setTimeout(res, 1000));
        log = (await sshRun(mx1, "sudo journalctl -t postfix/smtp --since '-2 min' --no-pager | grep -F 'mx2.example.net' | tail -5", { nothrow: true })).stdout;
      }
      console.log(`unverified relay, mx1's log:\n${log}`);
      expect(log).toMatch(/certificate verification failed|Server certificate not trusted|untrusted issuer/i);
      expect(log).toMatch(/status=deferred/);
      expect(log).not.toMatch(/status=sent/);
      // no AUTH was ever sent to mx2 from mx1 (the password stayed on mx1)
      const auth = await sshRun(mx2, "sudo journalctl -t postfix/submission/smtpd --since '-3 min' --no-pager | grep -F 'client=mx1.example.test' | grep -c sasl_username || true", { nothrow: true });
      expect(auth.stdout.trim()).toBe("0");
      await sshRun(mx1, `sudo sh -c "postqueue -j | grep -F '${subject}' >/dev/null || true; postsuper -d ALL deferred"`, { nothrow: true });
    } catch (e) {
      failure = e;
    }
    const back = await site(["-i", inv.path, "--limit", "mail"]);
    if (failure) throw failure;
    expect(back.code, back.stdout + back.stderr).toBe(0);
  });

  it("relays outbound mail through a smarthost (mx2:587) with mandatory, verified TLS and SASL; the password stays secret", async () => {
    // The relay login's password (random per run) is the secret mx1 needs.
    const password = users.mx2!.find((u) => u.name === "relay")!.password;
    const relayLogin = "relay@example.net";
    // mx2's certificate comes from the lab's private CA (Pebble): its root is the CA mx1
    // verifies the relay with (relay_tls_ca), as for a relay of one's own with a private CA.
    const mx2Cert = readFileSync(lab.acme.rootCa, "utf8");
    expect(mx2Cert).toContain("-----BEGIN CERTIFICATE-----");
    const relayInv = writeMailInventory(lab, users, {
      hashes,
      extra: {
        mx1: { relay_enabled: true, relay_host: "mx2.example.net", relay_port: 587, relay_username: relayLogin, relay_tls_ca: mx2Cert },
        // Only for this test: mx2's relay login may send as any example.test address.
        mx2: { mailbox_send_as: { relay: ["@example.test"] } },
      },
      // The password comes from the secrets file beside the inventory (mode 0600), never the inventory.
      secrets: { mx1: { relay_password: password } },
    });
    expect(readFileSync(relayInv.path, "utf8")).not.toContain(password);
    let failure: unknown;
    try {
      const r = await site(["-i", relayInv.path, "--limit", "mail"]);
      const json = JSON.stringify(r.report);
      for (const [what, text] of [["stdout", r.stdout], ["stderr", r.stderr], ["JSON report", json]] as const) {
        expect(text.includes(password), `relay password printed in ${what}`).toBe(false);
      }
      expect(stepsWith(r, "failed"), r.stdout + r.stderr).toEqual([]);
      expect(r.code).toBe(0);
      const verified = r.report.steps.filter((x) => x.host === "mx1" && x.kind === "verify" && x.status === "ok").map((x) => x.title);
      expect(verified).toEqual(expect.arrayContaining(["verify: relay password file is 0600 root", "verify: the relay's certificate verifies (name and chain)", "verify: outbound mail goes through the relay", "verify: relay requires TLS and SASL"]));
      const file = await sshRun(mx1, `sudo stat -c '%a %U %G' /etc/postfix/sasl_passwd; sudo grep -cF -- ${JSON.stringify(password)} /etc/postfix/sasl_passwd`);
      expect(file.stdout.trim().split("\n")).toEqual(["600 root root", "1"]);

      const subject = `relayed ${token()}`;
      await submit(acct("mx1", "alice"), 587, { from: "alice@example.test", to: "dave@example.net", subject, text: "through the smarthost" });
      const found = await imap(acct("mx2", "dave"), (c) => waitFor(() => findMessage(c, "INBOX", subject), { timeoutMs: 120_000, everyMs: 3000, nudge: () => flush(mx1) }));
      expect(found, `${subject} never arrived through the relay`).not.toBeNull();
      const head = found!.source.toString("latin1").split(/\r?\n\r?\n/)[0]!;
      const received = head.split(/\r?\n(?=\S)/).filter((l) => /^Received:/i.test(l)).map((l) => l.replace(/\r?\n\s+/g, " "));
      console.log(`relay: Received headers at dave@example.net:\n  ${received.join("\n  ")}`);
      // mx2 took it on submission: TLS (using TLSv1.x) and AUTH ("with ESMTPSA", RFC 3848), not on port 25 ("ESMTPS").
      const hop = received.find((l) => /by mx2\.example\.net \(Postfix\) with ESMTPSA /.test(l));
      expect(hop, received.join("\n")).toBeDefined();
      expect(hop).toMatch(/\(using TLSv1\.[23] with cipher /);
      expect(received.some((l) => /by mx2\.example\.net \(Postfix\) with ESMTPS? /.test(l))).toBe(false);
      // ... and it was mx1 that connected, on 587, with TLS and SASL (mx1's and mx2's logs).
      const log1 = await sshRun(mx1, "sudo journalctl -t postfix/smtp --since '-5 min' --no-pager | grep -F 'mx2.example.net[198.51.100.20]:587' | tail -2", { nothrow: true });
      expect(log1.stdout).toMatch(/Verified TLS connection established to mx2\.example\.net\[198\.51\.100\.20\]:587: TLSv1\.[23]/);
      expect(log1.stdout).toMatch(/relay=mx2\.example\.net\[198\.51\.100\.20\]:587, .*status=sent/);
      const log2 = await sshRun(mx2, "sudo journalctl -t postfix/submission/smtpd --since '-5 min' --no-pager | grep -F 'client=mx1.example.test[198.51.100.10]' | tail -1", { nothrow: true });
      expect(log2.stdout).toMatch(/sasl_method=(PLAIN|LOGIN), sasl_username=relay@example\.net/);
    } catch (e) {
      failure = e;
    }
    // Back to direct delivery (relay off, no extra senders on mx2) so other tests are unaffected.
    const back = await site(["-i", inv.path, "--limit", "mail"]);
    if (failure) throw failure;
    expect(back.code, back.stdout + back.stderr).toBe(0);
    const rh = await sshRun(mx1, "echo \"relayhost=$(postconf -h relayhost)\"; sudo grep -c relay@ /etc/postfix/sasl_passwd || true");
    expect(rh.stdout.trim().split("\n")).toEqual(["relayhost=", "0"]);
  });

  it("files with a user's Sieve rule and with the global Junk rule", async () => {
    const script = `require ["fileinto", "mailbox"];\nif header :contains "subject" "[lists]" { fileinto :create "Lists"; }\n`;
    await sshRun(mx1, "sudo doveadm sieve put -a -u bob@example.test lists", { input: script });
    const alice = acct("mx1", "alice");
    const t = token();
    await submit(alice, 587, { from: "alice@example.test", to: "bob@example.test", subject: `[lists] ${t}`, text: "list mail" });
    await submit(alice, 587, { from: "alice@example.test", to: "bob@example.test", subject: `spam ${t}`, text: "buy", headers: { "X-Spam-Flag": "YES" } });
    await submit(alice, 587, { from: "alice@example.test", to: "bob@example.test", subject: `plain ${t}`, text: "hi" });
    const bob = acct("mx1", "bob");
    await imap(bob, async (c) => {
      expect(await waitFor(() => findMessage(c, "Lists", `[lists] ${t}`), { timeoutMs: 30_000 })).not.toBeNull();
      expect(await waitFor(() => findMessage(c, "Junk", `spam ${t}`), { timeoutMs: 30_000 })).not.toBeNull();
      expect(await waitFor(() => findMessage(c, "INBOX", `plain ${t}`), { timeoutMs: 30_000 })).not.toBeNull();
      expect(await findMessage(c, "INBOX", `spam ${t}`)).toBeNull();
      const boxes = await c.list();
      const su = Object.fromEntries(boxes.filter((b) => b.specialUse).map((b) => [b.specialUse, b.path]));
      expect(su).toMatchObject({ "\\Sent": "Sent", "\\Drafts": "Drafts", "\\Junk": "Junk", "\\Trash": "Trash", "\\Archive": "Archive" });
    });
  });

  it("ManageSieve on 4190: no AUTH before STARTTLS; after STARTTLS a user uploads and activates a script", async () => {
    const bob = acct("mx1", "bob");
    const pre = await manageSieveUpload(bob, "never", "keep;\n", { skipStartTls: true });
    expect(pre.responses.authenticate, pre.transcript.join("\n")).toMatch(/^NO/);
    const name = `uploaded-${token()}`;
    const script = `require ["fileinto"];\nif header :contains "subject" "[${name}]" { fileinto "Junk"; }\n`;
    const r = await manageSieveUpload(bob, name, script);
    const t = r.transcript.join("\n");
    console.log(`managesieve transcript:\n  ${r.transcript.join("\n  ")}`);
    expect(r.responses.starttls, t).toMatch(/^OK/);
    expect(t).toMatch(/-- TLS TLSv1\.[23]/);
    expect(t).toMatch(/S: "SASL" "PLAIN LOGIN"/);
    expect(r.responses.authenticate, t).toMatch(/^OK/);
    expect(r.responses.putscript, t).toMatch(/^OK/);
    expect(r.responses.setactive, t).toMatch(/^OK/);
    expect(t).toContain(`S: "${name}" ACTIVE`);
    const list = await sshRun(mx1, "sudo doveadm sieve list -u bob@example.test");
    expect(list.stdout).toMatch(new RegExp(`^${name}\\s+ACTIVE$`, "m"));
    // Leave bob as the Sieve test sets him up (its "lists" script active), and drop the upload.
    await sshRun(mx1, `sudo doveadm sieve activate -u bob@example.test lists && sudo doveadm sieve delete -u bob@example.test ${name}`);
  });

  it("a removed user can no longer log in or receive mail, and their Maildir stays", async () => {
    const gone = acct("mx1", "gone");
    const subject = `keep ${token()}`;
    await submit(acct("mx1", "alice"), 587, { from: "alice@example.test", to: gone.user, subject, text: "keep me" });
    expect(await imap(gone, (c) => waitFor(() => findMessage(c, "INBOX", subject), { timeoutMs: 30_000 }))).not.toBeNull();
    const remaining = { ...users, mx1: users.mx1!.filter((u) => u.name !== "gone") };
    const inv2 = writeMailInventory(lab, remaining, { hashes, dir: inv.dir });
    // Every role that derives something from the users: postfix, dovecot, and the web side's Apple profiles.
    const r = await site(["-i", inv2.path, "--limit", "mx1", "--tags", "postfix,dovecot,web"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await sshRun(mx1, "test -e /var/www/mailstead/autoconfig/apple/gone.mobileconfig && echo present || echo absent")).stdout.trim()).toBe("absent");
    const login = await imap(gone, async () => "logged in").catch((e: Error) => `refused: ${e.message}`);
    expect(login).toMatch(/^refused/);
    const rcpt = await swaks25(`--from probe@example.net --to gone@example.test --quit-after RCPT`);
    expect(rcpt).toMatch(/<\*\* 550 5\.1\.1 .*User unknown/);
    const files = await sshRun(mx1, `sudo grep -rl ${subject} /var/mail/vhosts/example.test/gone/Maildir | wc -l`);
    expect(Number(files.stdout.trim())).toBeGreaterThanOrEqual(1);
    users = remaining;
  });

  it("a broken value is refused by validation and the services keep answering", async () => {
    const broken = writeMailInventory(lab, users, {
      hashes,
      dir: inv.dir,
      extra: { mx1: { postfix_extra_main_cf: { no_such_parameter: "1" } }, mx2: { dovecot_extra_conf: "no_such_setting = 1" } },
    });
    const before = await sshRun(mx1, "sha256sum /etc/postfix/main.cf");
    const before2 = await sshRun(mx2, "sudo sha256sum /etc/dovecot/dovecot.conf");
    const r = await site(["-i", broken.path, "--limit", "mail"]);
    expect(r.code).toBe(1);
    const failed = stepsWith(r, "failed").join("\n");
    expect(failed).toMatch(/mx1 postfix: Render \/etc\/postfix\/main\.cf — .*validation failed/s);
    expect(failed).toMatch(/mx2 dovecot: Render \/etc\/dovecot\/dovecot\.conf .*validation failed/s);
    expect((await sshRun(mx1, "sha256sum /etc/postfix/main.cf")).stdout).toBe(before.stdout);
    expect((await sshRun(mx2, "sudo sha256sum /etc/dovecot/dovecot.conf")).stdout).toBe(before2.stdout);
    expect(await out(`swaks --server ${MX1} --port 587 --quit-after FIRST-HELO --timeout 20`)).toMatch(/<- +220 /);
    const imapOk = await imap(acct("mx2", "dave"), async (c) => { const s = await c.status("INBOX", { messages: true }); return s ? (s.messages ?? 0) : 0; });
    expect(imapOk).toBeGreaterThanOrEqual(1);
    // Restore: the good inventory converges again (and nothing else changed).
    const fixed = writeMailInventory(lab, users, { hashes, dir: inv.dir });
    const again = await site(["-i", fixed.path, "--limit", "mail"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(stepsWith(again, "changed")).toEqual([]);
  });
  it("stays small at rest: postfix + dovecot PSS after the traffic (docs/memory.md, nothing stopped)", async () => {
    // docs/memory.md: after traffic, 30 s idle, then PSS per systemd unit. Nothing is stopped or restarted here:
    // this is the state the tests left, which is what a converged host looks like after use.
    await new Promise((r) => setTimeout(r, 30_000));
    // Bound. The whole mail stack has 100 MB. the lab measurement leaves postfix + dovecot about
    // 24 MiB (100 - OS base ~22 - fail2ban 18.8 - opendkim 5.1 - opendmarc 2.1 - Roundcube's
    // php-fpm 25.3 - nginx 2.6), for *light* traffic; it measured 14.4 MiB tuned and 31.2 MiB with
    // Debian's defaults. This suite's traffic is heavy (testssl's hundreds of handshakes, an 11 MiB
    // message, quota fills, relaying), so the generous bound is 32 MiB: just above the untuned
    // figure, i.e. it fails when the process limits / idle timeouts stop working or a daemon
    // leaks, not when a few processes are still winding down. The figures are printed to compare
    // against the 24 MiB allocation.
    const BOUND_MIB = 32;
    const mib = (k: number) => k / 1024;
    for (const h of [mx1, mx2]) {
      const m = await memReport(h);
      const pss = (re: RegExp) => m.units.filter((u) => re.test(u.unit)).reduce((a, u) => a + u.pssKiB, 0);
      // Debian runs the Postfix master in postfix@-.service (postfix.service is a no-op wrapper).
      const postfix = pss(/^postfix(@.*)?\.service$/);
      const dovecot = pss(/^dovecot\.service$/);
      console.log(`memory at rest on ${h.name} (${h.os}): postfix ${mib(postfix).toFixed(1)} MiB + dovecot ${mib(dovecot).toFixed(1)} MiB = ${mib(postfix + dovecot).toFixed(1)} MiB PSS (bound ${BOUND_MIB} MiB)`);
      expect(postfix, `${h.name}: no postfix processes found`).toBeGreaterThan(0);
      expect(dovecot, `${h.name}: no dovecot processes found`).toBeGreaterThan(0);
      expect(mib(postfix + dovecot), formatMem(m)).toBeLessThan(BOUND_MIB);
    }
  });
});
