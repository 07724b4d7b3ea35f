/*
 * Where priv finds virtual users. One interface, so a SQL backend
 * (PostgreSQL, for several servers sharing users) can stand beside the file
 * store without touching the login decision.
 */

import * as fs from 'node:fs';
import { parseUserFile, type VirtualUser } from '../userdb/format';

export type StoreLookup =
  | { readonly kind: 'found'; readonly user: VirtualUser }
  | { readonly kind: 'unknown' }
  /** The store itself is unusable: fail the login closed, and say why. */
  | { readonly kind: 'error'; readonly message: string };

export interface UserStore {
  lookup(name: string): Promise<StoreLookup>;
}

/*
 * The embedded default: a file of name:hash lines (userdb/format.ts), read
 * at each login so edits by `tsftpd user` apply at once.
 *
 * SECURITY: the file holds password hashes. It must be a regular file owned
 * by root that group and others can neither read nor write.
 */
export class FileUserStore implements UserStore {
  constructor(private readonly path: string) {}

  async lookup(name: string): Promise<StoreLookup> {
    let text: string;
    try {
      const fh = await fs.promises.open(this.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        const st = await fh.stat();
        if (!st.isFile() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
          return { kind: 'error', message: `${this.path} must be a regular file owned by root with mode 0600 or stricter` };
        }
        if (st.size > 16 * 1024 * 1024) return { kind: 'error', message: `${this.path} is larger than 16 MiB` };
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (e: unknown) {
      return { kind: 'error', message: `${this.path}: ${e instanceof Error ? e.message : String(e)}` };
    }
    const parsed = parseUserFile(text);
    if (!parsed.ok) return { kind: 'error', message: `${this.path}:${parsed.line}: ${parsed.message}` };
    const user = parsed.users.find((u) => u.name === name);
    return user === undefined ? { kind: 'unknown' } : { kind: 'found', user };
  }
}
