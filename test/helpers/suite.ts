// The hooks every e2e file needs: the PAM service before the first test, and
// after the last one every daemon stopped, every created user, the PAM
// service and every temp dir removed.

import * as fs from 'node:fs';
import { after, before } from 'node:test';
import { makeTempDir, stopAll } from './daemon';
import { installPamService, removePamService, UserRegistry } from './users';

export interface E2eSuite {
  readonly users: UserRegistry;
  /** Directories removed after the file's tests (push your own too). */
  readonly dirs: string[];
  /** A fresh temp dir, removed after the file's tests. */
  tempDir(prefix?: string): string;
}

/** Register the standard before/after hooks of an e2e test file. Call it first. */
export function e2eSuite(): E2eSuite {
  const users = new UserRegistry();
  const dirs: string[] = [];
  before(() => installPamService());
  after(async () => {
    await stopAll();
    const errors = users.cleanup();
    removePamService();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    if (errors.length > 0) console.log(`user cleanup errors: ${errors.join('; ')}`);
  });
  return {
    users,
    dirs,
    tempDir(prefix = 'tsftpd-t-'): string {
      const d = makeTempDir(prefix);
      dirs.push(d);
      return d;
    },
  };
}
