/** systemd units: enabled, started/stopped, reloaded, restarted, daemon-reload. */
import { systemdUnit } from "../facts/system.js";
import { ref } from "../facts/types.js";
import { cmd } from "../shell.js";
import type { Action, Command } from "./types.js";

export interface ServiceArgs {
  name: string;
  enabled?: boolean;
  running?: boolean;
  /** Always reload (handlers); a unit that is not running is left alone. */
  reloaded?: boolean;
  /** Always restart (handlers). */
  restarted?: boolean;
  masked?: boolean;
}

const ENABLED_STATES = new Set(["enabled", "enabled-runtime", "static", "alias", "indirect", "generated"]);

export function service(args: ServiceArgs): Action {
  const unit = ref(systemdUnit, args.name);
  return {
    kind: "systemd.service",
    facts: [unit],
    plan(f) {
      const u = f.get(unit);
      const commands: Command[] = [];
      const reasons: string[] = [];
      const n = args.name;
      if (args.masked !== undefined) {
        const isMasked = u.unitFile === "masked" || u.load === "masked";
        if (args.masked && !isMasked) {
          commands.push({ run: cmd("systemctl", "mask", "--now", n) });
          reasons.push("not masked");
          return { commands, reasons };
        }
        if (!args.masked && isMasked) {
          commands.push({ run: cmd("systemctl", "unmask", n) });
          reasons.push("masked");
        }
      }
      if (u.load === "not-found" && !commands.length) {
        return { commands: [], error: `unit ${n} not found`, reasons: ["unit not found"] };
      }
      if (u.needDaemonReload) {
        commands.push({ run: "systemctl daemon-reload" });
        reasons.push("unit file changed on disk");
      }
      if (args.enabled === true && !ENABLED_STATES.has(u.unitFile)) {
        commands.push({ run: cmd("systemctl", "enable", n) });
        reasons.push(`unit file ${u.unitFile || "unknown"}`);
      } else if (args.enabled === false && u.unitFile === "enabled") {
        commands.push({ run: cmd("systemctl", "disable", n) });
        reasons.push("enabled");
      }
      const active = u.active === "active" || u.active === "reloading" || u.active === "activating";
      if (args.restarted) {
        commands.push({ run: cmd("systemctl", "restart", n) });
        reasons.push("restart requested");
      } else if (args.running === true && !active) {
        commands.push({ run: cmd("systemctl", "start", n) });
        reasons.push(`${u.active}`);
      } else if (args.running === false && active) {
        commands.push({ run: cmd("systemctl", "stop", n) });
        reasons.push("active");
      } else if (args.reloaded && active) {
        commands.push({ run: cmd("systemctl", "reload", n) });
        reasons.push("reload requested");
      }
      // restart/reload always run: fine for a handler, a warning for a plain step
      return { commands, reasons, ...(args.restarted || args.reloaded ? { nonIdempotent: commands.length > 0 } : {}) };
    },
  };
}

/** `systemctl daemon-reload`: a handler for steps that write unit files. */
export function daemonReload(): Action {
  return { kind: "systemd.daemon_reload", facts: [], plan: () => ({ commands: [{ run: "systemctl daemon-reload" }], reasons: ["unit files changed"] }) };
}
