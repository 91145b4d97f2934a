/**
 * The idempotence gate on real VMs: converge the site playbook on a Debian 12
 * (mx1) and a Debian 13 (mx2) host through the real CLI, then again: the
 * second run must change nothing. Every role's verify checks run and pass.
 * Then check mode on a drifted host reports the drift and changes nothing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureLab, sshRun, type LabState } from "../lab/index.js";
import { site, stepsWith } from "./helpers.js";
import { quote as shq } from "../../lib/shell.js";

let lab: LabState;

/** Run a script as root on a lab host; its output, and a context line for failures. */
async function asRoot(host: LabState["hosts"][number], lines: string[]): Promise<{ out: string; ctx: string }> {
  const r = await sshRun(host, `sudo -n sh -c ${shq(lines.join("\n"))}`, { timeoutMs: 240_000 });
  return { out: r.stdout, ctx: `${host.name}:\n${r.stdout}` };
}

/** The SMTP banner's code on 25 and the IMAP greeting on 993, asked on the host itself. */
const ANSWERS = [
  `echo "smtp $(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/25; head -c 3 <&3')"`,
  `echo "imap $(timeout 5 openssl s_client -quiet -connect 127.0.0.1:993 </dev/null 2>/dev/null | head -c 4)"`,
];

beforeAll(async () => {
  lab = await ensureLab();
});

