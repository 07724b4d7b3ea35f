/*
 * dirmessage_enable: the first time a session enters a directory, the
 * contents of message_file there (".message") precede the reply as
 * continuation lines (vsftpd's banner.c): "230-" at login, "250-" on CWD.
 * vsftpd remembers 100 directories and reads at most 4000 bytes.
 */

import * as fs from 'node:fs';
import type { Session } from './session';

const MAX_MESSAGE_BYTES = 4000;
const MAX_REMEMBERED = 100;

const shown = new Set<string>();

/** Message lines for the current directory, or [] (already shown / none). */
export function directoryMessage(s: Session): string[] {
  if (!s.cfg.dirmessage_enable || s.cfg.message_file === null) return [];
  const dir = process.cwd();
  if (shown.has(dir)) return [];
  if (shown.size >= MAX_REMEMBERED) return [];
  shown.add(dir);
  let text: string;
  try {
    const fd = fs.openSync(s.cfg.message_file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      if (!fs.fstatSync(fd).isFile()) return [];
      const buf = Buffer.alloc(MAX_MESSAGE_BYTES);
      const n = fs.readSync(fd, buf, 0, MAX_MESSAGE_BYTES, 0);
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
  const lines = text.replace(/\r/g, '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Reply `code` with the directory's message lines first, if any. */
export function replyWithMessage(s: Session, code: number, text: string): void {
  const lines = directoryMessage(s);
  if (lines.length === 0) s.ch.reply(code, text);
  else s.ch.replyRaw([...lines.map((l) => `${code}-${l}`), `${code} ${text}`]);
}
