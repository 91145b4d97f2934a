import { Readable } from "node:stream";
import { NodeSSH } from "node-ssh";
import { HostKeyError, TimeoutError, TransportError } from "../errors.js";
import { quote } from "../shell.js";
import {
  appendKnownHost,
  hostKeyAlgorithmsFor,
  hostKeyName,
  keyTypeOfBlob,
  readKnownHosts,
  verifyHostKey,
} from "./knownhosts.js";
import type { RunOptions, RunResult, Transport } from "./types.js";

export interface SshOptions {
  host: string;
  port: number;
  user: string;
  /** Private key file; without it, the ssh-agent at SSH_AUTH_SOCK is used. */
  keyPath?: string;
  knownHostsPath: string;
  acceptNewHostKeys: boolean;
  timeoutMs: number;
  connectTimeoutMs: number;
}

/**
 * One SSH connection per host, reused for the whole run. Commands run under
 * `sh -c`; a non-root login user escalates with `sudo -n` (cloud images log in
 * as debian, ubuntu or opc with passwordless sudo).
 */
export class SshTransport implements Transport {
  readonly description: string;
  private readonly ssh = new NodeSSH();
  private connected?: Promise<void>;

  constructor(private readonly opts: SshOptions) {
    this.description = `ssh ${opts.user}@${opts.host}:${opts.port}`;
  }

  private connect(): Promise<void> {
    this.connected ??= this.doConnect();
    return this.connected;
  }

  private async doConnect(): Promise<void> {
    const { host, port, user, keyPath, knownHostsPath, acceptNewHostKeys } = this.opts;
    const name = hostKeyName(host, port);
    const entries = readKnownHosts(knownHostsPath);
    let refusal: HostKeyError | undefined;
    const serverHostKey = hostKeyAlgorithmsFor(entries, name);
    try {
      await this.ssh.connect({
        host,
        port,
        username: user,
        privateKeyPath: keyPath,
        agent: keyPath ? undefined : process.env.SSH_AUTH_SOCK,
        readyTimeout: this.opts.connectTimeoutMs,
        keepaliveInterval: 15_000,
        ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as never } } : {}),
        hostVerifier: (key: Buffer) => {
          const verdict = verifyHostKey(entries, name, key);
          switch (verdict.kind) {
            case "known":
              return true;
            case "unknown":
              if (acceptNewHostKeys) {
                appendKnownHost(knownHostsPath, name, key);
                return true;
              }
              refusal = new HostKeyError(
                `${name}: host key (${keyTypeOfBlob(key)}) is not in ${knownHostsPath}. ` +
                  `Check its fingerprint on the provider's console, then run again with --accept-new-host-keys ` +
                  `(or add it with: ssh-keyscan -p ${port} ${host} >> ${knownHostsPath}).`,
              );
              return false;
            case "changed":
              refusal = new HostKeyError(
                `${name}: HOST KEY CHANGED — the key presented does not match ${knownHostsPath}. ` +
                  `This is what a man-in-the-middle looks like; it is also what a rebuilt VM looks like. ` +
                  `If you rebuilt the host, remove the old key with: ssh-keygen -R ${quote(name)} -f ${knownHostsPath}`,
              );
              return false;
            case "revoked":
              refusal = new HostKeyError(`${name}: the host key presented is marked @revoked in ${knownHostsPath}.`);
              return false;
          }
        },
      } as Parameters<NodeSSH["connect"]>[0]);
    } catch (e) {
      if (refusal) throw refusal;
      throw new TransportError(`${this.description}: cannot connect: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The command line actually executed on the host. */
  wrap(command: string, timeoutMs: number): string {
    // coreutils timeout(1) ends the command on the host too (TERM, then KILL 5 s later),
    // so a timed-out apt-get does not keep holding the dpkg lock.
    const inner = `timeout -k 5 ${Math.ceil(timeoutMs / 1000)} sh -c ${quote(command)}`;
    return this.opts.user === "root" ? inner : `sudo -n -- ${inner}`;
  }

  async run(command: string, options: RunOptions = {}): Promise<RunResult> {
    if (options.fresh) {
      // A second transport, same settings; known_hosts already holds the key.
      const probe = new SshTransport({ ...this.opts, acceptNewHostKeys: false });
      try {
        return await probe.run(command, { ...options, fresh: false });
      } finally {
        await probe.close();
      }
    }
    await this.connect();
    const timeoutMs = options.timeoutMs ?? this.opts.timeoutMs;
    let channel: { close(): void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    // Collect raw bytes and decode once: a multi-byte character may span chunks.
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const stdin = options.stdin;
    const started = performance.now();
    const exec = this.ssh.execCommand(this.wrap(command, timeoutMs), {
      stdin: Buffer.isBuffer(stdin) ? Readable.from([stdin]) : stdin,
      noTrim: true,
      onStdout: (c) => out.push(c),
      onStderr: (c) => err.push(c),
      onChannel: (ch) => {
        channel = ch;
      },
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        channel?.close();
        reject(new TimeoutError(`${this.description}: timed out after ${timeoutMs} ms`));
      }, timeoutMs + 15_000); // backstop: the host's timeout(1) normally ends it first
    });
    try {
      const { code } = await Promise.race([exec, timeout]);
      const r = { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
      // 124: timeout(1) stopped it; 137: it had to KILL.
      if ((r.code === 124 || r.code === 137) && performance.now() - started >= timeoutMs - 500) {
        throw new TimeoutError(`${this.description}: timed out after ${timeoutMs} ms`);
      }
      if (r.code !== 0 && /^sudo: a (terminal|password) is required/m.test(r.stderr)) {
        throw new TransportError(
          `${this.description}: sudo needs a password for ${this.opts.user}; give that user passwordless sudo ` +
            `(as Debian/Ubuntu/Oracle cloud images do) or log in as root.`,
        );
      }
      return r;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.connected) this.ssh.dispose();
  }
}