describe("site playbook on the lab (bookworm + trixie)", () => {
  it("converges mx1 and mx2, runs verify, and a second run reports changed=0", async () => {
    const inv = lab.inventory;
    const first = await site(["-i", inv, "--limit", "mail"]);
    expect(stepsWith(first, "failed"), first.stdout + first.stderr).toEqual([]);
    expect(first.code).toBe(0);
    const verified = first.report.steps.filter((s) => s.kind === "verify");
    for (const host of ["mx1", "mx2"]) {
      expect(verified.filter((s) => s.host === host && s.role === "base").length).toBeGreaterThan(5);
    }
    const second = await site(["-i", inv, "--limit", "mail"]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    // Name every step that changed on the second run.
    expect(stepsWith(second, "changed")).toEqual([]);
    expect(second.stdout).toMatch(/^mx1\s+ok=\d+ changed=0 failed=0 skipped=\d+$/m);
    expect(second.stdout).toMatch(/^mx2\s+ok=\d+ changed=0 failed=0 skipped=\d+$/m);
    const os = Object.fromEntries(lab.hosts.map((h) => [h.name, h.os]));
    expect([os.mx1, os.mx2].sort()).toEqual(["bookworm", "trixie"]);
    console.log(`converge: first ${first.seconds.toFixed(1)} s, second (no-op) ${second.seconds.toFixed(1)} s`);
  });

  it("every long-running mail service runs in mail.slice, capped at budget_memory_max, on both releases", async () => {
    for (const host of lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2")) {
      // Debian 12 runs Postfix's master in postfix@-.service, Debian 13 in postfix.service.
      const postfix = host.os === "bookworm" ? "postfix@-.service" : "postfix.service";
      const units = [postfix, "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service"];
      const r = await sshRun(host, `for u in ${units.join(" ")}; do echo "$u $(systemctl show -p Slice --value $u) $(systemctl show -p ControlGroup --value $u)"; done; systemctl show -p MemoryMax -p MemoryHigh -p MemoryLow mail.slice`);
      const lines = r.stdout.trim().split("\n");
      for (const u of units) {
        const line = lines.find((l) => l.startsWith(`${u} `)) ?? "";
        expect(line, host.name).toMatch(new RegExp(`^${u.replace(/[.@]/g, "\\$&")} mail\\.slice /mail\\.slice/`));
      }
      expect(r.stdout, host.name).toContain(`MemoryMax=${100 * 1024 * 1024}`);
      expect(r.stdout, host.name).toContain(`MemoryHigh=${90 * 1024 * 1024}`);
      expect(r.stdout, host.name).toContain(`MemoryLow=${40 * 1024 * 1024}`);
      // The kernel holds the cap: cgroup v2's memory.max, or v1's memory.limit_in_bytes (the lab's hybrid host).
      const cap = await sshRun(host, "cat /sys/fs/cgroup/mail.slice/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/mail.slice/memory.limit_in_bytes");
      expect(Number(cap.stdout.trim()), `${host.name}: ${cap.stdout}`).toBe(100 * 1024 * 1024);
    }
  });

  it("at the cap: a memory hog in mail.slice is the one killed, mail sent meanwhile is delivered, Postfix and Dovecot answer throughout (both releases)", async () => {
    const mx = lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2");
    await Promise.all(
      mx.map(async (host) => {
        const postfix = host.os === "bookworm" ? "postfix@-.service" : "postfix.service";
        const user = host.name === "mx1" ? "alice@example.test" : "dave@example.net";
        const tag = `cap-${host.name}-${Date.now()}`;
        // The hog grows 2 MiB every 0.1 s towards 400 MiB inside the slice (about 4 s to the cap);
        // a message goes in and both services are asked while it presses.
        const hog = `import time; c = []; [(c.append(b"x" * (2 << 20)), time.sleep(0.1)) for i in range(200)]; time.sleep(60)`;
        const { out, ctx } = await asRoot(host, [
          "cg=/sys/fs/cgroup/memory/mail.slice; [ -d $cg ] || cg=/sys/fs/cgroup/mail.slice",
          `pids() { systemctl show -p MainPID --value ${postfix} dovecot.service opendkim.service | tr '\\n' ' '; }`,
          `echo "before $(pids)"`,
          "systemctl reset-failed mailstead-memhog.service 2>/dev/null || true",
          // v1: the peak counts from here (writing 0 resets it to the current usage), not from earlier traffic.
          "[ -f $cg/memory.max_usage_in_bytes ] && echo 0 > $cg/memory.max_usage_in_bytes",
          `systemd-run --quiet --unit=mailstead-memhog --slice=mail.slice -p Restart=no python3 -c '${hog}'`,
          "sleep 1",
          `printf 'Subject: ${tag}\\n\\nsent while a hog pressed the cap\\n' | /usr/sbin/sendmail -f root@$(hostname -f) ${user}`,
          "sleep 1",
          ...ANSWERS,
          `echo "hog-during $(systemctl show -p ActiveState --value mailstead-memhog)"`,
          "for i in $(seq 1 120); do case $(systemctl show -p ActiveState --value mailstead-memhog) in active|activating) sleep 0.25;; *) break;; esac; done",
          `echo "hog $(systemctl show -p Result --value mailstead-memhog) $(systemctl show -p ExecMainStatus --value mailstead-memhog)"`,
          // cgroup v1 (the lab's hybrid host): the slice hit its limit; v2: the kernel's own OOM count.
          `if [ -f $cg/memory.failcnt ]; then echo "hits $(cat $cg/memory.failcnt) peak $(cat $cg/memory.max_usage_in_bytes)"; else echo "hits $(awk '/^oom_kill /{print $2}' $cg/memory.events) peak $(cat $cg/memory.peak 2>/dev/null || echo 0)"; fi`,
          `echo "after $(pids)"`,
          `echo "active $(systemctl is-active ${postfix} dovecot.service opendkim.service opendmarc.service fail2ban.service | tr '\\n' ' ')"`,
          "systemctl reset-failed mailstead-memhog.service 2>/dev/null || true",
        ]);
        const field = (k: string) => new RegExp(`^${k} (.*)$`, "m").exec(out)?.[1]?.trim() ?? "";
        expect(field("hog-during"), ctx).toMatch(/^(active|failed|inactive)$/);
        expect(field("smtp"), ctx).toBe("220");
        expect(field("imap"), ctx).toBe("* OK");
        // Killed by the kernel: SIGKILL (cgroup v1; systemd cannot tell it was the OOM killer) or oom-kill (v2).
        expect(field("hog"), ctx).toMatch(/^(signal 9|oom-kill 9|oom-kill 0)$/);
        const [hitsRaw, , peakRaw] = field("hits").split(" ");
        expect(Number(hitsRaw), ctx).toBeGreaterThan(0);
        // The kernel may force a charge the cap refuses (kernel memory that cannot fail): two pages
        // over (100 MiB + 8 KiB) was seen after a benchmark burst on Debian 13. 64 KiB of those, no more.
        if (Number(peakRaw) > 0) expect(Number(peakRaw), ctx).toBeLessThanOrEqual(100 * 1024 * 1024 + 64 * 1024);
        // The kernel chose the hog: the services' main processes are the same ones, all units active.
        expect(field("after"), ctx).toBe(field("before"));
        expect(field("active"), ctx).toBe("active active active active active");
        // Nothing lost: the message sent under pressure is in the INBOX.
        let found = "";
        for (let i = 0; i < 60 && !found; i++) {
          found = (await sshRun(host, `sudo -n doveadm search -u ${user} mailbox INBOX subject ${tag}`, { nothrow: true })).stdout.trim();
          if (!found) await new Promise((res) => setTimeout(res, 500));
        }
        expect(found, `${host.name}: ${tag} not delivered`).not.toBe("");
        console.log(`cap ${host.name}: hog ${field("hog")}, slice limit hits ${hitsRaw}, peak ${(Number(peakRaw) / 1048576).toFixed(1)} MiB, services untouched, mail delivered`);
      }),
    );
  });

  it("a mail service whose main process is killed comes back by itself, and the helpers have their own cap (both releases)", async () => {
    const mx = lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2");
    await Promise.all(
      mx.map(async (host) => {
        const postfix = host.os === "bookworm" ? "postfix@-.service" : "postfix.service";
        const { out, ctx } = await asRoot(host, [
          `for u in ${postfix} dovecot.service; do echo "$u before $(systemctl show -p MainPID --value $u)"; systemctl kill -s KILL --kill-whom=main $u; done`,
          "sleep 1",
          // Debian 13's Dovecot unit stays "deactivating" after its master was killed (systemd waits for
          // the children it sent SIGTERM, up to TimeoutStopSec: Debian's 90 s, the budget drop-in's 20 s).
          `t0=$(date +%s); for i in $(seq 1 240); do a=$(systemctl is-active ${postfix} dovecot.service | sort -u); [ "$a" = active ] && break; sleep 0.5; done; echo "back after $(( $(date +%s) - t0 )) s"`,
          `for u in ${postfix} dovecot.service; do echo "$u after $(systemctl show -p MainPID --value $u) $(systemctl is-active $u) restarts=$(systemctl show -p NRestarts --value $u)"; done`,
          ...ANSWERS,
          "cg=/sys/fs/cgroup/memory/mail.slice; for u in fail2ban opendkim opendmarc; do f=$cg/$u.service/memory.limit_in_bytes; [ -f $f ] || f=/sys/fs/cgroup/mail.slice/$u.service/memory.max; echo \"cap $u $(cat $f)\"; done",
        ]);
        for (const u of [postfix, "dovecot.service"]) {
          const before = new RegExp(`^${u.replace(/[.@]/g, "\\$&")} before (\\d+)$`, "m").exec(out)?.[1];
          const after = new RegExp(`^${u.replace(/[.@]/g, "\\$&")} after (\\d+) (\\S+) restarts=(\\d+)$`, "m").exec(out);
          expect(after?.[2], ctx).toBe("active");
          expect(after?.[1], ctx).not.toBe(before);
          expect(Number(after?.[3]), ctx).toBeGreaterThan(0);
        }
        expect(/^imap (.*)$/m.exec(out)?.[1], ctx).toBe("* OK");
        expect(/^smtp (.*)$/m.exec(out)?.[1], ctx).toBe("220");
        console.log(`killed masters on ${host.name}: ${/^back after (\d+ s)$/m.exec(out)?.[1]}`);
        // RestartSec (5 s) plus at most TimeoutStopSec (20 s) and the start: well under Debian's 90 s.
        expect(Number(/^back after (\d+) s$/m.exec(out)?.[1]), ctx).toBeLessThan(45);
        const caps = Object.fromEntries([...out.matchAll(/^cap (\S+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
        expect(caps, ctx).toEqual({ fail2ban: 48 * 1024 ** 2, opendkim: 32 * 1024 ** 2, opendmarc: 32 * 1024 ** 2 });
      }),
    );
  });

  it("--check --diff on a drifted host reports the drift with a diff and changes nothing", async () => {
    const host = lab.hosts.find((h) => h.name === "mx1")!;
    await sshRun(host, "echo 'hand edit' | sudo tee /etc/motd >/dev/null");
    const before = await sshRun(host, "sha256sum /etc/motd /etc/mailname; stat -c %Y /etc/motd");
    const check = await site(["-i", lab.inventory, "--limit", "mx1", "--check", "--diff"]);
    expect(check.code).toBe(0);
    // in check mode the handler it would notify is reported too
    expect(stepsWith(check, "changed")).toEqual(["mx1 motd: Render /etc/motd", "mx1 motd: record motd change"]);
    expect(check.stdout).toContain("-hand edit");
    expect(check.stdout).toContain("+This host is managed by mailstead");
    const after = await sshRun(host, "sha256sum /etc/motd /etc/mailname; stat -c %Y /etc/motd");
    expect(after.stdout).toBe(before.stdout);
    // and a real run repairs it, then the handler ran exactly once
    const fix = await site(["-i", lab.inventory, "--limit", "mx1", "--tags", "motd"]);
    expect(stepsWith(fix, "changed")).toEqual(["mx1 motd: Render /etc/motd", "mx1 motd: record motd change"]);
  });
});
