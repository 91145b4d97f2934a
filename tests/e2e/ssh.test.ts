/**
 * The SSH transport against a real sshd in the lab: host keys verified
 * against known_hosts (unknown refused unless accepted, changed always
 * refused), sudo escalation for the cloud-style `debian` user, stdin uploads,
 * per-command timeouts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { HostKeyError, TimeoutError } from "../../lib/errors.js";
import { SshTransport } from "../../lib/transport/ssh.js";
import { ensureLab, type LabHost, type LabState } from "../lab/index.js";

let lab: LabState;
let mx1: LabHost;
beforeAll(async () => {
  lab = await ensureLab();
  mx1 = lab.hosts.find((h) => h.name === "mx1")!;
});

const transport = (knownHostsPath: string, acceptNewHostKeys = false, timeoutMs = 30_000) =>
  new SshTransport({ host: mx1.address, port: 22, user: mx1.user, keyPath: mx1.sshKey, knownHostsPath, acceptNewHostKeys, timeoutMs, connectTimeoutMs: 10_000 });

describe("ssh transport", () => {
  it("runs commands as root through sudo, under sh, with stdin", async () => {
    const t = transport(mx1.knownHosts);
    try {
      const r = await t.run('id -u; readlink /proc/$$/exe; cat', { stdin: Buffer.from("héllo\n") });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("0\n/usr/bin/dash\nhéllo\n");
      const f = await t.run("exit 3");
      expect(f.code).toBe(3);
    } finally {
      await t.close();
    }
  });

  it("refuses an unknown host key unless told to accept it, then records it", async () => {
    const kh = join(mkdtempSync(join(tmpdir(), "kh-")), "known_hosts");
    const refused = transport(kh);
    await expect(refused.run("true")).rejects.toThrow(HostKeyError);
    await expect(transport(kh).run("true")).rejects.toThrow(/not in .*known_hosts.*--accept-new-host-keys/);
    const accepting = transport(kh, true);
    expect((await accepting.run("true")).code).toBe(0);
    await accepting.close();
    expect(readFileSync(kh, "utf8")).toMatch(new RegExp(`^${mx1.address.replace(/\./g, "\\.")} ssh-ed25519 AAAA`));
    const again = transport(kh);
    expect((await again.run("true")).code).toBe(0);
    await again.close();
  });

  it("always refuses a changed host key, even with --accept-new-host-keys", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kh-"));
    const kh = join(dir, "known_hosts");
    // A valid ed25519 key that is not mx1's.
    const other = readFileSync(mx1.sshKey + ".pub", "utf8").split(/\s+/).slice(0, 2).join(" ");
    const before = `${mx1.address} ${other}\n`;
    writeFileSync(kh, before);
    await expect(transport(kh, true).run("true")).rejects.toThrow(/HOST KEY CHANGED.*ssh-keygen -R/s);
    // The file is exactly what it was before the refused connection: not replaced, nothing appended.
    expect(readFileSync(kh, "utf8")).toBe(before);
  });

  it("abandons a command after its timeout", async () => {
    const t = transport(mx1.knownHosts, false, 1500);
    try {
      const started = Date.now();
      await expect(t.run("sleep 20")).rejects.toThrow(TimeoutError);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await t.close();
    }
  });
});
