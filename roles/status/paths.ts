/**
 * The watchdog's paths other roles need too (a restore pauses monit): in a module of their own,
 * which imports nothing, so the backup role can read them without an import cycle through the
 * status role (which reads the backup role's record paths).
 */

/** monit's control file. */
export const MONITRC = "/etc/monit/monitrc";
/** monit's control socket (no TCP port: nothing to open, nothing to guard). */
export const MONIT_SOCKET = "/run/monit.sock";
