/** Colors via chalk, off when NO_COLOR is set (https://no-color.org) or output is not a TTY. */
import { Chalk } from "chalk";

export interface Colors {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function colors(enabled: boolean): Colors {
  const ch = new Chalk({ level: enabled ? 1 : 0 });
  return { green: ch.green, yellow: ch.yellow, red: ch.red, cyan: ch.cyan, dim: ch.dim, bold: ch.bold };
}

export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return Boolean(stream.isTTY);
}
