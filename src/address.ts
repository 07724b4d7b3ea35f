/*
 * Client addresses as one peer: a dual-stack socket reports an IPv4 client
 * as "::ffff:1.2.3.4". Used by master (limits, bans, logs), priv (port-20
 * connects) and workers (data-connection checks), so all three agree.
 */

import * as net from 'node:net';

export function normalizeAddress(addr: string): string {
  return addr.startsWith('::ffff:') && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
}
