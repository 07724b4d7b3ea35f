/*
 * The built-in virtual-user file (virtual_users_file): one user a line,
 *
 *   name:hash[:option=value[:option=value ...]]
 *
 * `hash` is a crypt(3) string (yescrypt `$y$`, sha512-crypt `$6$`, bcrypt
 * `$2b$`). The options are vsftpd option names, applied to that user's
 * session with the same strict parser as user_config_dir files — e.g.
 * `local_root=/srv/ftp/alice`, `write_enable=YES`, `guest_username=alice`
 * (the system account the user runs as; default: guest_username). Values
 * cannot contain ':'. Lines starting with '#' and blank lines are ignored.
 *
 * Shared by priv (reads) and the `tsftpd user` command (reads and writes).
 */

export interface VirtualUser {
  readonly name: string;
  readonly hash: string;
  /** "option=value" assignments, in file order. */
  readonly options: readonly string[];
}

export type ParsedUserFile =
  | { readonly ok: true; readonly users: readonly VirtualUser[] }
  | { readonly ok: false; readonly line: number; readonly message: string };

/* Same rule as vsftpd's login names, minus '/' (names also name files). */
const NAME_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.@+-]{0,127}$/;
const HASH_RE = /^\$(y|6|5|2b|2y|gy|7)\$[./A-Za-z0-9$,=+-]+$/;

export function validVirtualName(name: string): boolean {
  return NAME_RE.test(name) && name !== '.' && name !== '..';
}

export function validHash(hash: string): boolean {
  return HASH_RE.test(hash);
}

export function parseUserFile(text: string): ParsedUserFile {
  const users: VirtualUser[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const [name, hash, ...options] = fields as [string, string | undefined, ...string[]];
    if (!validVirtualName(name)) return { ok: false, line: i + 1, message: `invalid user name ${JSON.stringify(name)}` };
    if (hash === undefined || !validHash(hash)) return { ok: false, line: i + 1, message: `invalid password hash for ${name}` };
    if (seen.has(name)) return { ok: false, line: i + 1, message: `user ${name} listed twice` };
    for (const o of options) {
      if (!/^[a-z0-9_]+=/.test(o)) return { ok: false, line: i + 1, message: `invalid option ${JSON.stringify(o)} for ${name}` };
    }
    seen.add(name);
    users.push({ name, hash, options });
  }
  return { ok: true, users };
}

export function formatUserFile(users: readonly VirtualUser[]): string {
  return users.map((u) => [u.name, u.hash, ...u.options].join(':')).join('\n') + (users.length > 0 ? '\n' : '');
}
