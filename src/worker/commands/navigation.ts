/*
 * Moving around inside the jail. The process's own working directory is
 * the session's (one session per process), so the kernel resolves every
 * relative path and enforces permissions; chroot keeps ".." inside.
 */

import { replyWithMessage } from '../dirmessage';
import { expandPath, quotePath, type CommandTable, type Session } from '../session';

function changeDir(s: Session, target: string): void {
  try {
    process.chdir(expandPath(s, target));
  } catch {
    s.ch.reply(550, 'Failed to change directory.');
    return;
  }
  replyWithMessage(s, 250, 'Directory successfully changed.');
}

function pwd(s: Session): void {
  s.ch.reply(257, `${quotePath(process.cwd())} is the current directory`);
}

export const NAVIGATION_COMMANDS: CommandTable = {
  PWD: { handler: pwd },
  XPWD: { handler: pwd },
  CWD: { handler: (s, arg) => changeDir(s, arg ?? '') },
  XCWD: { handler: (s, arg) => changeDir(s, arg ?? '') },
  CDUP: { handler: (s) => changeDir(s, '..') },
  XCUP: { handler: (s) => changeDir(s, '..') },
};
