/**
 * The lab's promises, checked for real against running VMs.
 * Run: npx vitest run --project e2e tests/e2e/lab.test.ts   (root; brings the lab up if needed)
 */
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { deleteRecord, ensureLab, labHost, lookup, memReport, nsupdate, setRecord, sshRun, type LabState } from "../lab/index.ts";

let lab: LabState;

beforeAll(async () => {
  lab = await ensureLab();
});

describe("hosts", () => {
  it("every host answers SSH as the non-root user, with passwordless sudo", async () => {
    for (const h of lab.hosts) {
      const r = await sshRun(h, "id -un; sudo -n id -u; hostname -f");
      expect(r.stdout.trim().split("\n"), h.name).toEqual([h.user, "0", h.fqdn]);
      expect(h.user).not.toBe("root");
    }
  });

  it("sshd is key-only and refuses root", async () => {
    for (const h of lab.hosts) {
      const r = await sshRun(h, "sudo sshd -T | grep -Ei '^(passwordauthentication|permitrootlogin|kbdinteractiveauthentication) '");
      expect(r.stdout.toLowerCase(), h.name).toContain("passwordauthentication no");
      expect(r.stdout.toLowerCase(), h.name).toContain("permitrootlogin no");
    }
  });

  it("runs both Debian releases", () => {
    expect(new Set(lab.hosts.map((h) => h.os))).toEqual(new Set(["bookworm", "trixie"]));
  });

  it("machine-ids and SSH host keys are all distinct, and known_hosts holds the served keys", async () => {
    const ids: string[] = [];
    const keys: string[] = [];
    const known = readFileSync(lab.hosts[0]!.knownHosts, "utf8");
    for (const h of lab.hosts) {
      const r = await sshRun(h, "cat /etc/machine-id /etc/ssh/ssh_host_ed25519_key.pub");
      const [id, pub] = r.stdout.trim().split("\n");
      expect(id, h.name).toMatch(/^[0-9a-f]{32}$/);
      ids.push(id!);
      const key = pub!.split(/\s+/).slice(0, 2).join(" ");
      keys.push(key);
      expect(known, h.name).toContain(`${h.address} ${key}`);
    }
    expect(new Set(ids).size).toBe(lab.hosts.length);
    expect(new Set(keys).size).toBe(lab.hosts.length);
  });

  it("VMs have no default route (IPv4 or IPv6) and only their lab address", async () => {
    for (const h of lab.hosts) {
      const r = await sshRun(h, "ip route show default; ip -6 route show default; echo ---; ip -4 -o addr show scope global");
      const [routes, addrs] = r.stdout.split("---");
      expect(routes!.trim(), h.name).toBe("");
      expect(addrs, h.name).toContain(`inet ${h.address}/24`);
    }
  });

  it("VMs resolve names through the lab DNS", async () => {
    const mx1 = labHost(lab, "mx1");
    const mx2 = labHost(lab, "mx2");
    const r = await sshRun(mx1, `cat /etc/resolv.conf; getent ahostsv4 ${mx2.fqdn} | head -1`);
    expect(r.stdout).toContain(`nameserver ${lab.dns.server}`);
    expect(r.stdout).toContain(mx2.address);
  });

  it("apt goes through the lab's apt-cacher-ng", async () => {
    const r = await sshRun(labHost(lab, "mx1"), "apt-config dump Acquire::http::Proxy");
    expect(r.stdout).toContain(lab.aptProxy);
  });
});

