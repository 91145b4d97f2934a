/**
 * Value formats (lib/formats.ts) as data tables: for each format, values that
 * must pass and values that must fail with a message containing a substring.
 */
import { describe, expect, it } from "vitest";
import { checkValue, formats, RESERVED_ACCOUNTS, SYSTEM_DIRS, type Format, type FormatContext } from "../../lib/formats.js";

const ctx: FormatContext = { vars: {} };

interface Table {
  format: Format;
  /** Vars for this table (default: none). */
  vars?: Record<string, unknown>;
  good: unknown[];
  /** [value, substring the message must contain]. */
  bad: [unknown, string][];
}

const tables: Record<string, Table> = {
  ip: {
    format: formats.ip(),
    good: ["198.51.100.1", "2001:db8::1", "::1", "::ffff:192.0.2.1"],
    bad: [
      ["abc", "not an IPv4 or IPv6"],
      ["10.0.0.0/8", "single address is expected"],
      ["010.0.0.1", "not an IPv4 or IPv6"],
      ["1.2.3", "not an IPv4 or IPv6"],
      [" 1.2.3.4", "not an IPv4 or IPv6"],
      ["fe80::1%eth0", "zone id"],
      ["", "empty"],
      [42, "not a string"],
    ],
  },
  cidr: {
    format: formats.cidr({ allowWide: "firewall_allow_wide" }),
    good: ["10.0.0.0/8", "198.51.100.1", "2001:db8::/32", "2001:db8::1", "203.0.113.7/24", "192.0.2.1/32", "2001:db8::1/128"],
    bad: [
      ["1.2.3.4/99", "more than 32"],
      ["2001:db8::/129", "more than 128"],
      ["abc", "not an IPv4 or IPv6"],
      ["abc/24", "address part"],
      ["0.0.0.0/0", "covers every IPv4"],
      ["::/0", "covers every IPv6"],
      ["10.0.0.0/7", "wider than /8"],
      ["2001:db8::/31", "wider than /32"],
      ["10.0.0.0/08", "leading zeros"],
      ["10.0.0.0/+8", "whole number"],
      ["10.0.0.0/", "whole number"],
      ["10.0.0.0/8/9", "more than one '/'"],
      ["fe80::1%eth0/64", "zone id"],
      [null, "not a string"],
    ],
  },
  "cidr with firewall_allow_wide: true": {
    format: formats.cidr({ allowWide: "firewall_allow_wide" }),
    vars: { firewall_allow_wide: true },
    good: ["0.0.0.0/0", "::/0", "10.0.0.0/7"],
    bad: [["1.2.3.4/99", "more than 32"]],
  },
  "cidr with firewall_allow_wide: \"true\" (not a boolean)": {
    format: formats.cidr({ allowWide: "firewall_allow_wide" }),
    vars: { firewall_allow_wide: "true" },
    good: [],
    bad: [["0.0.0.0/0", "covers every IPv4"]],
  },
  hostname: {
    format: formats.hostname(),
    good: ["example.xn--p1ai", "mx1.example.test", "MX1.Example.ORG", "xn--bcher-kva.example", "a.b", "1a.example.org", `${"a".repeat(63)}.example`],
    bad: [
      ["-bad.example", "starts or ends with '-'"],
      ["bad-.example", "starts or ends with '-'"],
      ["a..b", "empty label"],
      [".example.org", "empty label"],
      ["x", "single label"],
      ["ex ample.org", "a space"],
      ["example.org\nfoo", "line break"],
      ["example.123", "all digits"],
      ["192.0.2.1", "IP address"],
      ["example.org.", "trailing dot"],
      ["_dmarc.example.org", "\"_\""],
      ["bücher.example", "non-ASCII"],
      [`${"a".repeat(64)}.example`, "longer than 63"],
      [`${"abcdefghi.".repeat(26)}org`, "more than the 253"],
      ["", "empty"],
      [["example.org"], "not a string"],
    ],
  },
  domain: {
    format: formats.domain(),
    good: ["example.org", "example.xn--p1ai", "mail.example.co.uk"],
    bad: [
      ["example", "single label"],
      ["example.org.", "trailing dot"],
      ["exa_mple.org", "\"_\""],
      ["example.org;rm", "\";\""],
    ],
  },
  localPart: {
    format: formats.localPart(),
    good: ["alice", "a.b+tag", "postmaster", "o'brien", "x_y-z", "!#$%&'*+/=?^_`{|}~-", "a".repeat(64)],
    bad: [
      ["alice\n@example.org attacker@evil.example", "line break"],
      ["a,b", "\",\""],
      ["a b", "a space"],
      ["a@b", "\"@\""],
      ["<a>", "\"<\""],
      ["a\"b", "\"\\\"\""],
      ["a\\b", "\"\\\\\""],
      ["a:b", "\":\""],
      ["a;b", "\";\""],
      ["a\x7fb", "control character (U+007F)"],
      ["a\x00b", "control character (U+0000)"],
      [".alice", "leading, trailing or doubled"],
      ["alice.", "leading, trailing or doubled"],
      ["al..ice", "leading, trailing or doubled"],
      ["jörg", "non-ASCII"],
      ["a".repeat(65), "more than the 64"],
      ["", "empty"],
    ],
  },
  address: {
    format: formats.address(),
    good: ["alice@example.org", "a.b+tag@mail.example.xn--p1ai", "postmaster@example.test"],
    bad: [
      ["alice", "no '@'"],
      ["@example.org", "local part is empty"],
      ["alice@", "domain is empty"],
      ["alice@@example.org", "domain contains \"@\""],
      ["a@b@example.org", "domain contains \"@\""],
      ["alice@example", "single label"],
      ["alice\n@example.org attacker@evil.example", "line break"],
      ["alice@example.org\nBcc: x@evil.example", "line break"],
      ["a b@example.org", "a space"],
      [`${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.org`, "more than the 254"],
    ],
  },
  addressOrDomain: {
    format: formats.addressOrDomain(),
    good: ["alice@example.org", "@example.org"],
    bad: [
      ["@", "domain is empty"],
      ["@example", "single label"],
      ["example.org", "no '@'"],
      ["a,b@example.org", "\",\""],
      ["@exa mple.org", "a space"],
    ],
  },
  path: {
    format: formats.path(),
    good: ["/etc/mailstead/tls", "/swapfile", "/var/mail/vhosts", "/var/www/html/acme", "/srv/mail", "/opt/mailstead", "/etc/postfix/sasl", "/var/lib/mailstead/.state"],
    bad: [
      ["/etc", "system directory"],
      ["/", "system directory"],
      ["/var", "system directory"],
      ["/usr/local", "system directory"],
      ["/etc/letsencrypt", "system directory"],
      ["/var/www/$(touch /tmp/x)", "\"$\""],
      ["/var/mail/../../etc", "'..' segment"],
      ["/var/mail/./x", "'.' or '..' segment"],
      ["relative/x", "not an absolute path"],
      ["./x", "not an absolute path"],
      ["/srv/mail/", "ends with '/'"],
      ["/srv//mail", "'//'"],
      ["/srv/mail dir", "a space"],
      ["/srv/mail\n", "line break"],
      ["/srv/mäil", "non-ASCII"],
      ["", "empty"],
    ],
  },
  "path with allowSystem": {
    format: formats.path({ allowSystem: true }),
    good: ["/etc", "/", "/var/mail", "/etc/mailstead/tls"],
    bad: [
      ["/etc/", "ends with '/'"],
      ["/etc/../root", "'..' segment"],
    ],
  },
  account: {
    format: formats.account({ extraReserved: ["debian", "deploy"] }),
    good: ["vmail", "_vmail", "mail-store", "v".repeat(32), "mailstead2"],
    bad: [
      ["root", "reserved"],
      ["postfix", "reserved"],
      ["debian", "reserved"],
      ["deploy", "reserved"],
      ["Debian-exim", "reserved"],
      ["Vmail", "upper-case"],
      ["v".repeat(33), "longer than 32"],
      ["1mail", "not a valid account name"],
      ["-mail", "not a valid account name"],
      ["v.mail", "not a valid account name"],
      ["vmail\n", "not a valid account name"],
      ["", "empty"],
    ],
  },
  serviceName: {
    format: formats.serviceName(),
    good: ["nginx", "postfix@-.service", "systemd-journald.service", "dev-disk-by\\x2duuid.device", "getty@tty1.service", "a:b_c"],
    bad: [
      ["-h", "starts with '-'"],
      ["--version", "starts with '-'"],
      ["nginx; reboot", "\";\""],
      ["nginx service", "a space"],
      ["a/b", "\"/\""],
      ["a".repeat(256), "more than the 255"],
      ["", "empty"],
    ],
  },
  interfaceName: {
    format: formats.interfaceName(),
    good: ["eth0", "wg0", "ens3", "br-lan", "eth0.100", "veth_a"],
    bad: [
      ["e*", "wildcard"],
      ["*", "wildcard"],
      ["-eth0", "starts with '-'"],
      ["eth 0", "a space"],
      ["eth0\"", "not allowed in an interface name"],
      ["eth0:1", "\":\""],
      ["abcdefghijklmnop", "more than the 15"],
      [".", "not a valid interface name"],
      ["..", "not a valid interface name"],
      ["", "empty"],
    ],
  },
  singleLine: {
    format: formats.singleLine(),
    good: ["s3cr3t!#$%^&*() with spaces", "tab\tinside", "", "ünïcödé"],
    bad: [
      ["pa\nss", "line break"],
      ["pass\r", "carriage return"],
      ["pa\x00ss", "control character (U+0000)"],
      ["pa\x1bss", "control character (U+001B)"],
      ["pa\x7fss", "control character (U+007F)"],
      [1234, "not a string"],
    ],
  },
  url: {
    format: formats.url({ protocols: ["https"] }),
    good: ["https://acme-v02.api.letsencrypt.org/directory", "https://example.org", "https://[2001:db8::1]:8443/x?y=1"],
    bad: [
      ["ftp://x", "uses ftp:"],
      ["http://example.org/", "uses http:"],
      ["https://user:pw@x/", "credentials"],
      ["https://user@x/", "credentials"],
      ["not a url", "a space"],
      ["notaurl", "not a URL"],
      ["https://exa mple.org/", "a space"],
      ["https://example.org/\n", "line break"],
      ["", "empty"],
    ],
  },
  "url with several protocols": {
    format: formats.url({ protocols: ["http:", "https:"] }),
    good: ["http://example.org/", "https://example.org/"],
    bad: [["file:///etc/passwd", "uses file:"]],
  },
  "url allowing file:": {
    format: formats.url({ protocols: ["file"] }),
    good: [],
    bad: [["file:///etc/passwd", "no host name"]],
  },
  dmarcUri: {
    format: formats.dmarcUri(),
    good: ["mailto:dmarc@example.org", "mailto:dmarc+reports@mail.example.xn--p1ai", "MAILTO:dmarc@example.org"],
    bad: [
      ["mailto:a@example.org;p=none", "\";\""],
      ["dmarc@example.org", "does not start with mailto:"],
      ["mailto:a@example.org,mailto:b@example.org", "\",\""],
      ["mailto:a@example.org!10m", "\"!\""],
      ["mailto:a@example.org?subject=x", "\"?\""],
      ["mailto: a@example.org", "a space"],
      ["mailto:example.org", "no '@'"],
      ["mailto:a@example", "single label"],
      ["mailto:", "address is empty"],
    ],
  },
  "noSyntax for Postfix main.cf": {
    format: formats.noSyntax("$,#{}", "Postfix main.cf"),
    good: ["permit_mynetworks reject", "", "a=b"],
    bad: [
      ["$myhostname", "\"$\""],
      ["a,b", "syntax in Postfix main.cf"],
      ["a # comment", "\"#\""],
      ["x\ny = z", "line break"],
      ["x\ty", "a tab"],
      [false, "not a string"],
    ],
  },
};

