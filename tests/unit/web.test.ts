/**
 * The web role's pure parts: the sites and names, the MTA-STS policy (RFC 8461 §3.2), the
 * autoconfig file checked with an XML parser against Thunderbird's config-v1.1 rules, the
 * lighttpd configuration it renders, and the settings certbot refuses next to it.
 */
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { render } from "../../lib/template.js";
import { certNames, settingsProblems, type CertbotVars } from "../../roles/certbot/index.js";
import { web, type WebVars } from "../../roles/web/index.js";
import { appleProfiles, mtaStsMx, mtaStsPolicy, mtaStsRecord, webNames, webSites } from "../../roles/web/sites.js";
import { planRole } from "../../lib/plan.js";
import { loadRoleFixture, siteInput, siteVars } from "./role-fixture.js";

const HOST = { fqdn: "mx1.example.org", domain: "example.org" };
const vars = (over: Record<string, unknown> = {}) => siteVars({ base_hostname: "mx1", base_domain: "example.org", web_enabled: true, ...over }) as unknown as WebVars & CertbotVars;

describe("the web side's names", () => {
  it("mta-sts. and autoconfig. of the mail domain, only when on", () => {
    expect(webNames(vars(), HOST)).toEqual(["mta-sts.example.org", "autoconfig.example.org", "autodiscover.example.org"]);
    expect(webNames(vars({ web_autoconfig_enabled: false }), HOST)).toEqual(["mta-sts.example.org"]);
    expect(webSites(vars({ web_enabled: false }), HOST)).toEqual([]);
    expect(mtaStsRecord(vars({ web_enabled: false }), HOST)).toBeUndefined();
  });
  it("the certificate carries them (certbot), after the host name and before the extra names", () => {
    expect(certNames(vars({ certbot_extra_names: ["mail.example.org"] }))).toEqual(["mx1.example.org", "mta-sts.example.org", "autoconfig.example.org", "autodiscover.example.org", "mail.example.org"]);
    expect(certNames(vars({ web_enabled: false }))).toEqual(["mx1.example.org"]);
    // mailbox_domain is the mail domain: the web names follow it, the host name does not
    expect(certNames(vars({ mailbox_domain: "example.net" }))).toEqual(["mx1.example.org", "mta-sts.example.net", "autoconfig.example.net", "autodiscover.example.net"]);
  });
  it("certbot standalone next to the web side is refused when the inventory loads, with the fix", () => {
    const p = settingsProblems(vars({ certbot_mode: "standalone" }));
    expect(p).toEqual([expect.objectContaining({ setting: "certbot_mode", fix: expect.stringMatching(/certbot_mode: webroot/) })]);
    expect(settingsProblems(vars({ certbot_mode: "webroot" }))).toEqual([]);
    expect(settingsProblems(vars({ certbot_mode: "standalone", web_enabled: false }))).toEqual([]);
  });
  it("opens 80 and 443 only when on", () => {
    expect(web.ports!(vars()).map((p) => p.port)).toEqual([80, 443]);
    expect(web.ports!(vars({ web_enabled: false }))).toEqual([]);
  });
});

describe("MTA-STS policy (RFC 8461 §3.2)", () => {
  it("version first, the mode, one mx line per host, max_age; CRLF line ends", () => {
    const p = mtaStsPolicy(vars({ web_mta_sts_mode: "enforce", web_mta_sts_extra_mx: ["MX2.example.org", "mx1.example.org"] }), HOST);
    expect(p).toBe("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: mx2.example.org\r\nmax_age: 604800\r\n");
    // each line is sts-key ":" *WSP sts-value (§3.2 ABNF)
    for (const l of p.split("\r\n").filter(Boolean)) expect(l).toMatch(/^[a-z_]+: [\x21-\x7e]+$/);
    expect(mtaStsMx(vars(), HOST)).toEqual(["mx1.example.org"]);
  });
  it("mode none withdraws the policy with a short max_age (§8.3)", () => {
    expect(mtaStsPolicy(vars({ web_mta_sts_mode: "none" }), HOST)).toMatch(/^version: STSv1\r\nmode: none\r\nmx: mx1\.example\.org\r\nmax_age: 86400\r\n$/);
  });
});

