/*
 * Session-level commands: identity, capabilities and transfer parameters
 * (vsftpd's texts; OPTS HASH, OPTS MLST and CLNT are extensions).
 */

import { featureLines } from '../../protocol/features';
import { logSafe, parseMlstOpts } from '../cmdparse';
import { normalizeAddress } from '../data';
import { hashNameOf } from '../digest';
import { logEvent } from '../log';
import { isAnon, MLST_FACTS, type CommandTable, type Session } from '../session';

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

/**
 * OPTS UTF8 ON (vsftpd: always UTF-8; OFF is refused because names are
 * decoded as UTF-8 whatever the client says), OPTS MLST facts (RFC 3659
 * §7.9), OPTS HASH [algorithm] (draft-bryan-ftpext-hash §3.2).
 */
function opts(s: Session, arg: string | null): void {
  const a = arg ?? '';
  const sp = a.indexOf(' ');
  const option = (sp === -1 ? a : a.slice(0, sp)).toUpperCase();
  const value = sp === -1 ? '' : a.slice(sp + 1);
  if (option === 'UTF8' && (value === '' || value.toUpperCase() === 'ON')) {
    s.ch.reply(200, 'Always in UTF8 mode.');
  } else if (option === 'MLST') {
    s.mlstFacts = parseMlstOpts(value, MLST_FACTS);
    const list = s.mlstFacts.map((f) => `${f};`).join('');
    s.ch.reply(200, list === '' ? 'MLST OPTS' : `MLST OPTS ${list}`);
  } else if (option === 'HASH') {
    if (value.trim() === '') {
      s.ch.reply(200, s.hashAlgorithm);
      return;
    }
    const name = hashNameOf(value);
    if (name === null) {
      s.ch.reply(501, 'Unknown algorithm, current selection not changed');
      return;
    }
    s.hashAlgorithm = name;
    s.ch.reply(200, name);
  } else {
    s.ch.reply(501, 'Option not understood.');
  }
}

/** CLNT name (client identification, no RFC): noted in the daemon's log. */
function clnt(s: Session, arg: string | null): void {
  logEvent('client_name', {
    session: s.info.id,
    client: normalizeAddress(s.info.remoteAddress),
    user: s.login.user,
    name: logSafe(arg ?? ''),
  });
  s.ch.reply(200, 'Noted.');
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
  FEAT: {
    handler: (s) => s.ch.replyRaw(featureLines(s.cfg, { hashAlgorithm: s.hashAlgorithm, mlstFacts: s.mlstFacts })),
  },
  OPTS: { handler: opts },
  CLNT: { handler: clnt },
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