for (const [name, t] of Object.entries(tables)) {
  const c: FormatContext = { vars: t.vars ?? {} };
  describe(name, () => {
    if (t.good.length) {
      it.each(t.good.map((v) => [JSON.stringify(v), v]))("accepts %s", (_label, v) => {
        expect(t.format.check(v, c)).toBeUndefined();
      });
    }
    it.each(t.bad.map(([v, sub]) => [JSON.stringify(v).slice(0, 60), v, sub]))("refuses %s", (_label, v, sub) => {
      const p = t.format.check(v, c);
      expect(p, `expected ${JSON.stringify(v)} to be refused`).toBeDefined();
      expect(p!.message).toContain(sub as string);
      // Every message quotes the value (shortened) and every fix says something.
      const shown = JSON.stringify(v) ?? String(v);
      expect(p!.message).toContain(shown.length > 80 ? shown.slice(0, 79) : shown);
      expect(p!.fix.length).toBeGreaterThan(5);
    });
  });
}

describe("messages and fixes", () => {
  it("quotes long values shortened to 80 characters", () => {
    const p = formats.hostname().check(`${"a".repeat(300)}.org`, ctx)!;
    const quoted = p.message.slice(0, p.message.indexOf(": "));
    expect(quoted.length).toBe(80);
    expect(quoted.endsWith("…")).toBe(true);
  });

  it("the wide-prefix fix names the switch; without one it only says to narrow", () => {
    expect(formats.cidr({ allowWide: "firewall_allow_wide" }).check("0.0.0.0/0", ctx)!.fix).toContain("firewall_allow_wide: true");
    const plain = formats.cidr().check("0.0.0.0/0", { vars: { firewall_allow_wide: true } })!;
    expect(plain.fix).toBe("use a prefix of /8 or longer");
  });

  it("the trailing-slash fix gives the path without it", () => {
    expect(formats.path().check("/srv/mail/", ctx)!.fix).toBe('drop the trailing slash: "/srv/mail"');
  });

  it("the trailing-dot fix gives the name without it", () => {
    expect(formats.hostname().check("mx1.example.org.", ctx)!.fix).toBe('drop the trailing dot: "mx1.example.org"');
  });

  it("every format has a name and an expected phrase", () => {
    const all: Format[] = [
      formats.ip(), formats.cidr(), formats.hostname(), formats.domain(), formats.localPart(), formats.address(),
      formats.addressOrDomain(), formats.path(), formats.account(), formats.serviceName(), formats.interfaceName(),
      formats.singleLine(), formats.url({ protocols: ["https"] }), formats.dmarcUri(), formats.noSyntax("$", "x"),
    ];
    for (const f of all) {
      expect(f.name).toMatch(/^[a-zA-Z]+$/);
      expect(f.expected.length).toBeGreaterThan(10);
    }
    expect(new Set(all.map((f) => f.name)).size).toBe(all.length);
  });
});