/** Thunderbird's config-v1.1 rules (wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat) the file must keep. */
function thunderbirdProblems(xml: string): string[] {
  const out: string[] = [];
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (n) => ["incomingServer", "outgoingServer", "domain"].includes(n) }).parse(xml);
  const cc = doc.clientConfig;
  if (!cc) return ["no <clientConfig> root"];
  if (cc["@version"] !== "1.1") out.push(`clientConfig version ${cc["@version"]}, not 1.1`);
  const p = cc.emailProvider;
  if (!p?.["@id"]) out.push("emailProvider has no id");
  if (!p?.domain?.length) out.push("emailProvider names no domain");
  const sockets = ["plain", "SSL", "STARTTLS"];
  const auths = ["password-cleartext", "password-encrypted", "NTLM", "GSSAPI", "client-IP-address", "TLS-client-cert", "OAuth2", "none"];
  const groups: [string, Record<string, any>[], string[]][] = [["incomingServer", p?.incomingServer ?? [], ["imap", "pop3"]], ["outgoingServer", p?.outgoingServer ?? [], ["smtp"]]];
  for (const [kind, list, types] of groups) {
    if (!list.length) out.push(`no ${kind}`);
    for (const s of list) {
      if (!types.includes(s["@type"])) out.push(`${kind} type ${s["@type"]}`);
      if (!/^[a-z0-9.-]+$/.test(String(s.hostname))) out.push(`${kind} hostname ${s.hostname}`);
      if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) out.push(`${kind} port ${s.port}`);
      if (!sockets.includes(s.socketType)) out.push(`${kind} socketType ${s.socketType}`);
      if (s.socketType === "plain") out.push(`${kind} on ${s.port} without TLS`);
      if (!auths.includes(s.authentication)) out.push(`${kind} authentication ${s.authentication}`);
      if (!/^%EMAIL(ADDRESS|LOCALPART)%$/.test(String(s.username))) out.push(`${kind} username ${s.username}`);
    }
  }
  return out;
}

describe("autoconfig (Thunderbird config-v1.1)", () => {
  const xml = render("web", "config-v1.1.xml", { domain: "example.org", fqdn: "mx1.example.org" });
  it("follows Thunderbird's format rules: IMAPS 993, submission 465 then 587, TLS everywhere, the full address as login", () => {
    expect(thunderbirdProblems(xml)).toEqual([]);
    const p = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (n) => n.endsWith("Server") }).parse(xml).clientConfig.emailProvider;
    expect(p["@id"]).toBe("example.org");
    expect(p.incomingServer.map((s: { port: number; socketType: string }) => `${s.port}/${s.socketType}`)).toEqual(["993/SSL"]);
    expect(p.outgoingServer.map((s: { port: number; socketType: string }) => `${s.port}/${s.socketType}`)).toEqual(["465/SSL", "587/STARTTLS"]);
  });
  it("the rule checker catches a broken file (it can fail)", () => {
    expect(thunderbirdProblems(xml.replace("<socketType>SSL</socketType>", "<socketType>plain</socketType>"))).toEqual(["incomingServer on 993 without TLS"]);
    expect(thunderbirdProblems(xml.replace('version="1.1"', 'version="1.0"'))).toEqual(["clientConfig version 1.0, not 1.1"]);
    expect(thunderbirdProblems("<foo/>")).toEqual(["no <clientConfig> root"]);
  });
});

