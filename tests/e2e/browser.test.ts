/**
 * Roundcube in a real browser (issue 14): Debian's Chromium, driven by playwright-core, trusting
 * only the lab's Pebble root (an NSS db in a temporary HOME; certificate errors are never
 * ignored). On mx1 (Debian 12, example.test) alice reads a message dave sent from mx2, replies
 * (the reply reaches mx2 with DKIM, SPF and DMARC passing), turns on an out-of-office reply (dave
 * gets exactly one for two messages) and off again, adds a contact and logs out.
 *
 * Converges the mail hosts first (nothing changes when another test already did).
 * Publishes playbooks/dns.ts's records into the lab DNS (restored afterwards), as dkim.test.ts does.
 * Screenshots: tests/e2e/.output/browser/ (git-ignored).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureLab, labHost, sshRun, type LabHost, type LabState } from "../lab/index.js";
import { publishDns, type DnsSnapshot } from "./dns-lab.js";
import { ROOT, site, stepsWith } from "./helpers.js";
import { findMessage, imap, submit, waitFor, type Account } from "./mail-clients.js";

const MX1 = "198.51.100.10";
const MX2 = "198.51.100.20";
const WEBMAIL = "https://mx1.example.test";
const CHROMIUM = "/usr/bin/chromium";
const OUT = join(ROOT, "tests/e2e/.output/browser");
/** Roundcube's SQLite database on Debian (contacts, users, sessions). */
const RC_DB = "/var/lib/dbconfig-common/sqlite3/roundcube/roundcube";
/** Contacts this test adds all have an address under this prefix (cleaned before and after). */
const CONTACT_PREFIX = "browser-test-";

const run = randomBytes(4).toString("hex");
const subject = `Lunch on Friday? [browser ${run}]`;
const replyText = `Friday works for me, see you at noon. (reply ${run})`;
const vacation = { subject: `Away until Monday [${run}]`, body: `I am out of the office until Monday (${run}). I will answer then.` };
const contact = { first: "Carol", last: `Browser${run}`, email: `${CONTACT_PREFIX}${run}@example.net` };

let lab: LabState;
let mx1: LabHost, mx2: LabHost;
let alice: Account, dave: Account;
let home: string | undefined;
let browser: Browser | undefined;
let page: Page;
let snap: DnsSnapshot | undefined;
let sieveBefore = "";
let originalMessageId = "";

