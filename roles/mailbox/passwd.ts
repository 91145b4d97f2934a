/**
 * Password hashing for mailbox users: BLF-CRYPT (bcrypt), the Dovecot scheme
 * fit for a 100 MB box (ARGON2 needs far more memory per login). Local only:
 * plain passwords never leave the machine that runs mailstead.
 */
import bcrypt from "bcryptjs";

/** bcrypt cost: 2^10 rounds, ~50-100 ms per login on a small VM. */
export const DEFAULT_BCRYPT_COST = 10;

/** `{BLF-CRYPT}$2y$10$...`, the form Dovecot's `doveadm pw -s BLF-CRYPT` writes. */
export function blfCrypt(password: string, cost = DEFAULT_BCRYPT_COST): string {
  if (!password) throw new Error("empty password");
  if (Buffer.byteLength(password, "utf8") > 72) throw new Error("bcrypt uses only the first 72 bytes of a password; choose a shorter one (a passphrase of a few words fits)");
  // $2b$ and $2y$ name the same algorithm; $2y$ is what Dovecot itself writes.
  return `{BLF-CRYPT}${bcrypt.hashSync(password, cost).replace(/^\$2[ab]\$/, "$2y$")}`;
}

/** Check a password against a {BLF-CRYPT} hash (tests, the helper's self-check). */
export function blfVerify(password: string, hash: string): boolean {
  return bcrypt.compareSync(password, hash.replace(/^\{BLF-CRYPT\}/, "").replace(/^\$2y\$/, "$2b$"));
}
