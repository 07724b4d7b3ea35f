/*
 * Setting up data connections: PASV, EPSV, PORT, EPRT. The connection
 * itself (and its security checks) is data.ts.
 */

import * as net from 'node:net';
import { normalizeAddress } from '../data';
import { GATES, type CommandTable, type Session } from '../session';

async function passive(s: Session, extended: boolean): Promise<void> {
  const port = await s.data.listenPassive();
  if (port === null) {
    s.ch.reply(425, 'Could not listen on a passive port.');
    return;
  }
  if (extended) {
    s.ch.reply(229, `Entering Extended Passive Mode (|||${port}|)`);
    return;
  }
  const ip = s.cfg.pasv_address ?? normalizeAddress(s.info.localAddress);
  const parts = ip.split('.');
  if (parts.length !== 4) {
    s.data.reset();
    s.ch.reply(425, 'PASV is IPv4 only; use EPSV.');
    return;
  }
  s.ch.reply(227, `Entering Passive Mode (${parts.join(',')},${port >> 8},${port & 0xff}).`);
}

export function parsePortArg(arg: string): { host: string; port: number } | null {
  const nums = arg.split(',');
  if (nums.length !== 6) return null;
  const v = nums.map((n) => (/^\d{1,3}$/.test(n.trim()) ? Number(n.trim()) : -1));
  if (v.some((n) => n < 0 || n > 255)) return null;
  const [a, b, c, d, p1, p2] = v as [number, number, number, number, number, number];
  return { host: `${a}.${b}.${c}.${d}`, port: p1 * 256 + p2 };
}

/** EPRT |proto|addr|port| with any delimiter character (RFC 2428). */
export function parseEprtArg(arg: string, controlIsV6: boolean): { host: string; port: number } | 'bad' | 'proto' {
  const delim = arg[0];
  if (delim === undefined || arg.length < 7) return 'bad';
  const parts = arg.split(delim);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return 'bad';
  const [, proto, host, portText] = parts as [string, string, string, string, string];
  if (!/^\d{1,5}$/.test(portText)) return 'bad';
  const port = Number(portText);
  if (proto === '1') return net.isIPv4(host) ? { host, port } : 'bad';
  if (proto === '2') {
    if (!controlIsV6) return 'proto';
    return net.isIPv6(host) ? { host, port } : 'bad';
  }
  return 'proto';
}

function controlIsV6(s: Session): boolean {
  return net.isIPv6(normalizeAddress(s.info.localAddress));
}

export const DATACONN_COMMANDS: CommandTable = {
  PASV: { handler: (s) => passive(s, false), gate: GATES.pasv },
  'P@SW': { handler: (s) => passive(s, false), gate: GATES.pasv },
  EPSV: {
    gate: GATES.epsv,
    handler: (s, arg) => {
      const a = (arg ?? '').toUpperCase();
      if (a === 'ALL') {
        s.epsvAll = true;
        s.ch.reply(200, 'EPSV ALL ok.');
        return undefined;
      }
      const v6 = controlIsV6(s);
      if (a === '' || (a === '1' && !v6) || (a === '2' && v6)) return passive(s, true);
      s.ch.reply(522, 'Bad network protocol.');
      return undefined;
    },
  },
  PORT: {
    gate: GATES.port,
    handler: (s, arg) => {
      const t = parsePortArg(arg ?? '');
      if (t === null || !s.data.setActive(t.host, t.port)) {
        s.data.reset();
        s.ch.reply(500, 'Illegal PORT command.');
        return;
      }
      s.ch.reply(200, 'PORT command successful. Consider using PASV.');
    },
  },
  EPRT: {
    gate: GATES.port,
    handler: (s, arg) => {
      const t = parseEprtArg(arg ?? '', controlIsV6(s));
      if (t === 'bad') s.ch.reply(500, 'Bad EPRT command.');
      else if (t === 'proto') s.ch.reply(522, 'Bad EPRT protocol.');
      else if (!s.data.setActive(t.host, t.port)) s.ch.reply(500, 'Illegal EPRT command.');
      else s.ch.reply(200, 'EPRT command successful. Consider using EPSV.');
    },
  },
};
