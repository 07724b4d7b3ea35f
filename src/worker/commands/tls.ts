/*
 * PBSZ and PROT after login (RFC 2228 / RFC 4217), with vsftpd's texts
 * (ssl.c handle_pbsz, handle_prot). With ssl_enable=NO they are unknown
 * commands, as in vsftpd. AUTH after login and CCC are not implemented
 * (500 Unknown command.): the control connection never goes back to clear
 * text.
 */

import type { CommandTable, Session } from '../session';

/** PBSZ: the only buffer size TLS needs is 0; vsftpd answers 0 whatever was asked. */
export function pbsz(secure: boolean): { code: number; text: string } {
  return secure ? { code: 200, text: 'PBSZ set to 0.' } : { code: 503, text: 'PBSZ needs a secure connection.' };
}

/** PROT C / P; S and E are not supported. Returns the reply and the new level, if any. */
export function prot(secure: boolean, arg: string | null): { code: number; text: string; level: 'C' | 'P' | null } {
  const a = (arg ?? '').toUpperCase();
  if (!secure) return { code: 503, text: 'PROT needs a secure connection.', level: null };
  if (a === 'C') return { code: 200, text: 'PROT now Clear.', level: 'C' };
  if (a === 'P') return { code: 200, text: 'PROT now Private.', level: 'P' };
  if (a === 'S' || a === 'E') return { code: 536, text: 'PROT not supported.', level: null };
  return { code: 504, text: 'PROT not recognized.', level: null };
}

function unknown(s: Session): void {
  s.ch.reply(500, 'Unknown command.');
}

export const TLS_COMMANDS: CommandTable = {
  PBSZ: {
    handler: (s) => {
      if (!s.cfg.ssl_enable) {
        unknown(s);
        return;
      }
      const r = pbsz(s.tls !== null);
      s.ch.reply(r.code, r.text);
    },
  },
  PROT: {
    handler: (s, arg) => {
      if (!s.cfg.ssl_enable) {
        unknown(s);
        return;
      }
      const r = prot(s.tls !== null, arg);
      if (r.level !== null) s.prot = r.level;
      s.ch.reply(r.code, r.text);
    },
  },
};
