/*
 * master: the root process an admin starts. It reads and checks the config,
 * starts priv and the prefork pool, binds the listen socket(s), and from
 * then on only accepts connections, applies limits and routes IPC. It never
 * parses FTP and never reads from a client.
 */

import * as fs from 'node:fs';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import * as userid from 'userid';
import type { Config } from '../config/options';
import { formatConfigError, loadConfigFile, unimplementedOptionsWarning } from '../config/parse';
import { VERSION } from '../version';
import { userCommand } from '../cli/user';
import { parseCommandLine, USAGE } from './cmdline';
import { createLogger } from './log';
import { PrivSupervisor } from './privsup';
import { SessionTable } from './sessions';

/** Start-up refusals exit 2 with one line, as config errors do. */
function refuse(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function lookupNopriv(cfg: Config, file: string): { uid: number; gid: number } {
  const name = cfg.nopriv_user ?? '';
  try {
    return userid.ids(name);
  } catch {
    return refuse(`tsftpd: ${file}: nopriv_user: user ${JSON.stringify(name)} does not exist`);
  }
}

/*
 * SECURITY: the pre-login jail must be a root-owned directory nobody else
 * can write; otherwise a local user could plant files that the jailed
 * worker's libc would read.
 */
function checkSecureChrootDir(cfg: Config, file: string): void {
  const dir = cfg.secure_chroot_dir ?? '';
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return refuse(`tsftpd: ${file}: secure_chroot_dir: ${dir} does not exist`);
  }
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    refuse(`tsftpd: ${file}: secure_chroot_dir: ${dir} must be a directory owned by root and writable by nobody else`);
  }
}

/** banner_file, read once as root; W1 cannot reach it from its jail. */
function readBanner(cfg: Config, file: string): string | null {
  if (cfg.banner_file === null) return null;
  try {
    const st = fs.statSync(cfg.banner_file);
    if (!st.isFile() || st.size > 64 * 1024) throw new Error('not a regular file of at most 64 KiB');
    return fs.readFileSync(cfg.banner_file, 'utf8');
  } catch (e: unknown) {
    return refuse(`tsftpd: ${file}: banner_file: ${cfg.banner_file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function listenAddresses(cfg: Config): Array<{ host: string; ipv6Only: boolean }> {
  if (cfg.listen_ipv6) return [{ host: cfg.listen_address6 ?? '::', ipv6Only: false }];
  if (cfg.listen) return [{ host: cfg.listen_address ?? '0.0.0.0', ipv6Only: false }];
  return [];
}

/** background=YES: run a detached copy in the foreground mode and leave. */
function daemonize(argv: readonly string[]): never {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? '', ...argv, '-obackground=NO'], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  process.exit(0);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'user') {
    if (process.getuid?.() !== 0) refuse('tsftpd user: must be run as root');
    process.exitCode = await userCommand(argv.slice(1));
    return;
  }
  const cmd = parseCommandLine(argv);
  if (cmd.kind === 'version') {
    process.stdout.write(`tsftpd ${VERSION}\n`);
    return;
  }
  if (cmd.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (cmd.kind === 'error') refuse(`tsftpd: ${cmd.message}`);

  if (process.getuid?.() !== 0) refuse('tsftpd: must be started as root');

  const loaded = loadConfigFile(cmd.configFile, cmd.overrides);
  if (!loaded.ok) refuse(formatConfigError(loaded.error));
  const config = loaded.config;
  const warning = unimplementedOptionsWarning(loaded.set, config);
  if (warning !== null) process.stderr.write(`${warning}\n`);

  const nopriv = lookupNopriv(config, cmd.configFile);
  checkSecureChrootDir(config, cmd.configFile);
  const addresses = listenAddresses(config);
  if (addresses.length === 0) {
    refuse(`tsftpd: ${cmd.configFile}: listen: inetd mode (listen=NO and listen_ipv6=NO) is not supported; set listen=YES`);
  }
  if (config.background) daemonize(argv);

  process.title = 'tsftpd: master';
  process.umask(0o077);
  const log = createLogger();
  const priv = new PrivSupervisor();
  priv.start();
  const table = new SessionTable(config, priv, log, nopriv, readBanner(config, cmd.configFile));
  // Fill the pool before accepting, so the first client is served at pool
  // speed too (bounded: a slow machine still starts).
  await table.pool.warm(10_000);

  const servers: net.Server[] = [];
  for (const a of addresses) {
    const server = net.createServer({ pauseOnConnect: true }, (sock) => table.accept(sock));
    await new Promise<void>((resolve) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        refuse(`tsftpd: cannot listen on ${a.host}:${config.listen_port}: ${e.code ?? e.message}`);
      });
      server.listen({ host: a.host, port: config.listen_port, ipv6Only: a.ipv6Only, backlog: 511 }, resolve);
    });
    server.on('error', (e) => log.error({ event: 'listener_error', err: e.message }, 'listener error'));
    servers.push(server);
  }
  log.info({ event: 'started', version: VERSION, port: config.listen_port, pid: process.pid }, 'tsftpd started');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'stopping', signal }, 'stopping');
    for (const s of servers) s.close();
    table.stopAll();
    priv.stop();
    // Children were sent SIGKILL; give the kernel a moment to reap them.
    const deadline = Date.now() + 5000;
    const check = (): void => {
      const alive = [...table.pool.all].some((w) => w.alive);
      if (!alive || Date.now() > deadline) process.exit(0);
      setTimeout(check, 20);
    };
    check();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Reload arrives with the operations issue; until then SIGHUP must not kill.
  process.on('SIGHUP', () => log.warn({ event: 'sighup' }, 'SIGHUP: reload is not implemented yet; ignored'));
}

void main().catch((e: unknown) => {
  process.stderr.write(`tsftpd: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
