/*
 * Directory listings over the data connection: LIST and NLST.
 */

import { listLines, parseLsArgument } from '../ls';
import { expandPath, GATES, type CommandTable, type Session } from '../session';
import { sendLines } from '../transfer';

async function list(s: Session, arg: string | null, long: boolean): Promise<void> {
  const req = parseLsArgument(arg, s.cfg, long);
  const lines = await listLines({ ...req, target: expandPath(s, req.target) }, s.cfg);
  const conn = await s.data.open();
  if (!conn.ok) {
    s.ch.reply(conn.code, conn.text);
    return;
  }
  s.ch.reply(150, 'Here comes the directory listing.');
  const ok = await sendLines(lines ?? [], conn.socket);
  if (!ok) s.ch.reply(426, 'Failure writing network stream.');
  else if (lines === null) s.ch.reply(226, 'Transfer done (but failed to open directory).');
  else s.ch.reply(226, 'Directory send OK.');
}

export const LISTING_COMMANDS: CommandTable = {
  LIST: { handler: (s, arg) => list(s, arg, true), gate: GATES.dirlist },
  NLST: { handler: (s, arg) => list(s, arg, false), gate: GATES.dirlist },
};