const root = (h: LabHost, cmd: string) => sshRun(h, `sudo -n sh -c '${cmd.replace(/'/g, `'\\''`)}'`, { timeoutMs: 60_000, nothrow: true });
const flush = (h: LabHost) => root(h, "postqueue -f");

/** The header fields (unfolded, in order) of a raw message. */
function headerFields(src: string): string[] {
  const head = src.split(/\r?\n\r?\n/)[0]!;
  return head.split(/\r?\n(?=\S)/).map((h) => h.replace(/\r?\n[ \t]+/g, " "));
}
const header = (src: string, name: string) => headerFields(src).find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim();

/**
 * The results mx2 added (Authentication-Results with authserv-id mx2.example.net, above mx2's own
 * Received of the message from mx1), one "method=result property=value" string per result,
 * comments dropped: e.g. "dkim=pass header.d=example.test".
 */
function mx2Results(src: string): string[] {
  const fields = headerFields(src);
  const own = fields.findIndex((f) => /^Received: from mx1\.example\.test .* by mx2\.example\.net \(Postfix\)/.test(f));
  if (own < 0) throw new Error(`no Received by mx2 from mx1 in:\n${fields.join("\n")}`);
  const out: string[] = [];
  for (const f of fields.slice(0, own)) {
    const m = /^Authentication-Results:\s*mx2\.example\.net\s*;(.*)$/i.exec(f);
    if (!m) continue;
    for (const r of m[1]!.replace(/\([^)]*\)/g, " ").split(";")) {
      const words = r.trim().split(/\s+/).filter(Boolean);
      if (words.length === 0 || !/^(dkim|spf|dmarc)=/.test(words[0]!)) continue;
      const keep = words.filter((w, i) => i === 0 || /^(header\.d|header\.from|smtp\.mailfrom)=/.test(w));
      out.push(keep.join(" "));
    }
  }
  return out.sort();
}

/** Messages in a mailbox whose subject contains this text (UIDs). */
async function uidsWith(a: Account, mailbox: string, text: string): Promise<number[]> {
  return imap(a, async (c) => {
    const lock = await c.getMailboxLock(mailbox);
    try {
      return ((await c.search({ subject: text }, { uid: true })) || []) as number[];
    } finally {
      lock.release();
    }
  });
}

async function waitInbox(a: Account, subj: string, nudge: LabHost, timeoutMs = 120_000) {
  return imap(a, (c) => waitFor(() => findMessage(c, "INBOX", subj), { timeoutMs, everyMs: 2000, nudge: () => flush(nudge) }));
}

/** Roundcube's page script has started (rcmail.loaded) and no request of its own is running: only then do its buttons act. */
async function settle(): Promise<void> {
  await page.waitForFunction(() => {
    const rc = (globalThis as { rcmail?: { loaded?: boolean; busy?: boolean } }).rcmail;
    return rc?.loaded === true && !rc.busy;
  }, undefined, { timeout: 20_000 });
}

/** The notice Roundcube shows at the bottom right (confirmation, error) with this text. */
const notice = (text: string | RegExp) => page.locator("#messagestack > div", { hasText: text });

/**
 * Log in through the form. Roundcube locks an account for the rest of a minute after 3 failed
 * logins (login_rate_limit, per account, from any address): the fail2ban tests fail alice's
 * logins on purpose, so a refusal with that notice is waited out (bounded); any other outcome fails.
 */
async function login(a: Account): Promise<void> {
  const deadline = Date.now() + 100_000;
  for (;;) {
    await page.goto(`${WEBMAIL}/`);
    await page.locator("#rcmloginuser").fill(a.user);
    await page.locator("#rcmloginpwd").fill(a.pass);
    await page.locator("#rcmloginsubmit").click();
    const inbox = page.locator("#messagelist");
    const locked = notice("Too many failed login attempts");
    const refused = page.locator("#messagestack > div.error, #messagestack > div.warning");
    await inbox.or(refused).first().waitFor({ timeout: 30_000 });
    if (await inbox.isVisible()) return settle();
    if (!(await locked.isVisible()) || Date.now() > deadline) throw new Error(`login as ${a.user} refused: ${await refused.first().innerText()}`);
    console.log(`${a.user}: Roundcube's login rate limit is on (another test's failed logins); trying again in 10 s`);
    await page.waitForTimeout(10_000);
  }
}

/** Out of Office in the settings: its form (elastic renders it as the page, not in a frame). */
async function openVacation(): Promise<void> {
  await page.goto(`${WEBMAIL}/?_task=mail&_mbox=INBOX`);
  await settle();
  await page.locator("#taskmenu a.settings").click();
  await page.waitForURL(/_task=settings/);
  await settle();
  await page.locator("#settingstabpluginmanagesievevacation a").click();
  await page.locator("#vacationform #vacation_subject").waitFor({ timeout: 20_000 });
  await settle();
}

async function saveVacation(): Promise<void> {
  await page.locator("button.submit", { hasText: "Save" }).click();
  await notice("Out-of-office data saved successfully").waitFor({ timeout: 20_000 });
}

/** alice's Sieve scripts as doveadm lists them ("name ACTIVE" lines). */
const sieveList = async () => (await root(mx1, "doveadm sieve list -u alice@example.test")).stdout.trim();

beforeAll(async () => {
  lab = await ensureLab();
  mx1 = labHost(lab, "mx1");
  mx2 = labHost(lab, "mx2");
  const user = (h: string) => lab.mail.users.find((u) => u.host === h)!;
  alice = { host: MX1, user: user("mx1").address, pass: user("mx1").password };
  dave = { host: MX2, user: user("mx2").address, pass: user("mx2").password };
  expect([alice.user, dave.user]).toEqual(["alice@example.test", "dave@example.net"]);
  const conv = await site(["-i", lab.inventory, "--limit", "mail"]);
  expect(stepsWith(conv, "failed"), conv.stdout.slice(-3000)).toEqual([]);

  // Leftovers of an interrupted run: contacts under the prefix.
  await root(mx1, `sqlite3 ${RC_DB} "DELETE FROM contacts WHERE email LIKE '${CONTACT_PREFIX}%'"`);
  sieveBefore = await sieveList();

  // SPF, DKIM and DMARC records of both domains, as a user would publish them.
  snap = (await publishDns(lab.inventory, lab)).snap;

  home = mkdtempSync(join(tmpdir(), "mailstead-chromium-"));
  const nssdb = join(home, ".pki/nssdb");
  mkdirSync(nssdb, { recursive: true });
  execFileSync("certutil", ["-d", `sql:${nssdb}`, "-N", "--empty-password"]);
  execFileSync("certutil", ["-d", `sql:${nssdb}`, "-A", "-t", "C,,", "-n", "pebble-root", "-i", lab.acme.rootCa]);
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) if (/^failed-\d+\.png$/.test(f)) rmSync(join(OUT, f));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env: { ...process.env, HOME: home },
    // --no-sandbox: Chromium's sandbox refuses to run as root. The lab names resolve to the VMs here only.
    args: ["--no-sandbox", `--host-resolver-rules=MAP mx1.example.test ${MX1}, MAP mx2.example.net ${MX2}`],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US", timezoneId: "UTC" });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  // Every refused or failed request, for the failure's story (URLs carry no secret).
  page.on("response", (r) => {
    if (r.status() >= 400) console.log(`browser: HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  try {
    const r = await page.goto(`${WEBMAIL}/`, { timeout: 30_000 });
    if (r?.status() !== 200) throw new Error(`HTTP ${r?.status()}`);
    await page.locator("#rcmloginuser").waitFor({ timeout: 15_000 });
  } catch (e) {
    throw new Error(`the webmail at ${WEBMAIL}/ answers no Roundcube login page (${(e as Error).message.split("\n")[0]}): converge the lab first (npx tsx playbooks/site.ts -i ${lab.inventory} --limit mail, or run tests/e2e/webmail.test.ts)`);
  }
}, 900_000);

