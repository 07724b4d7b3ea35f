/*
 * The FEAT reply (RFC 2389), in vsftpd's order (features.c), listing only
 * what this build implements and this config enables: a client that trusts
 * FEAT must never be told about a command that then fails.
 */

import type { Config } from '../config/options';

export function featureLines(config: Config): string[] {
  const f: string[] = [];
  if (config.port_enable) f.push('EPRT');
  if (config.pasv_enable) f.push('EPSV');
  f.push('MDTM');
  if (config.pasv_enable) f.push('PASV');
  f.push('SIZE');
  f.push('TVFS');
  f.push('UTF8');
  return ['211-Features:', ...f.map((x) => ` ${x}`), '211 End'];
}
