/** How the engine reaches a host. Implementations: ssh (node-ssh), local (tests). */

export interface RunOptions {
  /** Bytes fed to the command's standard input (uploads use `cat > tmp`). */
  stdin?: string | Buffer;
  /** Milliseconds before the command is abandoned; defaults to the transport's. */
  timeoutMs?: number;
  /**
   * Run over a brand-new connection instead of the run's shared one: proves that
   * the host can still be reached after a firewall or sshd change.
   */
  fresh?: boolean;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Transport {
  /** Human name for messages, e.g. `ssh debian@198.51.100.10:22`. */
  readonly description: string;
  /** Run a POSIX `sh` command line as root (via sudo when the login user is not root). */
  run(command: string, options?: RunOptions): Promise<RunResult>;
  close(): Promise<void>;
}
