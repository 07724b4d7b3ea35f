/*
 * pasv_addr_resolve=YES: pasv_address is a host name. vsftpd resolves it
 * once at start, so a dynamic-DNS address goes stale — the top complaint of
 * admins behind NAT. master resolves it when a session logs in, caching the
 * answer for CACHE_MS, and keeps the last good address if a lookup fails.
 * (The session worker cannot resolve names: its jail has no /etc.)
 */

import * as dns from 'node:dns';
import type { Config } from '../config/options';

const CACHE_MS = 30_000;

interface Entry {
  address: string | null;
  at: number;
  pending: Promise<string | null> | null;
}

const cache = new Map<string, Entry>();

function lookup(name: string): Promise<string | null> {
  return new Promise((resolve) => {
    dns.lookup(name, { family: 4 }, (err, address) => resolve(err ? null : address));
  });
}

async function resolveCached(name: string): Promise<string | null> {
  let e = cache.get(name);
  if (e === undefined) {
    e = { address: null, at: 0, pending: null };
    cache.set(name, e);
  }
  const entry = e;
  if (entry.address !== null && Date.now() - entry.at < CACHE_MS) return entry.address;
  entry.pending ??= lookup(name).then((a) => {
    entry.pending = null;
    if (a !== null) {
      entry.address = a;
      entry.at = Date.now();
    }
    return entry.address; // the last good one when this lookup failed
  });
  return entry.pending;
}

/** The config a session worker gets: pasv_address as a literal IPv4 address. */
export async function withResolvedPasvAddress(cfg: Config): Promise<Config> {
  if (!cfg.pasv_addr_resolve || cfg.pasv_address === null) return cfg;
  const address = await resolveCached(cfg.pasv_address);
  return Object.freeze({ ...cfg, pasv_address: address, pasv_addr_resolve: false });
}
