/*
 * text_userdb_names: user and group names instead of numeric ids in
 * listings; tilde_user_enable: ~user paths. The names are read from /etc/passwd and /etc/group before the
 * worker jails itself (inside the jail there is no /etc, and glibc's NSS
 * must not run there: it would dlopen modules from a directory the user may
 * control). vsftpd looks names up inside the jail, so it shows numbers
 * unless the jail has its own /etc/passwd; tsftpd shows the host's names of
 * the owners of files the user can see (docs/DEVIATIONS.md).
 */

import * as fs from 'node:fs';

const MAX_FILE_BYTES = 16 * 1024 * 1024;

const users = new Map<number, string>();
const homes = new Map<string, string>();
const groups = new Map<number, string>();
let loaded = false;

function readIdFile(file: string, into: Map<number, string>): void {
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > MAX_FILE_BYTES) return;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      const name = f[0];
      const id = Number(f[2]);
      if (name !== undefined && name !== '' && Number.isInteger(id) && !into.has(id)) into.set(id, name);
      const home = f[5];
      if (into === users && name !== undefined && name !== '' && home !== undefined && home.startsWith('/')) homes.set(name, home);
    }
  } catch {
    // No names: ids stay numeric.
  }
}

/** Call before the jail. */
export function loadIdNames(): void {
  if (loaded) return;
  loaded = true;
  readIdFile('/etc/passwd', users);
  readIdFile('/etc/group', groups);
}

export function userName(uid: number): string {
  return users.get(uid) ?? String(uid);
}

export function groupName(gid: number): string {
  return groups.get(gid) ?? String(gid);
}

/** tilde_user_enable: the home directory of a user, from the host's /etc/passwd. */
export function homeOf(name: string): string | null {
  return homes.get(name) ?? null;
}
