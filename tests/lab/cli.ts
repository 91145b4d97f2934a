/**
 * npm run lab -- up [--os bookworm,trixie] [--rebuild]
 * npm run lab -- down
 * npm run lab -- status [--json]
 * npm run lab -- ssh NAME [cmd...]
 * npm run lab -- mem NAME [--json]
 * npm run lab -- recreate NAME
 */
import { spawnSync } from "node:child_process";
import { ALL_OS, type LabOs } from "./hosts.ts";
import { down, formatStatus, reboot, recreate, status, up } from "./lab.ts";
import { labHost, loadLabState } from "./state.ts";
import { sshArgs } from "./vm.ts";
import { formatMem, memReport } from "./mem.ts";
import { LabError } from "./util.ts";

const USAGE = `usage: npm run lab -- <command>
  up [--os bookworm,trixie] [--rebuild]   bring the lab up (idempotent; --os limits which hosts/images)
  down                                    remove everything the lab started (keeps cached images)
  status [--json]                         what is running
  ssh NAME [cmd...]                       ssh into a VM as the login user
  mem NAME [--json]                       PSS per systemd unit inside a VM
  recreate NAME                           destroy one VM and boot a fresh copy
  reboot NAME                             halt one VM and boot it again (same disk)`;

function parseOs(v: string | undefined): LabOs[] {
  if (!v) throw new LabError("--os needs a value, e.g. --os bookworm,trixie");
  const list = v.split(",").map((s) => s.trim()).filter(Boolean);
  for (const o of list) if (!ALL_OS.includes(o as LabOs)) throw new LabError(`unknown --os ${o} (known: ${ALL_OS.join(", ")})`);
  return list as LabOs[];
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "up": {
      let os: LabOs[] | undefined;
      let rebuild = false;
      for (let i = 0; i < rest.length; i++) {
        const a = rest[i];
        if (a === "--rebuild") rebuild = true;
        else if (a === "--os") os = parseOs(rest[++i]);
        else if (a?.startsWith("--os=")) os = parseOs(a.slice(5));
        else throw new LabError(`up: unknown argument ${a}\n${USAGE}`);
      }
      await up({ os, rebuild });
      return 0;
    }
    case "down":
      await down();
      return 0;
    case "status": {
      const s = status();
      console.log(rest.includes("--json") ? JSON.stringify(s, null, 2) : formatStatus(s));
      return s.up ? 0 : 3;
    }
    case "ssh": {
      const [name, ...command] = rest;
      if (!name) throw new LabError(`ssh: which host?\n${USAGE}`);
      const h = labHost(loadLabState(), name);
      const tty = command.length === 0 && process.stdin.isTTY ? ["-t"] : [];
      const r = spawnSync("ssh", [...sshArgs(h, tty), ...command], { stdio: "inherit" });
      return r.status ?? 1;
    }
    case "mem": {
      const name = rest.find((a) => !a.startsWith("--"));
      if (!name) throw new LabError(`mem: which host?\n${USAGE}`);
      const m = await memReport(labHost(loadLabState(), name));
      console.log(rest.includes("--json") ? JSON.stringify(m, null, 2) : formatMem(m));
      return 0;
    }
    case "reboot": {
      const name = rest[0];
      if (!name) throw new LabError(`reboot: which host?\n${USAGE}`);
      await reboot(name);
      return 0;
    }
    case "recreate": {
      const name = rest[0];
      if (!name) throw new LabError(`recreate: which host?\n${USAGE}`);
      await recreate(name);
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return cmd ? 0 : 2;
    default:
      console.error(`unknown command ${cmd}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const msg = e instanceof LabError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
    console.error(`lab: ${msg}`);
    process.exit(1);
  },
);
