/*
 * master: the root process an admin starts. It reads and checks the config,
 * starts priv and the prefork pool, binds the listen socket(s), and from
 * then on only accepts connections, applies limits and routes IPC. It never
 * parses FTP and never reads from a client.
 */

// First: may restart this process (see the file).
import './internals';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import type { Config } from '../config/options';
import { VERSION } from '../version';
import { userCommand } from '../cli/user';
import { checkConfig } from './checkconfig';
import { loadRuntimeConfig } from './runtime-config';
import { startMetricsServer } from './metrics';
import { openLogs } from '../log/files';
import { openSysLog } from '../log/syslog';
import { parseCommandLine, USAGE } from './cmdline';
import { createLogger } from './log';
import { PrivSupervisor } from './privsup';
import { SessionTable } from './sessions';

/** Start-up refusals exit 2 with one line, as config errors do. */
function refuse(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
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
  if (cmd.kind === 'check') {
    process.exitCode = checkConfig(cmd.configFile, cmd.overrides);
    return;
  }

  if (process.getuid?.() !== 0) refuse('tsftpd: must be started as root');

  const loaded = loadRuntimeConfig(cmd.configFile, cmd.overrides);
  if (!loaded.ok) refuse(loaded.message);
  let running = loaded.rc;
  const config = running.config;
  if (running.warning !== null) process.stderr.write(`${running.warning}\n`);
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
  // Log files are opened once, as root, before any worker exists; workers
  // inherit them (log/files.ts). A change of log files needs a restart.
  const logs = openLogs(config);
  if (!logs.ok) refuse(`tsftpd: ${cmd.configFile}: ${logs.option}: ${logs.message}`);
  if (logs.logs.plan.syslog) openSysLog();
  const table = new SessionTable(config, priv, log, running.nopriv, running.banner, undefined, logs.logs);
  table.setTls(running.tls);
  // Fill the pool before accepting, so the first client is served at pool
  // speed too (bounded: a slow machine still starts).
  await table.pool.warm(10_000);

  // listen_port (implicit TLS when implicit_ssl=YES) and, with
  // implicit_ssl_port, a second port whose connections are implicit FTPS:
  // explicit on 21 and implicit on 990 from one daemon.
  const ports: Array<{ port: number; implicit: boolean }> = [{ port: config.listen_port, implicit: config.ssl_enable && config.implicit_ssl }];
  if (config.ssl_enable && config.implicit_ssl_port !== 0) ports.push({ port: config.implicit_ssl_port, implicit: true });
  const servers: net.Server[] = [];
  for (const a of addresses) {
    for (const p of ports) {
      const server = net.createServer({ pauseOnConnect: true }, (sock) => table.accept(sock, p.implicit));
      await new Promise<void>((resolve) => {
        server.once('error', (e: NodeJS.ErrnoException) => {
          refuse(`tsftpd: cannot listen on ${a.host}:${p.port}: ${e.code ?? e.message}`);
        });
        server.listen({ host: a.host, port: p.port, ipv6Only: a.ipv6Only, backlog: 511 }, resolve);
      });
      server.on('error', (e) => log.error({ event: 'listener_error', err: e.message }, 'listener error'));
      servers.push(server);
    }
  }
  if (config.metrics_enable) {
    const m = table.metrics;
    const host = config.metrics_address ?? '127.0.0.1';
    await startMetricsServer(m, host, config.metrics_port, () => {
      m.sessions.set(table.count);
      m.poolReady.set(table.pool.readyCount);
      m.privRestarts.set(priv.restarts);
    }).catch((e: unknown) => refuse(`tsftpd: metrics_port: cannot listen on ${host}:${config.metrics_port}: ${e instanceof Error ? e.message : String(e)}`));
  }
  log.info(
    { event: 'started', version: VERSION, port: config.listen_port, implicitPort: config.ssl_enable && config.implicit_ssl_port !== 0 ? config.implicit_ssl_port : null, tls: running.tls !== null, pid: process.pid },
    'tsftpd started',
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'stopping', signal }, 'stopping');
    for (const s of servers) s.close();
    // Live transfers may finish, up to shutdown_timeout; then all ends.
    void table.drain(running.config.shutdown_timeout * 1000).then(() => {
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
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP: new sessions get the new config; live sessions keep theirs
  // (each session holds its own). A bad config is refused and logged; the
  // running one stays. Listen settings need a restart (as vsftpd).
  process.on('SIGHUP', () => {
    const next = loadRuntimeConfig(cmd.configFile, cmd.overrides);
    if (!next.ok) {
      log.error({ event: 'reload_failed', error: next.message }, 'SIGHUP: config refused; keeping the running one');
      return;
    }
    const c = next.rc.config;
    const old = running.config;
    if (
      c.listen_port !== old.listen_port ||
      c.listen_address !== old.listen_address ||
      c.listen_address6 !== old.listen_address6 ||
      c.listen !== old.listen ||
      c.listen_ipv6 !== old.listen_ipv6 ||
      c.implicit_ssl_port !== old.implicit_ssl_port ||
      c.implicit_ssl !== old.implicit_ssl ||
      (c.ssl_enable !== old.ssl_enable && (c.implicit_ssl || c.implicit_ssl_port !== 0 || old.implicit_ssl || old.implicit_ssl_port !== 0))
    ) {
      log.warn({ event: 'reload_listen_ignored' }, 'SIGHUP: listen settings changed; they take effect at the next start');
    }
    running = next.rc;
    table.setConfig(c, next.rc.nopriv, next.rc.banner);
    // New certificates and keys (read again as root) serve new sessions.
    table.setTls(next.rc.tls);
    if (next.rc.warning !== null) log.warn({ event: 'unimplemented_options' }, next.rc.warning);
    log.info({ event: 'reloaded' }, 'SIGHUP: config reloaded');
  });
}

void main().catch((e: unknown) => {
  process.stderr.write(`tsftpd: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