let failures = 0;
/** What the browser showed when a test failed: tests/e2e/.output/browser/failed-N.png. */
afterEach(async (ctx) => {
  if (ctx.task.result?.state !== "fail" || !page) return;
  const file = join(OUT, `failed-${++failures}.png`);
  await page.screenshot({ path: file }).catch(() => {});
  console.log(`${ctx.task.name}: the page at ${page.url()} is in ${file}`);
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  if (home) rmSync(home, { recursive: true, force: true });
  if (!mx1) return;
  // The out-of-office script Roundcube made (any script alice had before stays).
  const before = new Set(sieveBefore.split("\n").map((l) => l.split(/\s+/)[0]).filter(Boolean));
  for (const line of (await sieveList()).split("\n")) {
    const name = line.split(/\s+/)[0];
    if (!name || before.has(name)) continue;
    if (/ACTIVE/.test(line)) await root(mx1, "doveadm sieve deactivate -u alice@example.test");
    await root(mx1, `doveadm sieve delete -u alice@example.test ${name}`);
  }
  await root(mx1, `sqlite3 ${RC_DB} "DELETE FROM contacts WHERE email LIKE '${CONTACT_PREFIX}%'"`);
  // This run's messages (every subject carries the run's token), so the mailboxes do not grow.
  for (const [a, boxes] of [[alice, ["INBOX", "Sent"]], [dave, ["INBOX"]]] as const) {
    await imap(a, async (c) => {
      for (const box of boxes) {
        const lock = await c.getMailboxLock(box);
        try {
          await c.messageDelete({ subject: run });
        } finally {
          lock.release();
        }
      }
    }).catch((e) => console.log(`cleanup of ${a.user}'s messages: ${(e as Error).message}`));
  }
  await snap?.restore();
  // The next run starts from the same place, or this says why not.
  expect(await sieveList(), "alice's Sieve scripts after the cleanup").toBe(sieveBefore);
  expect((await root(mx1, `sqlite3 ${RC_DB} "SELECT count(*) FROM contacts WHERE email LIKE '${CONTACT_PREFIX}%'"`)).stdout.trim()).toBe("0");
});

