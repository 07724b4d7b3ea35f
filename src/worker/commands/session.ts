/*
 * Session-level commands: identity, capabilities and transfer parameters.
 */

import { featureLines } from '../../protocol/features';
import { isAnon, type CommandTable, type Session } from '../session';

function type(s: Session, arg: string | null): void {
  const a = (arg ?? '').toUpperCase();
  if (a === 'I' || a === 'L8' || a === 'L 8') {
    s.type = 'binary';
    s.ch.reply(200, 'Switching to Binary mode.');
  } else if (a === 'A' || a === 'A N') {
    s.type = 'ascii';
    s.ch.reply(200, 'Switching to ASCII mode.');
  } else {
    s.ch.reply(500, 'Unrecognised TYPE command.');
  }
}

export const SESSION_COMMANDS: CommandTable = {
  USER: {
    handler: (s, arg) => {
      if (isAnon(s)) s.ch.reply(530, "Can't change from guest user.");
      else if (arg === s.login.loginName) s.ch.reply(331, 'Any password will do.');
      else s.ch.reply(530, "Can't change to another user.");
    },
  },
  PASS: { handler: (s) => s.ch.reply(230, 'Already logged in.') },
  QUIT: { handler: (s) => s.ch.fatal(221, 'Goodbye.') },
  NOOP: { handler: (s) => s.ch.reply(200, 'NOOP ok.') },
  SYST: { handler: (s) => s.ch.reply(215, 'UNIX Type: L8') },
  FEAT: { handler: (s) => s.ch.replyRaw(featureLines(s.cfg)) },
  OPTS: {
    handler: (s, arg) => {
      const a = (arg ?? '').toUpperCase();
      if (a === 'UTF8 ON' || a === 'UTF8') s.ch.reply(200, 'Always in UTF8 mode.');
      else s.ch.reply(501, 'Option not understood.');
    },
  },
  TYPE: { handler: type },
  MODE: {
    handler: (s, arg) => {
      if ((arg ?? '').toUpperCase() === 'S') s.ch.reply(200, 'Mode set to S.');
      else s.ch.reply(504, 'Bad MODE command.');
    },
  },
  STRU: {
    handler: (s, arg) => {
      if ((arg ?? '').toUpperCase() === 'F') s.ch.reply(200, 'Structure set to F.');
      else s.ch.reply(504, 'Bad STRU command.');
    },
  },
  ALLO: { handler: (s) => s.ch.reply(202, 'ALLO command ignored.') },
  REIN: { handler: (s) => s.ch.reply(502, 'REIN not implemented.') },
  ACCT: { handler: (s) => s.ch.reply(502, 'ACCT not implemented.') },
  SMNT: { handler: (s) => s.ch.reply(502, 'SMNT not implemented.') },
};
