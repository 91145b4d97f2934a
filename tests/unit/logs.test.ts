/**
 * logs.ts's summary (status/logs.ts) on journal lines recorded in the lab: deliveries, deferrals,
 * bounces, refusals from tests/unit/fixtures/logs, and the logins and failed logins of both
 * releases from the fail2ban fixtures (Dovecot 2.3 and 2.4 word a failed login differently).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatSummary, summarise } from "../../status/logs.js";
import { journalCmd, sinceArg } from "../../playbooks/logs.js";

const fx = (...p: string[]) => readFileSync(join(__dirname, "fixtures", ...p), "utf8");

describe("logs.ts: the mail log in plain words", () => {
  it("counts deliveries here and elsewhere, deferrals with their reason, bounces, refusals and submissions", () => {
    const s = summarise(fx("logs", "deliveries.log"));
    expect(s.delivered).toEqual({ local: 2, remote: 1 });
    expect(s.deferred).toBe(1);
    expect(s.bounced).toBe(1);
    expect(s.rejected).toBe(1);
    expect(s.sentBy).toEqual({ "alice@example.test": 1 });
    // Dovecot 2.4 (Debian 13) says "Logged in:" where 2.3 says "Login:"
    expect(s.logins).toEqual({ "dave@example.net": 1 });
    expect(s.failed).toEqual({ "198.51.100.1": 1 });
    expect(s.reasons.map(([r]) => r)).toEqual(["host mx1.example.test[<address>] said: 450 4.3.2 Service currently unavailable (in reply to RCPT TO command)", "Host or domain name not found. Name service error for name=nowhere.example type=MX: Host not found"]);
    expect(s.events.map((e) => e.kind)).toEqual(["delivered", "deferred", "rejected", "delivered", "sent-by-user", "delivered", "bounced", "login", "login-failed"]);
    expect(s.events[2]!.text).toBe("refused mail from [198.51.100.20]:55958 (from <postmaster@example.net> to <alice@example.test>): 450 4.3.2 Service currently unavailable");
  });

  for (const release of ["debian12", "debian13"]) {
    it(`${release}: IMAP logins by user, failed IMAP and SMTP logins by address, refused recipients`, () => {
      const text = ["dovecot.pass", "dovecot.fail", "postfix-sasl.fail", "postfix.fail"].map((f) => fx("fail2ban", release, `${f}.log`)).join("\n");
      const s = summarise(text, 5);
      const user = release === "debian12" ? "alice@example.test" : "dave@example.net";
      const failedIn = (file: string) => fx("fail2ban", release, file).split("\n").filter((l) => /auth failed|authentication failed/.test(l)).length;
      expect(failedIn("dovecot.fail.log") + failedIn("postfix-sasl.fail.log")).toBeGreaterThan(0);
      expect(Object.keys(s.failed)).toEqual(["198.51.100.30"]);
      expect(s.failed["198.51.100.30"]).toBeGreaterThanOrEqual(failedIn("dovecot.fail.log") + failedIn("postfix-sasl.fail.log"));
      expect(s.rejected).toBe(fx("fail2ban", release, "postfix.fail.log").split("\n").filter((l) => l.includes("NOQUEUE: reject")).length);
      if (release === "debian12") expect(s.logins[user]).toBeGreaterThan(0);
      expect(s.events).toHaveLength(5);
      expect(formatSummary("mx", "1d", s)).toMatch(/failed logins: \d+ \(from 198\.51\.100\.30 \d+\)/);
    });
  }

  it("a milter's refusal (OpenDMARC p=reject, after DATA) and a DNSBL refusal count as refused, with the list named", () => {
    const s = summarise([
      "Dec 02 03:30:00 mx2 postfix/cleanup[1200]: 4F2A31A4737: milter-reject: END-OF-MESSAGE from outsider.example.net[198.51.100.30]: 5.7.1 rejected by DMARC policy for example.test; from=<ceo@example.test> to=<dave@example.net> proto=ESMTP helo=<outsider.example.net>",
      "Dec 02 03:31:00 mx2 postfix/postscreen[1201]: NOQUEUE: reject: RCPT from [203.0.113.9]:40000: 550 5.7.1 Service unavailable; client [203.0.113.9] blocked using zen.spamhaus.org; from=<x@spam.example>, to=<dave@example.net>, proto=ESMTP, helo=<spam.example>",
    ].join("\n"));
    expect(s.rejected).toBe(2);
    expect(s.events[0]!.text).toBe("refused mail from outsider.example.net[198.51.100.30] (from <ceo@example.test> to <dave@example.net>): 5.7.1 rejected by DMARC policy for example.test");
    expect(s.events[1]!.text).toBe("refused mail from [203.0.113.9]:40000 (from <x@spam.example> to <dave@example.net>): 550 5.7.1 Service unavailable; client [203.0.113.9] blocked using zen.spamhaus.org");
  });

  it("--since takes a count and a unit only: nothing else reaches the shell", () => {
    expect(sinceArg("1d")).toBe("-1d");
    expect(sinceArg("30m")).toBe("-30m");
    for (const bad of ["0d", "1w", "1d; rm -rf /", "$(id)", ""]) expect(() => sinceArg(bad)).toThrow(/--since/);
    expect(journalCmd("-1d")).toContain("--since -1d ");
  });
});
