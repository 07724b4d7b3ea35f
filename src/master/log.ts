/*
 * master's operational log: structured lines on stderr (fd 2) through pino,
 * so systemd's journal or a pipe can take them. The admin-facing vsftpd
 * and xferlog formats are a separate concern (logging issue).
 */

import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: pino.LevelWithSilent = 'info'): Logger {
  return pino({ base: { proc: 'master' }, level }, pino.destination({ fd: 2, sync: true }));
}
