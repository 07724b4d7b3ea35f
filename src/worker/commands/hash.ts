/*
 * HASH (draft-bryan-ftpext-hash-02): the digest of a file, or of the octet
 * range RANG selected, with the algorithm OPTS HASH selected (session.ts).
 *
 *   213 SHA-256 0-49 169cd222...e9dd filename.ext
 *
 * The range is inclusive at both ends, as RANG's ("RANG 0 49" → "0-49");
 * the whole of a 100-byte file is "0-99" (an empty file: "0-0"). A RANG
 * stays in force for later HASH commands until "RANG 1 0", REST or a
 * transfer command clears it.
 *
 * Computed by reading 1 MiB at a time (bounded memory). Like RETR it needs
 * download_enable and, for anonymous users, a world-readable file.
 */

import * as fs from 'node:fs';
import { logSafe } from '../cmdparse';
import { digestFile, hashNameOf, DEFAULT_HASH } from '../digest';
import { expandPath, GATES, isAnon, setTitle, type CommandTable, type Session } from '../session';

async function hash(s: Session, arg: string | null): Promise<void> {
  const name = arg ?? '';
  let fd: number;
  try {
    fd = fs.openSync(expandPath(s, name), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    s.ch.reply(550, 'Failed to open file.');
    return;
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    if (st.isDirectory()) {
      s.ch.reply(553, 'HASH of a directory is not defined.');
      return;
    }
    const worldReadableOk = !isAnon(s) || !s.cfg.anon_world_readable_only || (st.mode & 0o004n) !== 0n;
    if (!st.isFile() || !worldReadableOk) {
      s.ch.reply(550, 'Failed to open file.');
      return;
    }
    const range = s.range;
    const start = range === null ? 0n : range.start;
    if (range !== null && start > 0n && start >= st.size) {
      s.ch.reply(556, 'Range starts beyond the end of the file.');
      return;
    }
    const algorithm = hashNameOf(s.hashAlgorithm) ?? DEFAULT_HASH;
    setTitle(s, `HASH ${logSafe(name)}`);
    let result: { hex: string; bytes: bigint };
    try {
      result = await digestFile(fd, algorithm, start, range === null ? null : range.end);
    } catch {
      s.ch.reply(451, 'Failure reading local file.');
      return;
    } finally {
      setTitle(s, 'IDLE');
    }
    const last = result.bytes === 0n ? start : start + result.bytes - 1n;
    s.ch.reply(213, `${algorithm} ${start}-${last} ${result.hex} ${name}`);
  } finally {
    fs.closeSync(fd);
  }
}

export const HASH_COMMANDS: CommandTable = {
  HASH: { handler: hash, gate: GATES.download },
};
