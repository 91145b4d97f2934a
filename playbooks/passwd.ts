/**
 * Hash a mailbox password locally, without echoing it:
 *   npx tsx playbooks/passwd.ts [--user ADDRESS] [--cost N]
 *   npx tsx playbooks/passwd.ts --generate [--cost N]
 * Asks twice on a terminal; reads one line from stdin when piped. Refuses a weak
 * password (shorter than 12 characters, or guessable by zxcvbn's estimate, the
 * address's own words counted as known: roles/mailbox/strength.ts) and says why.
 * Prints only the hash, e.g. `{BLF-CRYPT}$2y$10$...`, to paste as `password_hash:`
 * in mailbox_users. --generate makes a passphrase of six EFF words and prints it
 * once (on stderr, for the user to keep) with its hash (on stdout). The plain
 * password never reaches the host or the inventory.
 */
import { blfCrypt, blfVerify, DEFAULT_BCRYPT_COST } from "../roles/mailbox/passwd.js";
import { generatePassphrase, judgePassword, PASSPHRASE_WORDS } from "../roles/mailbox/strength.js";

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    let value = "";
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off("data", onData);
          process.stderr.write("\n");
          resolve(value);
          return;
        }
        if (ch === "\u0003") {
          stdin.setRawMode(false);
          process.stderr.write("\n");
          reject(new Error("cancelled"));
          return;
        }
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

async function readLine(): Promise<string> {
  let data = "";
  for await (const chunk of process.stdin) data += chunk;
  return data.split(/\r?\n/)[0] ?? "";
}

async function main(argv: string[]): Promise<number> {
  let cost = DEFAULT_BCRYPT_COST;
  let generate = false;
  const related: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--cost") cost = Number(argv[++i]);
    else if (argv[i] === "--generate") generate = true;
    else if (argv[i] === "--user" && argv[i + 1] !== undefined) related.push(argv[++i]!);
    else if (argv[i] === "-h" || argv[i] === "--help") {
      process.stdout.write(
        "usage: npx tsx playbooks/passwd.ts [--user ADDRESS] [--cost 4-15]\n" +
          "       npx tsx playbooks/passwd.ts --generate [--cost 4-15]\n" +
          "Prints a {BLF-CRYPT} hash for mailbox_users[].password_hash. A weak password is refused.\n" +
          `--generate: a passphrase of ${PASSPHRASE_WORDS} random words, printed once on stderr, its hash on stdout.\n`,
      );
      return 0;
    } else {
      process.stderr.write(`passwd: unknown argument ${argv[i]} (a password is never taken on the command line: it would land in shell history)\n`);
      return 2;
    }
  }
  if (!Number.isInteger(cost) || cost < 4 || cost > 15) {
    process.stderr.write("passwd: --cost must be an integer from 4 to 15\n");
    return 2;
  }
  if (generate) {
    const phrase = generatePassphrase();
    const hash = blfCrypt(phrase, cost);
    if (!blfVerify(phrase, hash)) throw new Error("self-check failed");
    process.stderr.write(`New password (shown once, keep it in a password manager): ${phrase}\n`);
    process.stdout.write(`${hash}\n`);
    return 0;
  }
  let password: string;
  if (process.stdin.isTTY) {
    password = await readHidden("New mailbox password: ");
    const again = await readHidden("Again: ");
    if (password !== again) {
      process.stderr.write("passwd: the passwords differ; nothing printed\n");
      return 1;
    }
  } else password = await readLine();
  const verdict = judgePassword(password, related);
  if (!verdict.ok) {
    process.stderr.write(`passwd: this password is refused, nothing printed:\n${verdict.problems.map((p) => `  - ${p}\n`).join("")}  (or let mailstead make one: npx tsx playbooks/passwd.ts --generate)\n`);
    return 1;
  }
  const hash = blfCrypt(password, cost);
  if (!blfVerify(password, hash)) throw new Error("self-check failed");
  process.stdout.write(`${hash}\n`);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`passwd: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
