/** The mailbox password policy (roles/mailbox/strength.ts) and passwd.ts's use of it: weak refused, generated accepted. */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { blfVerify } from "../../roles/mailbox/passwd.js";
import { generatePassphrase, judgePassword, MIN_LENGTH, PASSPHRASE_WORDS, WORDS } from "../../roles/mailbox/strength.js";

const ROOT = resolve(import.meta.dirname, "../..");
const passwd = (args: string[], input: string) => spawnSync(process.execPath, ["--import", "tsx", resolve(ROOT, "playbooks/passwd.ts"), ...args], { cwd: ROOT, input, encoding: "utf8", timeout: 60_000 });

describe("password strength", () => {
  it.each(["password1234", "Password2024", "iloveyou1234", "qwertyuiopasdf", "aaaaaaaaaaaaaaaa", "alicealicealice", "Tr0ub4dor&3"])("refuses %s, saying why", (p) => {
    const v = judgePassword(p);
    expect(v.ok).toBe(false);
    expect(v.problems.length).toBeGreaterThan(0);
    expect(v.problems.join(" ")).toMatch(/characters long|easy to guess/);
  });
  it("refuses anything shorter than the minimum, however random", () => {
    expect(judgePassword("kT9#vQ2!mZ8").problems).toEqual([`it is 11 characters long; use at least ${MIN_LENGTH} (a few unrelated words are easy to type)`]);
  });
  it.each(["correct horse battery staple", "kT9#vQ2!mZ8@", "bramblewick-otter-lagoon"])("accepts %s", (p) => {
    expect(judgePassword(p)).toEqual({ ok: true, score: expect.any(Number), problems: [] });
  });
  it("counts the address's own words as known to an attacker", () => {
    expect(judgePassword("bramblewickalice")).toMatchObject({ ok: true, score: 4 });
    expect(judgePassword("bramblewickalice", ["alice@bramblewick.org"])).toMatchObject({ ok: false, score: 1 });
  });
});

describe("generated passphrases", () => {
  it("six words of the EFF long list (7776 words), joined by '-', each chosen by the random source", () => {
    expect(WORDS).toHaveLength(7776);
    expect(new Set(WORDS).size).toBe(7776);
    const picks = [0, 7775, 1, 4000, 2, 3];
    const p = generatePassphrase(PASSPHRASE_WORDS, (max) => { expect(max).toBe(7776); return picks.shift()!; });
    expect(p).toBe(["abacus", "zoom", "abdomen", WORDS[4000], "abdominal", "abide"].join("-"));
  });
  it("always fits bcrypt's 72 bytes and passes the policy", () => {
    const longest = Math.max(...WORDS.map((w) => Buffer.byteLength(w)));
    expect(longest * PASSPHRASE_WORDS + PASSPHRASE_WORDS - 1).toBeLessThanOrEqual(72);
    for (let i = 0; i < 20; i++) expect(judgePassword(generatePassphrase()).ok).toBe(true);
  });
});

describe("passwd.ts", () => {
  it("a weak password: exit 1, the reasons on stderr, no hash", () => {
    const r = passwd([], "Summer2024!\n");
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/refused, nothing printed/);
    expect(r.stderr).toMatch(/--generate/);
  });
  it("--user counts the address: a password made of it is refused", () => {
    expect(judgePassword("bramblewick2024").ok).toBe(true);
    expect(passwd(["--user", "alice@bramblewick.org"], "bramblewick2024\n").status).toBe(1);
  });
  it("a strong password: its hash on stdout, nothing else", () => {
    const r = passwd([], "bramblewick-otter-lagoon\n");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\{BLF-CRYPT\}\$2y\$10\$\S{53}\n$/);
    expect(blfVerify("bramblewick-otter-lagoon", r.stdout.trim())).toBe(true);
  });
  it("--generate: the passphrase once on stderr, its hash on stdout", () => {
    const r = passwd(["--generate", "--cost", "4"], "");
    expect(r.status, r.stderr).toBe(0);
    const phrase = /keep it in a password manager\): (\S+)$/m.exec(r.stderr)?.[1];
    expect(phrase?.split("-")).toHaveLength(PASSPHRASE_WORDS);
    expect(r.stdout).not.toContain(phrase!);
    expect(blfVerify(phrase!, r.stdout.trim())).toBe(true);
  });
});
