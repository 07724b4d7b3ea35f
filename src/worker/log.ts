/*
 * A worker's structured log: one JSON object a line on stderr (inherited
 * from master, so it lands where master's log goes). One write(2) per line,
 * so lines from many processes do not interleave. Works in the jail: no
 * file is opened, no module is loaded lazily.
 */

import * as fs from 'node:fs';

export function logEvent(event: string, fields: Readonly<Record<string, string | number | boolean | null>>): void {
  const line = JSON.stringify({ time: Date.now(), proc: 'worker', pid: process.pid, event, ...fields }) + '\n';
  try {
    fs.writeSync(2, line);
  } catch {
    // Logging must never end a session.
  }
}
