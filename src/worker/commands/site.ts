/*
 * SITE CHMOD, SITE UMASK, SITE HELP, with vsftpd's texts (postlogin.c
 * handle_site). SITE is for non-anonymous sessions only (the gate);
 * CHMOD also needs write_enable and chmod_enable, else it is unknown.
 */

import * as fs from 'node:fs';
import { formatOctal, parseOctal } from '../cmdparse';
import { absolutePath, expandPath, GATES, type CommandTable, type Session } from '../session';
import { logFileOp } from '../sessionlog';

const chmodAllowed = (s: Session): boolean => s.cfg.write_enable && s.cfg.chmod_enable;

/** SITE CHMOD mode file: mode is octal; only the 0777 bits are applied. */
function chmod(s: Session, args: string): void {
  const sp = args.indexOf(' ');
  if (args === '' || sp === -1 || sp === args.length - 1) {
    s.ch.reply(500, 'SITE CHMOD needs 2 arguments.');
    return;
  }
  // SECURITY: no setuid, setgid or sticky bits, whatever the client asks.
  const mode = parseOctal(args.slice(0, sp)) & 0o777;
  const file = expandPath(s, args.slice(sp + 1));
  const what = `${absolutePath(file)} ${args.slice(0, sp)}`;
  try {
    fs.chmodSync(file, mode);
  } catch {
    logFileOp(s, 'CHMOD', false, what);
    s.ch.reply(550, 'SITE CHMOD command failed.');
    return;
  }
  logFileOp(s, 'CHMOD', true, what);
  s.ch.reply(200, 'SITE CHMOD command ok.');
}

/** SITE UMASK [mask]: report or set the umask for this session's new files. */
function umask(s: Session, args: string): void {
  if (args === '') {
    s.ch.reply(200, `Your current UMASK is ${formatOctal(process.umask())}`);
    return;
  }
  process.umask(parseOctal(args) & 0o777);
  s.ch.reply(200, `UMASK set to ${formatOctal(process.umask())}`);
}

function site(s: Session, arg: string | null): void {
  const a = arg ?? '';
  const sp = a.indexOf(' ');
  const sub = (sp === -1 ? a : a.slice(0, sp)).toUpperCase();
  const rest = sp === -1 ? '' : a.slice(sp + 1);
  if (sub === 'CHMOD' && chmodAllowed(s)) chmod(s, rest);
  else if (sub === 'UMASK') umask(s, rest);
  else if (sub === 'HELP') s.ch.reply(214, chmodAllowed(s) ? 'CHMOD UMASK HELP' : 'UMASK HELP');
  else s.ch.reply(500, 'Unknown SITE command.');
}

export const SITE_COMMANDS: CommandTable = {
  SITE: { handler: site, gate: GATES.site },
};