describe("SYSTEM_DIRS and RESERVED_ACCOUNTS", () => {
  it("every system directory is refused by path() and accepted with allowSystem", () => {
    for (const dir of SYSTEM_DIRS) {
      expect(formats.path().check(dir, ctx)?.message, dir).toContain("system directory");
      expect(formats.path({ allowSystem: true }).check(dir, ctx), dir).toBeUndefined();
    }
  });

  it("subdirectories not in the list are fine", () => {
    for (const dir of SYSTEM_DIRS) {
      const sub = dir === "/" ? "/mailstead" : `${dir}/mailstead`;
      expect(formats.path().check(sub, ctx), sub).toBeUndefined();
    }
  });

  it("every reserved account is refused", () => {
    for (const name of RESERVED_ACCOUNTS) expect(formats.account().check(name, ctx)?.message, name).toContain("reserved");
  });

  it("extraReserved applies only to the format it was given to", () => {
    expect(formats.account({ extraReserved: ["alice"] }).check("alice", ctx)).toBeDefined();
    expect(formats.account().check("alice", ctx)).toBeUndefined();
  });
});

describe("ip with a family", () => {
  it("takes only addresses of that family (the DNS settings' IPv4 and IPv6)", () => {
    expect(formats.ip({ family: 4 }).check("198.51.100.7", ctx)).toBeUndefined();
    expect(formats.ip({ family: 4 }).check("2001:db8::7", ctx)?.message).toContain("is not an IPv4 address");
    expect(formats.ip({ family: 6 }).check("2001:db8::7", ctx)).toBeUndefined();
    expect(formats.ip({ family: 6 }).check("198.51.100.7", ctx)?.message).toContain("is not an IPv6 address");
    expect(formats.ip({ family: 6 }).check("300.1.1.1", ctx)?.message).toContain("not an IPv4 or IPv6 address");
  });
});

