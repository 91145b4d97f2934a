import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { insertBeforeReject } from "../../lib/iptables.js";

// Shaped like the rules.v4 of Oracle Cloud's Ubuntu images (Canonical-Ubuntu-22.04): SSH only,
// REJECT the rest, and rules for the instance services (iSCSI boot volume, metadata) that must stay.
const oracle = readFileSync(new URL("./fixtures/oracle/rules.v4", import.meta.url), "utf8");
const smtp = "-A INPUT -p tcp -m state --state NEW -m tcp --dport 25 -m comment --comment mailstead -j ACCEPT";
const imaps = "-A INPUT -p tcp -m state --state NEW -m tcp --dport 993 -m comment --comment mailstead -j ACCEPT";

describe("iptables rules files", () => {
  it("inserts accept rules right before the INPUT REJECT and keeps every other line", () => {
    const r = insertBeforeReject(oracle, "INPUT", [smtp, imaps]);
    expect(r.added).toEqual([smtp, imaps]);
    const lines = r.text.split("\n");
    const reject = lines.indexOf("-A INPUT -j REJECT --reject-with icmp-host-prohibited");
    expect(lines.slice(reject - 2, reject)).toEqual([smtp, imaps]);
    // nothing removed or reordered
    expect(lines.filter((l) => l !== smtp && l !== imaps)).toEqual(oracle.split("\n"));
    expect(r.text).toContain("-A InstanceServices -d 169.254.0.2/32 -p tcp -m owner --uid-owner 0 -m tcp --dport 3260");
  });

  it("is idempotent", () => {
    const once = insertBeforeReject(oracle, "INPUT", [smtp]).text;
    const twice = insertBeforeReject(once, "INPUT", [smtp]);
    expect(twice.added).toEqual([]);
    expect(twice.text).toBe(once);
  });

  it("appends after the chain's last rule when it has no REJECT, and refuses a file without *filter", () => {
    const noReject = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A FORWARD -j DROP\nCOMMIT\n";
    expect(insertBeforeReject(noReject, "INPUT", [smtp]).text).toBe(`*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n${smtp}\n-A FORWARD -j DROP\nCOMMIT\n`);
    expect(() => insertBeforeReject("*nat\nCOMMIT\n", "INPUT", [smtp])).toThrow(/no \*filter/);
  });
});
