/**
 * TTY output: a listr2 task tree host → role → step, driven by the runner's
 * events (the runner stays the only place that decides what runs). Each task
 * waits for its event; whatever never happens (a host failed early) is
 * settled as "not run" when the host ends.
 */
import { Listr, type ListrTaskWrapper } from "listr2";
import type { HostSummary, RunnerEvents, StepResult } from "../runner.js";
import type { Colors } from "./colors.js";
import { formatStep } from "./plain.js";

type Settle<T> = { promise: Promise<T>; resolve(v: T): void; done: boolean };

function deferred<T>(): Settle<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  const d: Settle<T> = {
    promise,
    done: false,
    resolve: (v) => {
      if (d.done) return;
      d.done = true;
      resolve(v);
    },
  };
  return d;
}

type RoleStart = { titles: string[] } | { notRun: true };
type StepEnd = StepResult | { notRun: true };
type RoleEnd = { extra: StepResult[] } | { notRun: true };

export interface ListrReporter {
  events: RunnerEvents;
  /** Resolves when every task has settled. */
  done: Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Task = ListrTaskWrapper<any, any, any>;

export function listrReporter(hosts: string[], roles: string[], c: Colors): ListrReporter {
  const map = new Map<string, Settle<unknown>>();
  const get = <T>(key: string): Settle<T> => {
    let d = map.get(key);
    if (!d) map.set(key, (d = deferred<unknown>()));
    return d as Settle<T>;
  };
  const stepIndex = new Map<string, number>();
  const ended = new Set<string>();
  const extras = new Map<string, StepResult[]>();
  const key = (...parts: (string | number)[]) => parts.join("\u0000");

  const stepTask = async (host: string, role: string, i: number, task: Task) => {
    // A step whose host already ended without reaching it was never run.
    const d = get<StepEnd>(key("step", host, role, i));
    if (ended.has(host)) d.resolve({ notRun: true });
    const r = await d.promise;
    if ("notRun" in r) return task.skip(`${task.title} (not run)`);
    if (r.status === "skipped") return task.skip(`${r.title} (skipped)`);
    const why = r.status === "changed" && r.reasons.length ? c.dim(` (${r.reasons.join("; ")})`) : "";
    const warn = r.nonIdempotent ? c.yellow(" [no guard: runs every time]") : "";
    const status = r.status === "changed" ? c.yellow("changed") : r.status === "ok" ? c.green("ok") : r.status === "warning" ? c.yellow("WARNING") : c.red("failed");
    const message = r.status === "warning" && r.error ? `\n${c.yellow(r.error.message)}` : "";
    task.title = `${r.title} ${status}${why}${warn}${message}`;
    if (r.status === "failed") throw new Error(formatStep(r, c));
  };

  const roleTask = async (host: string, role: string, task: Task) => {
    const start = await get<RoleStart>(key("role", host, role)).promise;
    if ("notRun" in start) return task.skip(`${role} (not run)`);
    return task.newListr(
      [
        ...start.titles.map((title, i) => ({ title, task: (_: unknown, t: Task) => stepTask(host, role, i, t) })),
        {
          title: "handlers and verify",
          task: async (_: unknown, t: Task) => {
            const end = await get<RoleEnd>(key("roleEnd", host, role)).promise;
            if ("notRun" in end || end.extra.length === 0) return t.skip("handlers and verify (none)");
            t.title = end.extra
              .map((r) => `${r.kind === "handler" ? "handler: " : ""}${r.title} ${r.status === "warning" ? c.yellow(`WARNING: ${r.error?.message ?? ""}`) : r.status}`)
              .join("; ");
            const failed = end.extra.filter((r) => r.status === "failed");
            if (failed.length) throw new Error(failed.map((r) => formatStep(r, c)).join("\n"));
          },
        },
      ],
      { concurrent: false, exitOnError: false, rendererOptions: { collapseSubtasks: false, persistentOutput: true } },
    );
  };

  const list = new Listr(
    hosts.map((host) => ({
      title: host,
      task: (_: unknown, task: Task) =>
        task.newListr(
          [
            ...roles.map((role) => ({ title: role, task: (_c: unknown, t: Task) => roleTask(host, role, t) })),
            {
              title: "recap",
              task: async (_c: unknown, t: Task) => {
                const s = await get<HostSummary>(key("host", host)).promise;
                t.title = `ok=${s.ok} changed=${s.changed} failed=${s.failed} skipped=${s.skipped}${s.warnings ? c.yellow(` warnings=${s.warnings}`) : ""}`;
                const pending = s.pendingHandlers.length ? `handlers notified but not run: ${s.pendingHandlers.join(", ")}` : "";
                if (s.error || pending) throw new Error([s.error, pending].filter(Boolean).join("\n"));
              },
            },
          ],
          { concurrent: false, exitOnError: false },
        ),
    })),
    { concurrent: true, exitOnError: false, rendererOptions: { collapseSubtasks: false, collapseErrors: false } },
  );

  const events: RunnerEvents = {
    roleStart: (host, role, titles) => get<RoleStart>(key("role", host, role)).resolve({ titles }),
    stepEnd: (r) => {
      if (r.kind === "step") {
        const k = key(r.host, r.role);
        const i = stepIndex.get(k) ?? 0;
        stepIndex.set(k, i + 1);
        get<StepEnd>(key("step", r.host, r.role, i)).resolve(r);
      } else {
        const k = key(r.host, r.role);
        extras.set(k, [...(extras.get(k) ?? []), r]);
      }
    },
    roleEnd: (host, role) => get<RoleEnd>(key("roleEnd", host, role)).resolve({ extra: extras.get(key(host, role)) ?? [] }),
    hostEnd: (s) => {
      ended.add(s.host);
      // Settle everything this host never reached.
      for (const role of roles) {
        get<RoleStart>(key("role", s.host, role)).resolve({ notRun: true });
        const extra = extras.get(key(s.host, role));
        get<RoleEnd>(key("roleEnd", s.host, role)).resolve(extra ? { extra } : { notRun: true });
      }
      for (const [k, d] of map) if (k.startsWith(key("step", s.host, ""))) d.resolve({ notRun: true });
      get<HostSummary>(key("host", s.host)).resolve(s);
    },
  };
  const done = list.run().then(() => undefined);
  return { events, done };
}