describe("Outlook autodiscover and Apple profiles", () => {
  const parse = (x: string) => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (n) => n === "Protocol" }).parse(x);
  it("autodiscover: the POX answer names IMAP 993 and SMTP 465 over TLS on this host", () => {
    const a = parse(render("web", "autodiscover.xml", { domain: "example.org", fqdn: "mx1.example.org" })).Autodiscover;
    expect(a["@xmlns"]).toBe("http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006");
    const acc = a.Response.Account;
    expect(acc.AccountType).toBe("email");
    expect(acc.Protocol.map((p: { Type: string; Server: string; Port: number; SSL: string }) => `${p.Type} ${p.Server}:${p.Port} ssl=${p.SSL}`)).toEqual(["IMAP mx1.example.org:993 ssl=on", "SMTP mx1.example.org:465 ssl=on"]);
  });
  it("one Apple profile per mailbox, no password inside, stable UUIDs", () => {
    const ps = appleProfiles(HOST, ["alice@example.org", "bob.smith@example.org"]);
    expect(ps.map((p) => p.file)).toEqual(["alice.mobileconfig", "bob.smith.mobileconfig"]);
    expect(appleProfiles(HOST, ["alice@example.org"])[0]!.vars.uuid_mail).toBe(ps[0]!.vars.uuid_mail);
    expect(ps[0]!.vars.uuid_mail).not.toBe(ps[1]!.vars.uuid_mail);
    expect(ps[0]!.vars.uuid_mail).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    const xml = render("web", "mail.mobileconfig", ps[0]!.vars);
    const plist = new XMLParser({ preserveOrder: false }).parse(xml).plist.dict;
    // keys and values alternate; read the mail payload's pairs
    const inner = plist.array.dict;
    const keys: string[] = inner.key;
    expect(keys).toEqual(expect.arrayContaining(["EmailAddress", "IncomingMailServerHostName", "IncomingMailServerPortNumber", "OutgoingMailServerPortNumber", "OutgoingPasswordSameAsIncomingPassword"]));
    expect(keys.some((k) => /Password$/.test(k) && k !== "OutgoingPasswordSameAsIncomingPassword")).toBe(false);
    expect(inner.integer).toEqual([1, 993, 465]);
    expect(xml).toContain("<key>IncomingMailServerUsername</key><string>alice@example.org</string>");
    expect(xml).toContain("<key>PayloadType</key><string>com.apple.mail.managed</string>");
  });
});

