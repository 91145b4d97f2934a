/**
 * Fact parsers against real output captured by scripts/capture-facts.ts:
 * Debian 12 (this machine, and the mx1 lab VM: files ending `-vm`) and
 * Debian 13 (the trixie lab image through chroot, and the mx2 lab VM).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fileContent, fileStat } from "../../lib/facts/files.js";
import { osRelease, parseOsReleaseText } from "../../lib/facts/os.js";
import { aptListsAge, aptPolicy, debconfSelections, debPackages } from "../../lib/facts/packages.js";
import { commandOutput, commandStatus, group, listeningSockets, systemdUnit, user } from "../../lib/facts/system.js";
import type { Fact } from "../../lib/facts/types.js";
import { CASES } from "../../scripts/capture-facts.js";

const DIR = fileURLToPath(new URL("./fixtures/facts/", import.meta.url));
const read = (os: string, name: string) => readFileSync(join(DIR, os, `${name}.txt`), "utf8");
const parse = <T, A>(fact: Fact<T, A>, os: string, name: string, args: A): T => fact.parse(read(os, name), args);
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

const RELEASES = {
  debian12: { versionId: "12", codename: "bookworm", debianVersion: "12.11\n", aptVersion: "2.6.1", baseFiles: "12.4+deb12u11", tzdataQuestions: 13 },
  debian13: { versionId: "13", codename: "trixie", debianVersion: "13.8\n", aptVersion: "3.0.4", baseFiles: "13.8+deb13u8", tzdataQuestions: 12 },
} as const;

describe("captured fixtures", () => {
  it("exist for every capture case meaningful on each target", () => {
    for (const c of CASES) {
      const f12 = `${c.fact.name}-${c.name}`;
      // local (Debian 12 here) and chroot (Debian 13 image) captures
      if (c.on.includes("local")) expect(existsSync(join(DIR, "debian12", `${f12}.txt`)), `debian12/${f12}`).toBe(true);
      if (c.on.includes("chroot")) expect(existsSync(join(DIR, "debian13", `${f12}.txt`)), `debian13/${f12}`).toBe(true);
    }
  });
});

for (const [os, rel] of Object.entries(RELEASES)) {
  describe(`${os} (real output)`, () => {
    it("os.release", () => {
      for (const name of ["os.release-default", "os.release-default-vm"]) {
        expect(parse(osRelease, os, name, undefined)).toEqual({
          id: "debian",
          versionId: rel.versionId,
          codename: rel.codename,
          prettyName: `Debian GNU/Linux ${rel.versionId} (${rel.codename})`,
          idLike: [],
          arch: "amd64",
          kernel: expect.stringMatching(/^\d+\.\d+/),
        });
      }
    });

    it("deb.packages: only ii lines, name → version", () => {
      const p = parse(debPackages, os, "deb.packages-trimmed", undefined);
      expect(p.apt).toBe(rel.aptVersion);
      expect(p["base-files"]).toBe(rel.baseFiles);
      expect(p.tzdata).toMatch(/^20\d\d[a-z]-0\+deb1[23]u\d+$/);
      expect(Object.keys(p).length).toBeGreaterThan(100);
      expect(p["mailstead-no-such-package"]).toBeUndefined();
    });

    it("file.stat: regular file with its sha256", () => {
      const s = parse(fileStat, os, "file.stat-regular", "/etc/debian_version");
      expect(s).toEqual({
        type: "file",
        mode: "0644",
        owner: "root",
        group: "root",
        size: Buffer.byteLength(rel.debianVersion),
        sha256: sha256(rel.debianVersion),
      });
      // and the content fact of the same file agrees
      const c = parse(fileContent, os, "file.content-regular", "/etc/debian_version");
      expect(c).toBe(rel.debianVersion);
      expect(sha256(c!)).toBe(s!.sha256);
    });

    it("file.stat: regular empty file", () => {
      expect(parse(fileStat, os, "file.stat-empty", "/etc/environment")).toEqual({
        type: "file",
        mode: "0644",
        owner: "root",
        group: "root",
        size: 0,
        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      });
    });

    it("file.stat: group-readable file (0640 root:shadow)", () => {
      const s = parse(fileStat, os, "file.stat-group-readable", "/etc/shadow")!;
      expect(s).toMatchObject({ type: "file", mode: "0640", owner: "root", group: "shadow" });
      expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(s.size).toBeGreaterThan(0);
    });

    it("file.stat: directory, symlink, missing", () => {
      expect(parse(fileStat, os, "file.stat-directory", "/etc")).toEqual({ type: "directory", mode: "0755", owner: "root", group: "root", size: 4096 });
      expect(parse(fileStat, os, "file.stat-symlink", "/bin")).toEqual({ type: "symlink", mode: "0777", owner: "root", group: "root", size: 7, target: "usr/bin" });
      expect(parse(fileStat, os, "file.stat-missing", "/nonexistent/mailstead")).toBeNull();
    });

    it("file.content: multi-line file, empty file, missing", () => {
      const text = parse(fileContent, os, "file.content-os-release", "/usr/lib/os-release")!;
      expect(parseOsReleaseText(text)).toMatchObject({ ID: "debian", VERSION_ID: rel.versionId, VERSION_CODENAME: rel.codename });
      expect(text.endsWith("\n")).toBe(true);
      expect(parse(fileContent, os, "file.content-empty", "/etc/environment")).toBe("");
      expect(parse(fileContent, os, "file.content-missing", "/nonexistent/mailstead")).toBeNull();
    });

    it("apt.policy: installed, not installed, unknown package", () => {
      const p = parse(aptPolicy, os, "apt.policy-mixed", ["apt", "base-files", "mailstead-no-such-package", "postfix"]);
      expect(p.apt).toEqual({ installed: rel.aptVersion, candidate: rel.aptVersion });
      expect(p["base-files"]!.installed).toBe(rel.baseFiles);
      expect(p.postfix!.installed).toBeNull();
      expect(p.postfix!.candidate).toMatch(os === "debian12" ? /^3\.7\./ : /^3\.10\./);
      // apt-cache prints nothing on stdout for a package it does not know
      expect(p["mailstead-no-such-package"]).toBeUndefined();
      expect(Object.keys(p).sort()).toEqual(["apt", "base-files", "postfix"]);
    });

    it("debconf.selections: tzdata answers, unanswered questions empty", () => {
      const d = parse(debconfSelections, os, "debconf.selections-tzdata", "tzdata");
      expect(d["tzdata/Areas"]).toBe("Etc");
      expect(d["tzdata/Zones/Etc"]).toBe("UTC");
      expect(d["tzdata/Zones/Europe"]).toBe("");
      // trixie's tzdata dropped the tzdata/Zones/US question
      expect(Object.keys(d)).toHaveLength(rel.tzdataQuestions);
      expect(parse(debconfSelections, os, "debconf.selections-none", "mailstead-no-such-package")).toEqual({});
    });

    it("user: root, nobody, absent", () => {
      expect(parse(user, os, "user-root", "root")).toEqual({ name: "root", uid: 0, gid: 0, gecos: "root", home: "/root", shell: "/bin/bash", groups: ["root"] });
      expect(parse(user, os, "user-nobody", "nobody")).toEqual({
        name: "nobody",
        uid: 65534,
        gid: 65534,
        gecos: "nobody",
        home: "/nonexistent",
        shell: "/usr/sbin/nologin",
        groups: ["nogroup"],
      });
      expect(parse(user, os, "user-absent", "mailstead-no-such-user")).toBeNull();
    });

    it("group: root, mail, absent", () => {
      expect(parse(group, os, "group-root", "root")).toEqual({ name: "root", gid: 0, members: [] });
      expect(parse(group, os, "group-mail", "mail")).toEqual({ name: "mail", gid: 8, members: [] });
      expect(parse(group, os, "group-absent", "mailstead-no-such-group")).toBeNull();
    });

    it("systemd.unit: active ssh, disabled inactive unit, not-found unit (lab VM)", () => {
      expect(parse(systemdUnit, os, "systemd.unit-ssh-active-vm", "ssh.service")).toEqual({
        load: "loaded",
        active: "active",
        sub: "running",
        unitFile: "enabled",
        needDaemonReload: false,
      });
      expect(parse(systemdUnit, os, "systemd.unit-disabled-vm", "debug-shell.service")).toEqual({
        load: "loaded",
        active: "inactive",
        sub: "dead",
        unitFile: "disabled",
        needDaemonReload: false,
      });
      expect(parse(systemdUnit, os, "systemd.unit-not-found-vm", "mailstead-no-such.service")).toEqual({
        load: "not-found",
        active: "inactive",
        sub: "dead",
        unitFile: "",
        needDaemonReload: false,
      });
    });

    it("net.listening: sshd on port 22, IPv4 and IPv6 (lab VM)", () => {
      expect(parse(listeningSockets, os, "net.listening-default-vm", undefined)).toEqual([
        { proto: "tcp", address: "0.0.0.0", port: 22, process: "sshd" },
        { proto: "tcp", address: "::", port: 22, process: "sshd" },
      ]);
    });
  });
}

describe("debian12 local-only captures", () => {
  it("apt.lists_age: never refreshed on this machine", () => {
    expect(parse(aptListsAge, "debian12", "apt.lists_age-default", undefined)).toBeNull();
  });

  // Captured with listeners started for the purpose (python3 on 127.0.0.1:18080/18081 tcp,
  // 127.0.0.1:18082 udp, [::]:18083, and the link-local fe80::fc:ff:fe00:1%eth0:18084).
  const sockets = () => parse(listeningSockets, "debian12", "net.listening-default", undefined);

  it("net.listening: tcp and udp, with and without a process", () => {
    const s = sockets();
    expect(s).toContainEqual({ proto: "udp", address: "127.0.0.1", port: 18082, process: "python3" });
    expect(s).toContainEqual({ proto: "tcp", address: "127.0.0.1", port: 18080, process: "python3" });
    expect(s).toContainEqual({ proto: "tcp", address: "127.0.0.1", port: 18081, process: "python3" });
    expect(s).toContainEqual({ proto: "tcp", address: "::", port: 18083, process: "python3" });
    // a socket owned by another namespace's process: no users:(...) column
    expect(s).toContainEqual({ proto: "tcp", address: "0.0.0.0", port: 2024 });
    expect(s).toHaveLength(6);
  });

  // ss prints a scoped IPv6 address as `[fe80::…]%eth0:port` (scope after the bracket).
  // Regression test, fixed (was lib/facts/system.ts:101-102): the brackets are stripped before the scope,
  // and `\]$` does not match when `%eth0` follows, so the address comes out as "fe80::fc:ff:fe00:1]".
  it("net.listening: scoped link-local IPv6 address loses its scope and brackets", () => {
    expect(sockets()).toContainEqual({ proto: "tcp", address: "fe80::fc:ff:fe00:1", port: 18084, process: "python3" });
  });
});

describe("parsers on edge inputs", () => {
  it("deb.packages skips half-installed and removed-with-config packages", () => {
    const out = "ii \tpostfix\t3.7.11-0+deb12u1\nrc \texim4-base\t4.96-15\niU \tdovecot-core\t1:2.3.19\nun \tsendmail\t\n\n";
    expect(debPackages.parse(out, undefined)).toEqual({ postfix: "3.7.11-0+deb12u1" });
  });

  // `${db:Status-Abbrev}` is desired-action + status + error flag: a held package
  // (`apt-mark hold`) is "hi ", fully installed. Regression test, fixed (was lib/facts/packages.ts:12):
  // `status.startsWith("ii")` drops it, so apt.packages re-runs `apt-get install` for a
  // held package on every run (never converges) and never removes it when absent.
  it("deb.packages counts a held (hi) package as installed", () => {
    expect(debPackages.parse("hi \tlibc6\t2.36-9+deb12u14\n", undefined)).toEqual({ libc6: "2.36-9+deb12u14" });
  });

  it("os.release falls back to VERSION for the codename and keeps escaped quotes", () => {
    const text = 'ID=debian\nVERSION="13 (trixie)"\nPRETTY_NAME="Debian \\"x\\""\nID_LIKE="a b"\n@@arch=arm64\n@@kernel=6.1.0-1\n';
    expect(osRelease.parse(text, undefined)).toEqual({
      id: "debian",
      versionId: "",
      codename: "trixie",
      prettyName: 'Debian "x"',
      idLike: ["a", "b"],
      arch: "arm64",
      kernel: "6.1.0-1",
    });
  });

  it("systemd.unit: NeedDaemonReload=yes and masked", () => {
    const u = systemdUnit.parse("LoadState=masked\nActiveState=inactive\nSubState=dead\nUnitFileState=masked\nNeedDaemonReload=yes\n", "x");
    expect(u).toEqual({ load: "masked", active: "inactive", sub: "dead", unitFile: "masked", needDaemonReload: true });
  });

  it("user with supplementary groups; group with members", () => {
    expect(user.parse("debian:x:1000:1000:Debian,,,:/home/debian:/bin/bash\ndebian adm sudo\n", "debian")!.groups).toEqual(["debian", "adm", "sudo"]);
    expect(group.parse("adm:x:4:syslog,debian\n", "adm")).toEqual({ name: "adm", gid: 4, members: ["syslog", "debian"] });
  });

  it("apt.lists_age numbers; command.status and command.output", () => {
    expect(aptListsAge.parse("42\n", undefined)).toBe(42);
    expect(aptListsAge.parse("", undefined)).toBeNull();
    expect(commandStatus.parse("1\n", "false")).toBe(1);
    expect(commandOutput.parse("  hello \n", "echo")).toBe("hello");
  });

  it("file.stat of a setgid directory keeps all four octal digits", () => {
    expect(fileStat.parse("directory|2775|root|mail|4096\n", "/var/mail")).toMatchObject({ type: "directory", mode: "2775" });
  });
});