describe("checkValue", () => {
  it("checks a single value", () => {
    expect(checkValue(formats.ip(), "198.51.100.1", ctx)).toEqual([]);
    const [p, ...rest] = checkValue(formats.ip(), "nope", ctx);
    expect(rest).toEqual([]);
    expect(p!.index).toBeUndefined();
    expect(p!.message).toContain('"nope"');
  });

  it("checks each item of a list and reports the index", () => {
    const problems = checkValue(formats.cidr(), ["10.0.0.0/8", "bad", "192.0.2.0/24", "0.0.0.0/0", 7], ctx);
    expect(problems.map((p) => p.index)).toEqual([1, 3, 4]);
    expect(problems[2]!.message).toContain("not a string");
  });

  it("an empty list has no problems", () => {
    expect(checkValue(formats.address(), [], ctx)).toEqual([]);
  });
});

describe("mail formats agree with a naive reference implementation on random input", () => {
  // A literal, slow reading of the rules; the formats (fast path and rule chain) must agree with it.
  const ATEXT = new Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-");
  const LDH = new Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
  const refLocal = (l: string) =>
    l.length >= 1 && l.length <= 64 && [...l].every((c) => c === "." || ATEXT.has(c)) && !l.startsWith(".") && !l.endsWith(".") && !l.includes("..");
  const refDomain = (d: string) => {
    const labels = d.split(".");
    return d.length <= 253 && labels.length >= 2
      && labels.every((l) => l.length >= 1 && l.length <= 63 && [...l].every((c) => LDH.has(c)) && !l.startsWith("-") && !l.endsWith("-"))
      && !/^[0-9]+$/.test(labels[labels.length - 1]!);
  };
  const refAddress = (s: string) => {
    const i = s.indexOf("@");
    return s.length <= 254 && i >= 0 && refLocal(s.slice(0, i)) && refDomain(s.slice(i + 1));
  };

  // Deterministic PRNG (mulberry32) so a failure is reproducible.
  let seed = 0x5eed;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const GOOD = ["a", "Z", "0", "9", "mx1", "example", "org", "123", "xn--p1ai", "b-c"];
  const BAD = ["-", ".", "..", "+", "_", " ", "\n", "@", "é", "'", "a".repeat(63), "b".repeat(64)];
  const pick = (list: string[]) => list[Math.floor(rand() * list.length)]!;
  const word = () => Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(rand() < 0.85 ? GOOD : BAD)).join("");
  const name = () => Array.from({ length: 2 + Math.floor(rand() * 3) }, word).join(".");
  const samples = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? word() : i % 3 === 1 ? name() : `${word()}@${name()}`));

  it.each([
    ["hostname", formats.hostname(), refDomain],
    ["domain", formats.domain(), refDomain],
    ["localPart", formats.localPart(), refLocal],
    ["address", formats.address(), refAddress],
    ["addressOrDomain", formats.addressOrDomain(), (s: string) => (s.startsWith("@") ? refDomain(s.slice(1)) : refAddress(s))],
  ] as const)("%s", (_name, format, ref) => {
    let valid = 0;
    for (const v of samples) {
      const ok = format.check(v, ctx) === undefined;
      if (ok !== ref(v)) expect.fail(`${JSON.stringify(v)}: format says ${ok}, reference says ${!ok}`);
      if (ok) valid++;
    }
    expect(valid).toBeGreaterThan(100); // the generator does produce valid values
  });
});

describe("performance", () => {
  it("16,000 address() checks stay fast", () => {
    const f = formats.address();
    const values = Array.from({ length: 16_000 }, (_, i) => `user.${i}+tag@mx${i % 97}.example${i % 13}.org`);
    const start = performance.now();
    const problems = checkValue(f, values, ctx);
    const ms = performance.now() - start;
    console.log(`formats: 16,000 address() checks took ${ms.toFixed(1)} ms`);
    expect(problems).toEqual([]);
    expect(ms).toBeLessThan(1000);
  });

  it("16,000 refused values stay fast too", () => {
    const f = formats.address();
    const values = Array.from({ length: 16_000 }, (_, i) => `user ${i}@example.org`);
    const start = performance.now();
    const problems = checkValue(f, values, ctx);
    const ms = performance.now() - start;
    console.log(`formats: 16,000 refused address() checks took ${ms.toFixed(1)} ms`);
    expect(problems).toHaveLength(16_000);
    expect(ms).toBeLessThan(1000);
  });
});