describe("lighttpd.conf", () => {
  const render_ = (over: Record<string, unknown> = {}) =>
    render("web", "lighttpd.conf", {
      ...vars(),
      fullchain: "/etc/mailstead/tls/fullchain.pem",
      privkey: "/etc/mailstead/tls/privkey.pem",
      acme_webroot: "/var/lib/mailstead/acme-webroot",
      cipher_string: "A:B",
      curve_string: "X25519:prime256v1",
      names_re: "mx1\\.example\\.org|mta-sts\\.example\\.org",
      webmail: false,
      direct: false,
      proxy: false,
      proxy_socket: "127.0.0.1:8080",
      trusted_proxies: [],
      webmail_root: "/var/lib/roundcube/public_html",
      fqdn_re: "mx1\\.example\\.org",
      max_request_kib: 64,
      sites: [{ name: "mta-sts.example.org", name_re: "mta-sts\\.example\\.org", dir: "mta-sts", purpose: "p", alias_from: "", alias_to: "" }],
      ...over,
    });
  const conf = render_();
  it("with the webmail: FastCGI for index.php only on the host's name, Roundcube's CSP, uploads up to the message size", () => {
    const w = render_({ webmail: true, direct: true, max_request_kib: 10496 });
    expect(/server\.modules = \(([^)]*)\)/.exec(w)![1]).toContain('"mod_fastcgi"');
    expect(w).toContain('"port" => 9071');
    expect(w).toContain("server.max-request-size = 10496");
    expect(w).toContain('^/(?!index\\.php$).*\\.php$');
    expect(w).toMatch(/"Content-Security-Policy" => "default-src 'self'; script-src 'self' 'unsafe-inline'/);
    expect(conf).not.toContain("fastcgi");
    // No client chooses the address Roundcube logs (and fail2ban bans): forwarding headers are removed.
    expect(w).toContain('setenv.set-request-header = ( "X-Forwarded-For" => "", "X-Real-IP" => "", "Forwarded" => "" )');
    expect(w).not.toMatch(/^extforward\./m);
  });
  it("proxy mode: the webmail only on the proxy's HTTP socket, X-Forwarded-For believed from the trusted proxies only, last in the file", () => {
    const w = render_({ webmail: true, proxy: true, proxy_socket: "198.51.100.10:8080", trusted_proxies: ["198.51.100.50", "10.0.0.0/8"] });
    expect(/server\.modules = \(([^)]*)\)/.exec(w)![1]).toContain('"mod_extforward"');
    expect(w).toContain('extforward.forwarder = ( "198.51.100.50" => "trust", "10.0.0.0/8" => "trust" )');
    expect(w).toContain('extforward.headers = ( "X-Forwarded-For" )');
    expect(w).not.toContain('"all" => "trust"');
    const block = w.slice(w.indexOf('$SERVER["socket"] == "198.51.100.10:8080" {'));
    expect(block).toContain('server.document-root = "/var/lib/roundcube/public_html"');
    expect(block).toContain('"port" => 9071');
    expect(block).toContain("url.redirect = ( )");
    // not on the host's name over 443
    expect(w.match(/server\.document-root = "\/var\/lib\/roundcube\/public_html"/g)).toHaveLength(1);
    expect(w.indexOf("setenv.set-request-header")).toBeGreaterThan(0);
  });
  it("static files only: no CGI, FastCGI, PHP or directory listings", () => {
    const mods = /server\.modules = \(([^)]*)\)/.exec(conf)![1]!;
    expect(mods.match(/"mod_\w+"/g)).toEqual(['"mod_access"', '"mod_alias"', '"mod_redirect"', '"mod_setenv"', '"mod_openssl"']);
    expect(conf).not.toMatch(/fastcgi|mod_cgi|dir-listing\.activate\s*=\s*"enable"/);
  });
  it("HTTP: the ACME webroot, and 308 to HTTPS only for our names; HTTPS: headers and one document root per site", () => {
    expect(conf).toContain('alias.url = ( "/.well-known/acme-challenge/" => "/var/lib/mailstead/acme-webroot/.well-known/acme-challenge/" )');
    expect(conf).toContain('$HTTP["host"] =~ "^(mx1\\.example\\.org|mta-sts\\.example\\.org)(:80)?$"');
    expect(conf).toContain("url.redirect-code = 308");
    expect(conf).toContain('"Strict-Transport-Security" => "max-age=63072000"');
    expect(conf).toContain('"Content-Security-Policy" => "default-src \'none\'; frame-ancestors \'none\'"');
    expect(conf).toMatch(/\$HTTP\["host"\] =~ "\^mta-sts\\\.example\\\.org\(:443\)\?\$" \{\n\s+server\.document-root = "\/var\/www\/mailstead\/mta-sts"/);
    expect(conf).toContain('"MinProtocol" => "TLSv1.2"');
  });
});

describe("the web role planned from its recorded fixtures", () => {
  it("fresh Debian 12: installs lighttpd and mod_openssl, writes the policy and the files, validates the config before it replaces the live one", () => {
    const fx = loadRoleFixture("web", "debian12-fresh");
    const plan = planRole(web, siteInput(fx));
    const byTitle = (t: string) => plan.steps.find((s) => s.title.startsWith(t))!;
    expect(byTitle("Install lighttpd").commands[0]!.run).toMatch(/apt-get install .*--no-install-recommends lighttpd lighttpd-mod-openssl$/);
    expect(byTitle("Write the MTA-STS policy").file?.after).toBe("version: STSv1\r\nmode: testing\r\nmx: mx1.example.test\r\nmax_age: 604800\r\n");
    expect(byTitle("Write the Apple profile of alice@example.test").file?.path).toBe("/var/www/mailstead/autoconfig/apple/alice.mobileconfig");
    const conf = byTitle("Render /etc/lighttpd/lighttpd.conf");
    expect(conf.commands.map((c) => c.run).join("\n")).toMatch(/lighttpd -tt -f /);
    expect(conf.notify).toEqual(["restart lighttpd"]);
    expect(plan.handlers.map((h) => h.title)).toEqual(["daemon-reload", "restart lighttpd"]);
  });
  it("converged Debian 13: nothing to do", () => {
    const plan = planRole(web, siteInput(loadRoleFixture("web", "debian13-converged")));
    expect(plan.steps.filter((s) => s.status === "change").map((s) => s.title)).toEqual([]);
  });
});