describe("Roundcube on mx1 in Chromium: read, reply, out of office, contacts, log out", () => {
  it("dave (mx2) mails alice; the message is in her INBOX on mx1", async () => {
    await submit(dave, 587, { from: dave.user, to: alice.user, subject, text: "Hi Alice,\nshall we have lunch on Friday?\nDave\n" });
    const got = await waitInbox(alice, subject, mx2);
    expect(got, `"${subject}" not in alice's INBOX`).not.toBeNull();
    originalMessageId = header(got!.source.toString(), "Message-ID") ?? "";
    expect(originalMessageId).toMatch(/^<.+@.+>$/);
  });

  it("alice logs in, sees it in the inbox, opens it and replies", async () => {
    await login(alice);
    expect(page.url()).toContain("_task=mail");
    const row = page.locator("#messagelist tr.message", { hasText: subject });
    await row.waitFor({ timeout: 30_000 });
    expect(await row.innerText()).toContain("dave@example.net");
    await page.screenshot({ path: join(OUT, "inbox-mx1.png") });

    await row.click();
    const preview = page.frameLocator("#messagecontframe");
    await preview.locator("h2.subject", { hasText: subject }).waitFor({ timeout: 20_000 });
    expect(await preview.locator("#messagebody").innerText()).toContain("shall we have lunch on Friday?");

    await page.locator('a.reply[title="Reply to sender"]').click();
    await page.waitForURL(/_action=compose/, { timeout: 20_000 });
    await settle();
    const body = page.locator("#composebody");
    await body.waitFor();
    expect(await page.locator("#compose-subject").inputValue()).toBe(`Re: ${subject}`);
    expect(await page.locator("#_to").inputValue()).toContain("dave@example.net");
    expect(await body.inputValue()).toMatch(/^On .*dave@example\.net wrote:\n> Hi Alice,\n> shall we have lunch on Friday\?/);
    await body.click();
    await body.press("Control+Home");
    await body.pressSequentially(`${replyText}\n\n`);
    expect(await body.inputValue()).toMatch(new RegExp(`^${replyText.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n\\nOn `));
    await page.screenshot({ path: join(OUT, "reply-form-mx1.png") });

    // Roundcube posts the form into a hidden frame whose answer calls sent_successfully(), which
    // shows "Message sent successfully" for only 0.5 s before it reloads the list: a slow CI
    // machine can miss the notice, so the answer itself is what is checked (a draft autosave
    // posts the same action without that call and is skipped).
    const sent = page.waitForResponse(async (r) => {
      if (r.request().method() !== "POST" || !/_action=send|name="_action"\r?\n\r?\nsend/.test(r.request().postData() ?? "")) return false;
      return /sent_successfully|display_message\(/.test(await r.text().catch(() => ""));
    }, { timeout: 30_000 });
    await page.locator("button.send").click();
    const answer = await (await sent).text();
    expect(answer, "Roundcube's answer to the send").toMatch(/sent_successfully\(\s*"confirmation"\s*,\s*"Message sent successfully/);
    await page.waitForURL(/_task=mail(?!.*_action=compose)/, { timeout: 20_000 });
  });

  it("the reply reaches dave on mx2, threaded, with dkim=pass, spf=pass and dmarc=pass from mx2", async () => {
    const got = await waitInbox(dave, `Re: ${subject}`, mx1);
    expect(got, `"Re: ${subject}" not in dave's INBOX on mx2`).not.toBeNull();
    const src = got!.source.toString();
    expect(header(src, "From")).toContain("alice@example.test");
    expect(header(src, "In-Reply-To")).toBe(originalMessageId);
    expect(src).toContain(replyText);
    const ar = headerFields(src).filter((f) => /^Authentication-Results:/i.test(f));
    expect(mx2Results(src), ar.join("\n")).toEqual(["dkim=pass header.d=example.test", "dmarc=pass header.from=example.test", "spf=pass smtp.mailfrom=example.test"]);
    // the Sent folder has it too (Roundcube stored it over IMAP)
    expect(await uidsWith(alice, "Sent", `Re: ${subject}`)).toHaveLength(1);
  });

  it("an out-of-office reply set in Settings answers dave once for two messages, then is switched off", async () => {
    await openVacation();
    await page.locator("#vacation_subject").fill(vacation.subject);
    await page.locator("#vacation_reason").fill(vacation.body);
    await page.locator("#vacation_interval").fill("1");
    await page.locator("#vacation_status").selectOption("on");
    await saveVacation();
    const script = await sieveList();
    const active = /^(\S+)\s+ACTIVE$/m.exec(script)?.[1];
    expect(active, `no active Sieve script for alice: ${script}`).toBeDefined();
    const text = (await root(mx1, `doveadm sieve get -u alice@example.test ${active}`)).stdout;
    expect(text).toMatch(/require \[[^\]]*"vacation"/);
    expect(text).toContain(`vacation :days 1 :subject "${vacation.subject}"`);
    expect(text).toContain(vacation.body);

    const first = `Are you there? [browser ${run} 1]`;
    const second = `Still there? [browser ${run} 2]`;
    await submit(dave, 587, { from: dave.user, to: alice.user, subject: first, text: "Question one.\n" });
    const one = await waitInbox(alice, first, mx2);
    expect(one, `"${first}" not in alice's INBOX`).not.toBeNull();
    await submit(dave, 587, { from: dave.user, to: alice.user, subject: second, text: "Question two.\n" });
    expect(await waitInbox(alice, second, mx2), `"${second}" not in alice's INBOX`).not.toBeNull();

    const auto = await waitInbox(dave, vacation.subject, mx1);
    expect(auto, `no out-of-office reply "${vacation.subject}" in dave's INBOX`).not.toBeNull();
    const src = auto!.source.toString();
    expect(header(src, "Auto-Submitted")).toMatch(/^auto-replied/);
    expect(header(src, "In-Reply-To")).toBe(header(one!.source.toString(), "Message-ID"));
    expect(src).toContain(vacation.body);
    // A second reply would come within seconds (the same path): give it 20 s, flushing mx1's queue.
    const more = await waitFor(async () => ((await uidsWith(dave, "INBOX", vacation.subject)).length > 1 ? true : null), { timeoutMs: 20_000, everyMs: 2000, nudge: () => flush(mx1) });
    expect(more, "dave got a second out-of-office reply").toBeNull();
    expect(await uidsWith(dave, "INBOX", vacation.subject)).toHaveLength(1);
    expect((await root(mx1, "postqueue -j")).stdout).not.toContain("dave@example.net");

    // Off again, through the same form.
    await openVacation();
    expect(await page.locator("#vacation_subject").inputValue()).toBe(vacation.subject);
    expect(await page.locator("#vacation_status").inputValue()).toBe("on");
    await page.locator("#vacation_status").selectOption("off");
    await saveVacation();
    const after = (await root(mx1, `doveadm sieve get -u alice@example.test ${active}`)).stdout;
    // Roundcube keeps a switched-off rule as "if false # ..." so the vacation action never runs.
    expect(after, after).toMatch(/if false #/);
  });

  it("a contact added in the address book is listed after a reload", async () => {
    await page.locator("#taskmenu a.contacts").click();
    await page.waitForURL(/_task=addressbook/);
    await settle();
    await page.locator('a.create[title="Create new contact"]').click();
    const form = page.frameLocator("#contact-frame");
    await form.locator("#ff_firstname").fill(contact.first);
    await form.locator("#ff_surname").fill(contact.last);
    await form.locator("#ff_email0").fill(contact.email);
    await form.locator("button.submit, button.save").first().click();
    await notice("Successfully saved").waitFor({ timeout: 20_000 });

    await page.reload();
    await settle();
    const row = page.locator("#contacts-table tr", { hasText: `${contact.first} ${contact.last}` });
    await row.waitFor({ timeout: 20_000 });
    await row.click();
    await page.frameLocator("#contact-frame").locator("body", { hasText: contact.email }).waitFor({ timeout: 20_000 });
    const stored = await root(mx1, `sqlite3 ${RC_DB} "SELECT name, email FROM contacts WHERE del = 0 AND email = '${contact.email}'"`);
    expect(stored.stdout.trim()).toBe(`${contact.first} ${contact.last}|${contact.email}`);
  });

  it("logging out brings the login form back; the mail view then asks for a login", async () => {
    await settle();
    await page.locator("#taskmenu a.logout").click();
    await page.locator("#rcmloginuser").waitFor({ timeout: 20_000 });
    await notice("You have successfully terminated the session").waitFor({ timeout: 10_000 });
    await page.goto(`${WEBMAIL}/?_task=mail&_mbox=INBOX`);
    await page.locator("#rcmloginuser").waitFor({ timeout: 20_000 });
    expect(await page.locator("#messagelist").count()).toBe(0);
  });
});