describe("DNS", () => {
  it("answers A, MX and PTR for every host", async () => {
    for (const h of lab.hosts) {
      expect(await lookup(h.fqdn, "A", lab), h.name).toEqual([h.address]);
      expect(await lookup(h.address.split(".").reverse().join(".") + ".in-addr.arpa", "PTR", lab), h.name).toEqual([`${h.fqdn}.`]);
    }
    expect(await lookup("example.test", "MX", lab)).toEqual(["10 mx1.example.test."]);
    expect(await lookup("example.net", "MX", lab)).toEqual(["10 mx2.example.net."]);
  });

  it("accepts a TSIG update signed with lab-admin, refuses one without a key", async () => {
    const name = `e2e-${randomBytes(4).toString("hex")}.example.test`;
    await setRecord(name, "A", ["198.51.100.99"], { state: lab });
    expect(await lookup(name, "A", lab)).toEqual(["198.51.100.99"]);
    await expect(setRecord(name, "A", ["198.51.100.98"], { key: "none", state: lab })).rejects.toThrow(/refused/i);
    expect(await lookup(name, "A", lab)).toEqual(["198.51.100.99"]);
    await deleteRecord(name, "A", { state: lab });
    expect(await lookup(name, "A", lab)).toEqual([]);
  });

  it("acme-key may only touch _acme-challenge TXT records", async () => {
    const token = `"e2e-${randomBytes(4).toString("hex")}"`;
    await nsupdate([`update add _acme-challenge.mx1.example.test. 60 TXT ${token}`], { zone: "example.test", key: "acme", state: lab });
    expect(await lookup("_acme-challenge.mx1.example.test", "TXT", lab)).toContain(token);
    await nsupdate([`update delete _acme-challenge.mx1.example.test. TXT`], { zone: "example.test", key: "acme", state: lab });
    await expect(
      nsupdate([`update add www.example.test. 60 A 198.51.100.99`], { zone: "example.test", key: "acme", state: lab }),
    ).rejects.toThrow(/refused/i);
  });
});

describe("ACME", () => {
  it("Pebble's directory is reachable from mx1 with the exported lab CA, and the issuing root is exported", async () => {
    const ca = readFileSync(lab.acme.serverCa, "utf8");
    const mx1 = labHost(lab, "mx1");
    await sshRun(mx1, "cat > /tmp/lab-ca.pem", { input: ca });
    const r = await sshRun(mx1, `curl -sS --max-time 5 --cacert /tmp/lab-ca.pem ${lab.acme.directory}`);
    const dir = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(dir.newAccount).toMatch(/^https:\/\/198\.51\.100\.1:14000\//);
    expect(dir.newOrder).toBeTruthy();
    // and without the CA, TLS must fail (the CA is really what makes it trusted)
    const bad = await sshRun(mx1, `curl -sS --max-time 5 ${lab.acme.directory}`, { nothrow: true });
    expect(bad.exitCode).not.toBe(0);
    expect(readFileSync(lab.acme.rootCa, "utf8")).toContain("BEGIN CERTIFICATE");
  });
});

describe("memory", () => {
  it("mem lists PSS per systemd unit", async () => {
    const m = await memReport(labHost(lab, "mx1"));
    const units = m.units.map((u) => u.unit);
    expect(units).toContain("systemd-journald.service");
    expect(units).toContain("systemd-networkd.service");
    expect(m.totalKiB).toBeGreaterThan(1024);
  });

  it("the VM's systemd has per-service memory cgroups", async () => {
    const r = await sshRun(labHost(lab, "mx1"), "systemctl show -p MemoryCurrent systemd-journald.service");
    expect(r.stdout.trim()).toMatch(/^MemoryCurrent=\d+$/);
  });
});

describe("inventory", () => {
  it("has every host, mail hosts in group mail, outsider in clients", () => {
    const inv = YAML.parse(readFileSync(lab.inventory, "utf8")) as {
      hosts: Record<string, { address: string; ssh: { user: string; port: number; key: string; known_hosts: string }; vars: Record<string, string> }>;
      groups: Record<string, { hosts: string[] }>;
    };
    for (const h of lab.hosts) {
      const e = inv.hosts[h.name];
      expect(e?.address).toBe(h.address);
      expect(e?.ssh).toEqual({ user: h.user, port: 22, key: h.sshKey, known_hosts: h.knownHosts });
      expect(e?.vars).toMatchObject({ base_hostname: h.name, base_domain: h.domain });
    }
    expect(inv.groups.mail?.hosts).toEqual(["mx1", "mx2"]);
    expect(inv.groups.mail?.hosts).not.toContain("outsider");
    expect(inv.groups.clients?.hosts).toEqual(["outsider", "oci1", "vault"]);
  });
});
