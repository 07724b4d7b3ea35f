// npm run bench -- [--quick] [--rounds N] [--only METRIC,...] [--update-docs] [--render DIR]
//
// tsftpd against vsftpd on 127.0.0.1, same vsftpd.conf settings, same C client, in
// alternating rounds (tsftpd, vsftpd, tsftpd, vsftpd, ...). Prints and saves, per metric,
// the median of each server and the median of the per-round ratios tsftpd/vsftpd.
// Must run as root (both daemons need it; the run creates a PAM user). See docs/PERFORMANCE.md.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IMPLEMENTED_OPTIONS } from '../src/config/options';
import { installPamService } from '../test/helpers/users';
import { cleanupSync, installExitHandlers, registerDir, registerPam, users } from './lib/cleanup';
import { buildClient, num, nums, runHeld, runJson, type ClientSync } from './lib/client';
import { descendants, readComm, rollup, sleep, treeCpuSeconds, treePss } from './lib/proc';
import {
  type MetricKey,
  cpuTable,
  perRoundTable,
  type RoundResult,
  fmt,
  markdownTable,
  median,
  percentile,
  summarize,
} from './lib/report';
import {
  type Options,
  type ServerName,
  VSFTPD_BIN,
  logWarnings,
  makeEmptyDir,
  settle,
  snapshotTsftpd,
  startServer,
} from './lib/servers';

const MiB = 1024 * 1024;

/** Work a step did: `units` of it; CPU is reported as seconds × scale / units in `unit`. */
interface Work {
  units: number;
  unit: string;
  scale: number;
}

function perGiB(bytes: number): Work {
  return { units: bytes / (1024 * MiB), unit: 'CPU s per GiB', scale: 1 };
}
const HOST = '127.0.0.1';

interface Params {
  bigBytes: number;
  parBytes: number;
  parSessions: number;
  logins: number;
  rateConc: number;
  rateSeconds: number;
  idleSessions: number;
  smallFiles: number;
  smallSize: number;
  listEntries: number;
  listRepeat: number;
  ftpsBytes: number;
}

const FULL: Params = {
  bigBytes: 1024 * MiB,
  parBytes: 256 * MiB,
  parSessions: 16,
  logins: 300,
  rateConc: 32,
  rateSeconds: 10,
  idleSessions: 200,
  smallFiles: 1000,
  smallSize: 4096,
  listEntries: 10_000,
  listRepeat: 3,
  ftpsBytes: 1024 * MiB,
};

// Development only: every count is cut, so that a loaded 2-core machine stays under 2 minutes.
const QUICK: Params = {
  bigBytes: 64 * MiB,
  parBytes: 16 * MiB,
  parSessions: 4,
  logins: 10,
  rateConc: 8,
  rateSeconds: 1,
  idleSessions: 10,
  smallFiles: 100,
  smallSize: 4096,
  listEntries: 10_000,
  listRepeat: 3,
  ftpsBytes: 64 * MiB,
};

interface Args {
  quick: boolean;
  rounds: number;
  only: Set<MetricKey> | null;
  updateDocs: boolean;
  /** Re-render the report of a saved run instead of running. */
  render: string | null;
}

function usage(): never {
  process.stdout.write(
    [
      'usage: npm run bench -- [--quick] [--rounds N] [--only METRIC,...] [--update-docs]',
      '  --quick        small sizes, 2 rounds unless --rounds is given (for development)',
      '  --rounds N     alternating rounds (tsftpd then vsftpd), default 5',
      '  --only LIST    run only these metrics (retr_1g, stor_1g, login_latency, login_rate,',
      '                 idle_sessions, small_files, list_10k, parallel_retr, ftps_retr)',
      '  --update-docs  replace the generated section of docs/PERFORMANCE.md with this run',
      '  --render DIR   no run: write DIR/results.md (and the docs with --update-docs) again',
      '                 from DIR/results.json',
      '',
    ].join('\n'),
  );
  process.exit(2);
}

const GROUPS: Record<string, MetricKey[]> = {
  retr_1g: ['retr_1g'],
  stor_1g: ['stor_1g'],
  login_latency: ['login_latency_p50', 'login_latency_p99'],
  login_rate: ['login_rate'],
  idle_sessions: ['idle_pss_total', 'idle_pss_per_session', 'idle_procs'],
  small_files: ['small_files'],
  list_10k: ['list_10k'],
  parallel_retr: ['parallel_retr'],
  ftps_retr: ['ftps_retr'],
};

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, rounds: 0, only: null, updateDocs: false, render: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') a.quick = true;
    else if (arg === '--update-docs') a.updateDocs = true;
    else if (arg === '--render') {
      a.render = argv[++i] ?? null;
      if (a.render === null) usage();
    }
    else if (arg === '--rounds') {
      a.rounds = Number(argv[++i]);
      if (!Number.isInteger(a.rounds) || a.rounds < 1) usage();
    } else if (arg === '--only') {
      a.only = new Set();
      for (const name of (argv[++i] ?? '').split(',')) {
        const keys = GROUPS[name];
        if (!keys) usage();
        for (const k of keys) a.only.add(k);
      }
    } else usage();
  }
  if (a.rounds === 0) a.rounds = a.quick ? 2 : 5;
  return a;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

function shQuiet(cmd: string): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').trim();
}

function repoRoot(): string {
  // dist/bench/run.js → repository root
  return path.resolve(__dirname, '..', '..');
}

function log(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

/** Write `bytes` of pseudo-random data (a 1 MiB random block repeated) into file. */
function makeFile(file: string, bytes: number): void {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i += 4) block.writeUInt32LE((Math.random() * 0x100000000) >>> 0, i);
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    for (let left = bytes; left > 0; left -= MiB) fs.writeSync(fd, block, 0, Math.min(MiB, left));
  } finally {
    fs.closeSync(fd);
  }
}

function mbps(bytes: number, seconds: number): number {
  return bytes / seconds / 1e6;
}

interface Machine {
  nproc: number;
  memoryGiB: number;
  cpu: string;
  kernel: string;
  node: string;
  vsftpd: string;
  tsftpd: string;
  curl: string;
  cc: string;
  loadavgStart: string;
  loadavgEnd?: string;
}

function machine(root: string): Machine {
  const pkg: unknown = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const version =
    typeof pkg === 'object' && pkg !== null && typeof (pkg as { version?: unknown }).version === 'string'
      ? (pkg as { version: string }).version
      : '?';
  const commit = shQuiet(`git -C '${root}' rev-parse --short HEAD 2>/dev/null`);
  const dirty = shQuiet(`git -C '${root}' status --porcelain -- src 2>/dev/null`) !== '' ? '+uncommitted src changes' : '';
  return {
    nproc: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    cpu: os.cpus()[0]?.model ?? '?',
    kernel: os.release(),
    node: process.version,
    vsftpd: fs.existsSync(VSFTPD_BIN) ? shQuiet(`${VSFTPD_BIN} -v 0>&1`).replace(/^vsftpd: /, '') : 'not installed',
    tsftpd: `${version} (${commit}${dirty ? ` ${dirty}` : ''})`,
    curl: shQuiet('curl --version | head -1'),
    cc: shQuiet('cc --version | head -1'),
    loadavgStart: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
  };
}

interface Context {
  args: Args;
  p: Params;
  root: string;
  /** Snapshot of the daemon that is run (see snapshotTsftpd). */
  tsftpdRoot: string;
  dir: string;
  home: string;
  client: string;
  user: string;
  pass: string;
  uid: number;
  gid: number;
  common: Options;
  cert: { cert: string; key: string } | null;
}

function wanted(args: Args, ...keys: MetricKey[]): boolean {
  return args.only === null || keys.some((k) => args.only?.has(k));
}

function want(ctx: Context, ...keys: MetricKey[]): boolean {
  return wanted(ctx.args, ...keys);
}

/** FTPS can be measured on a server once it implements ssl_enable. */
function hasFtps(server: ServerName): boolean {
  return server === 'vsftpd' || IMPLEMENTED_OPTIONS.has('ssl_enable');
}

async function runSlot(ctx: Context, server: ServerName, round: number): Promise<RoundResult> {
  const res: RoundResult = { round, server, values: {}, notes: {}, errors: {}, warnings: [], cpu: {} };
  const { p, client, user, pass } = ctx;
  const secure = makeEmptyDir(path.join(ctx.dir, `empty-${server}-${round}`));
  const srv = await startServer({
    name: server,
    options: ctx.common,
    extra: server === 'vsftpd' ? { seccomp_sandbox: false } : {},
    secureChrootDir: secure,
    dir: ctx.dir,
    repoRoot: ctx.tsftpdRoot,
    label: `${server}-${round}`,
  });
  const c = (mode: string, ...rest: (string | number)[]): string[] => [
    mode,
    HOST,
    String(srv.port),
    user,
    pass,
    ...rest.map(String),
  ];
  // One measurement; fn returns the work it did, to report the server's CPU per unit of it.
  // fn gets `sync` for the client's two sync points. start, once set up (logged in, data
  // connection open): wait until the server is quiet (tsftpd refills its prefork pool after
  // a login) and restart the CPU count, so that transfer steps report the transfer's CPU
  // alone. end, after the timed part and before QUIT: read the CPU while the session's
  // processes still live (a vsftpd session's child may be reaped by init once it quits, and
  // its CPU time would leave the server's tree: a 1 GiB STOR read as 0.02 CPU s).
  const step = async (keys: MetricKey[], fn: (sync: ClientSync) => Promise<Work>): Promise<void> => {
    if (!want(ctx, ...keys)) return;
    await settle(srv.pid);
    let cpu0 = treeCpuSeconds(srv.pid);
    let cpuEnd: number | null = null;
    const sync: ClientSync = {
      start: async () => {
        await settle(srv.pid, 300, 10_000);
        cpu0 = treeCpuSeconds(srv.pid);
      },
      end: () => {
        cpuEnd = treeCpuSeconds(srv.pid);
        return Promise.resolve();
      },
    };
    const t0 = Date.now();
    try {
      const work = await fn(sync);
      // let the sessions that just ended exit and be reaped (their CPU moves to the parent)
      await settle(srv.pid, 300, 5000);
      const seconds = (cpuEnd ?? treeCpuSeconds(srv.pid)) - cpu0;
      const k = keys[0] as MetricKey;
      res.cpu[k] = { seconds, perUnit: (seconds * work.scale) / work.units, unit: work.unit };
      log(`  ${server.padEnd(6)} ${''.padEnd(22)}  server CPU ${seconds.toFixed(2)} s = ${fmt((seconds * work.scale) / work.units)} ${work.unit}; step ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e: unknown) {
      const msg = e instanceof Error ? e.message : String(e);
      for (const k of keys) {
        res.values[k] = null;
        res.errors[k] = msg;
      }
      log(`  ${server}: ${keys.join(', ')} FAILED: ${msg.split('\n')[0] ?? ''}`);
    }
  };
  const show = (k: MetricKey, v: number, extra = ''): void => {
    res.values[k] = v;
    log(`  ${server.padEnd(6)} ${k.padEnd(22)} ${fmt(v).padStart(9)}${extra ? `  ${extra}` : ''}`);
  };

  try {
    await settle(srv.pid);
    const base = treePss(srv.pid);

    await step(['retr_1g'], async (sync) => {
      const j = await runJson(client, c('retr', 'big.bin'), 300_000, 'retr', sync);
      if (num(j, 'bytes') !== p.bigBytes) throw new Error(`retr got ${num(j, 'bytes')} bytes`);
      show('retr_1g', mbps(num(j, 'bytes'), num(j, 'seconds')), 'MB/s');
      return perGiB(p.bigBytes);
    });

    await step(['stor_1g'], async (sync) => {
      try {
        const j = await runJson(client, c('stor', 'up.bin', p.bigBytes), 300_000, 'stor', sync);
        const size = fs.statSync(path.join(ctx.home, 'up.bin')).size;
        if (size !== p.bigBytes) throw new Error(`stored file has ${size} bytes`);
        show('stor_1g', mbps(num(j, 'bytes'), num(j, 'seconds')), 'MB/s');
        return perGiB(p.bigBytes);
      } finally {
        fs.rmSync(path.join(ctx.home, 'up.bin'), { force: true });
        sh('sync', []);
      }
    });

    await step(['parallel_retr'], async (sync) => {
      const j = await runJson(client, c('par', 'par.bin', p.parSessions), 300_000, 'par', sync);
      if (num(j, 'bytes') !== p.parBytes * p.parSessions) throw new Error(`par got ${num(j, 'bytes')} bytes`);
      show('parallel_retr', mbps(num(j, 'bytes'), num(j, 'seconds')), `MB/s aggregate, ${p.parSessions} sessions`);
      return perGiB(p.parBytes * p.parSessions);
    });

    await step(['list_10k'], async (sync) => {
      const j = await runJson(client, c('list', 'list10k', p.listRepeat), 120_000, 'list', sync);
      const lines = num(j, 'bytes');
      const ms = median(nums(j, 'ms')) ?? NaN;
      res.notes.list_10k = `${lines} bytes of listing; runs ${nums(j, 'ms').map((x) => x.toFixed(0)).join('/')} ms`;
      show('list_10k', ms, `ms (median of ${p.listRepeat}, ${lines} bytes)`);
      return { units: p.listRepeat, unit: 'CPU ms per LIST', scale: 1000 };
    });

    await step(['small_files'], async (sync) => {
      // A new directory every time, kept until the run ends: ext4 skips
      // inodes deleted in the last 60-360 s when it allocates new ones, so
      // uploads made soon after the previous server's files were deleted
      // paid for a scan over them (per-round ratios 0.21-0.80 in one run).
      const name = `small-${server}-${round}`;
      const dir = path.join(ctx.home, name);
      fs.mkdirSync(dir, { mode: 0o755 });
      fs.chownSync(dir, ctx.uid, ctx.gid);
      const j = await runJson(client, c('small', name, p.smallFiles, p.smallSize), 300_000, 'small', sync);
      const n = fs.readdirSync(dir).length;
      if (n !== p.smallFiles) throw new Error(`${n} files stored`);
      show('small_files', num(j, 'files') / num(j, 'seconds'), 'files/s');
      return { units: p.smallFiles, unit: 'CPU ms per file', scale: 1000 };
    });

    await step(['login_latency_p50', 'login_latency_p99'], async () => {
      const j = await runJson(client, c('login', p.logins), 600_000, 'login');
      const ms = nums(j, 'ms');
      const fail = num(j, 'fail');
      if (ms.length === 0) throw new Error(`every login failed: ${String(j.error)}`);
      if (fail > 0) res.notes.login_latency_p50 = `${fail} of ${p.logins} logins failed (last error: ${String(j.error)})`;
      show('login_latency_p50', percentile(ms, 50) ?? NaN, `ms (${ms.length} sequential logins${fail ? `, ${fail} FAILED: ${String(j.error)}` : ''})`);
      show('login_latency_p99', percentile(ms, 99) ?? NaN, 'ms');
      return { units: ms.length + fail, unit: 'CPU ms per login', scale: 1000 };
    });

    await step(['login_rate'], async () => {
      const j = await runJson(client, c('rate', p.rateConc, p.rateSeconds), p.rateSeconds * 1000 + 180_000, 'rate');
      const fail = num(j, 'fail');
      const note = `${num(j, 'ok')} ok, ${fail} failed in ${num(j, 'seconds').toFixed(1)} s`;
      res.notes.login_rate = fail > 0 ? `${note} (last error: ${String(j.error)})` : note;
      show('login_rate', num(j, 'ok') / num(j, 'seconds'), `logins/s, ${res.notes.login_rate}`);
      return { units: num(j, 'ok') + fail, unit: 'CPU ms per login', scale: 1000 };
    });

    await step(['idle_pss_total', 'idle_pss_per_session', 'idle_procs'], async () => {
      await settle(srv.pid);
      const before = treePss(srv.pid);
      const pidsBefore = new Set(descendants(srv.pid));
      const held = await runHeld(client, c('idle', p.idleSessions, 4), 600_000, 'idle');
      try {
        const ready = num(held.first, 'ready');
        // a few failed logins (reported) do not void the memory figure; many do
        if (ready < p.idleSessions * 0.9) {
          throw new Error(`only ${ready} of ${p.idleSessions} sessions logged in: ${held.stderr().trim().split('\n')[0] ?? ''}`);
        }
        if (ready < p.idleSessions) {
          const why = held.stderr().trim().split('\n')[0] ?? '';
          res.notes.idle_procs = `${p.idleSessions - ready} of ${p.idleSessions} idle sessions failed to log in (${why}); `;
          log(`  ${server.padEnd(6)} WARNING: ${res.notes.idle_procs}`);
        }
        await settle(srv.pid, 1000);
        await sleep(500);
        const with_ = treePss(srv.pid);
        // one session process, the median by PSS, to show where its memory is
        const fresh = descendants(srv.pid)
          .filter((x) => !pidsBefore.has(x))
          .map((x) => ({ pid: x, r: rollup(x) }))
          .sort((a, b) => (a.r.Pss ?? 0) - (b.r.Pss ?? 0));
        const one = fresh[Math.floor(fresh.length / 2)];
        if (one) {
          const r = one.r;
          const mib = (k: string): string => `${((r[k] ?? 0) / 1024).toFixed(1)}`;
          res.notes.idle_pss_total =
            `one session process (${readComm(one.pid)}): Rss ${mib('Rss')}, Pss ${mib('Pss')} ` +
            `(anon ${mib('Pss_Anon')}, file ${mib('Pss_File')}), Private_Dirty ${mib('Private_Dirty')}, ` +
            `Shared_Clean ${mib('Shared_Clean')} MiB`;
          log(`  ${server.padEnd(6)} ${''.padEnd(22)}  ${res.notes.idle_pss_total}`);
        }
        const per = (with_.kib - before.kib) / ready / 1024;
        res.notes.idle_pss_per_session =
          `(${(with_.kib / 1024).toFixed(1)} − ${(before.kib / 1024).toFixed(1)} MiB) / ${ready}; ` +
          `${before.procs} processes before, ${with_.procs} with sessions; opened in ${num(held.first, 'seconds').toFixed(1)} s`;
        show('idle_pss_total', with_.kib / 1024, `MiB with ${ready} sessions (${(before.kib / 1024).toFixed(1)} MiB before)`);
        show('idle_pss_per_session', per, 'MiB per session (increase / sessions)');
        show('idle_procs', with_.procs, `processes (${before.procs} before)`);
        return { units: ready, unit: 'CPU ms per session opened', scale: 1000 };
      } finally {
        await held.release();
      }
    });
    res.notes.idle_procs = `${res.notes.idle_procs ?? ''}server at start: ${base.procs} processes, ${(base.kib / 1024).toFixed(1)} MiB PSS`;
  } finally {
    await srv.stop();
    noteWarnings(res, srv.logFile);
  }

  if (want(ctx, 'ftps_retr')) {
    if (!hasFtps(server)) {
      log(`  ${server.padEnd(6)} ${'ftps_retr'.padEnd(22)}   skipped (tsftpd has no FTPS yet)`);
    } else {
      await ftpsSlot(ctx, server, round, res);
    }
  }
  return res;
}

/** FTPS download with curl (AUTH TLS, PROT P), on a server started with TLS settings. */
async function ftpsSlot(ctx: Context, server: ServerName, round: number, res: RoundResult): Promise<void> {
  if (ctx.cert === null) return;
  const secure = makeEmptyDir(path.join(ctx.dir, `empty-${server}-${round}-tls`));
  const tls: Options = {
    ssl_enable: true,
    rsa_cert_file: ctx.cert.cert,
    rsa_private_key_file: ctx.cert.key,
    force_local_logins_ssl: true,
    force_local_data_ssl: true,
  };
  const srv = await startServer({
    name: server,
    options: { ...ctx.common, ...tls },
    extra: server === 'vsftpd' ? { seccomp_sandbox: false } : {},
    secureChrootDir: secure,
    dir: ctx.dir,
    repoRoot: ctx.tsftpdRoot,
    label: `${server}-${round}-tls`,
  });
  try {
    await settle(srv.pid);
    const cpu0 = treeCpuSeconds(srv.pid);
    const url = `ftp://${ctx.user}:${ctx.pass}@${HOST}:${srv.port}/ftps.bin`;
    const j = await runJson(
      'curl',
      [
        '-sS',
        '-k',
        '--ssl-reqd',
        '-o',
        '/dev/null',
        '-w',
        '{"bytes":%{size_download},"pre":%{time_pretransfer},"total":%{time_total}}\\n',
        url,
      ],
      300_000,
      'curl ftps',
    );
    if (num(j, 'bytes') !== ctx.p.ftpsBytes) throw new Error(`ftps got ${num(j, 'bytes')} bytes`);
    const v = mbps(num(j, 'bytes'), num(j, 'total') - num(j, 'pre'));
    res.values.ftps_retr = v;
    const cpu = treeCpuSeconds(srv.pid) - cpu0;
    res.cpu.ftps_retr = { seconds: cpu, perUnit: cpu / (ctx.p.ftpsBytes / (1024 * MiB)), unit: 'CPU s per GiB' };
    log(`  ${server.padEnd(6)} ${'ftps_retr'.padEnd(22)} ${fmt(v).padStart(9)}  MB/s (curl, TLS, PROT P)`);
  } catch (e: unknown) {
    const msg = e instanceof Error ? e.message : String(e);
    res.values.ftps_retr = null;
    res.errors.ftps_retr = msg;
    log(`  ${server}: ftps_retr FAILED: ${msg.split('\n')[0] ?? ''}`);
  } finally {
    await srv.stop();
    noteWarnings(res, srv.logFile);
  }
}

function noteWarnings(res: RoundResult, logFile: string): void {
  const w = logWarnings(logFile);
  if (w.length === 0) return;
  res.warnings.push(...w);
  log(`  ${res.server.padEnd(6)} WARNING: ${w.length} line(s) in ${path.basename(logFile)} worth a look, first: ${(w[0] ?? '').slice(0, 200)}`);
}

/** The C client's data path alone against a raw in-memory socket source / sink. */
async function baseline(client: string, bytes: number): Promise<{ retr: number; stor: number }> {
  const retr: number[] = [];
  const stor: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await runJson(client, ['rawretr', String(bytes)], 120_000, 'rawretr');
    retr.push(mbps(num(r, 'bytes'), num(r, 'seconds')));
    const s = await runJson(client, ['rawstor', String(bytes)], 120_000, 'rawstor');
    stor.push(mbps(num(s, 'bytes'), num(s, 'seconds')));
  }
  return { retr: median(retr) ?? NaN, stor: median(stor) ?? NaN };
}

function docSection(opts: {
  m: Machine;
  command: string;
  table: string;
  cpu: string;
  base: { retr: number; stor: number };
  p: Params;
  rounds: number;
  quick: boolean;
  minutes: number;
  resultsDir: string;
}): string {
  const { m, p } = opts;
  const size = (b: number): string => (b >= 1024 * MiB ? `${b / (1024 * MiB)} GiB` : `${b / MiB} MiB`);
  return [
    `Run: \`${opts.command}\` — ${opts.rounds} rounds${opts.quick ? ' (**--quick**: reduced sizes)' : ''}, ` +
      `${opts.minutes.toFixed(1)} min, results in \`${opts.resultsDir}\`.`,
    '',
    `- machine: ${m.nproc} CPUs (${m.cpu}), ${m.memoryGiB} GiB RAM`,
    `- versions: node ${m.node}, vsftpd ${m.vsftpd}, tsftpd ${m.tsftpd}, kernel ${m.kernel}`,
    `- clients: ftpbench (bench/client/ftpbench.c, ${m.cc}); FTPS: ${m.curl}`,
    `- load average (/proc/loadavg) before the run: \`${m.loadavgStart}\`; after: \`${m.loadavgEnd ?? '?'}\``,
    `- sizes: retr/stor ${size(p.bigBytes)}, parallel ${p.parSessions} × ${size(p.parBytes)}, ` +
      `${p.logins} sequential logins, ${p.rateConc} concurrent login loops for ${p.rateSeconds} s, ` +
      `${p.idleSessions} idle sessions, ${p.smallFiles} × ${p.smallSize} B uploads, LIST of ${p.listEntries} entries, ` +
      `FTPS ${size(p.ftpsBytes)}`,
    `- client alone (raw loopback socket, in-memory peer): receive ${fmt(opts.base.retr)} MB/s, ` +
      `send ${fmt(opts.base.stor)} MB/s`,
    '',
    opts.table,
    '',
    'MB = 10^6 bytes. idle_pss_per_session = (server PSS with the idle sessions − PSS just before) / sessions; ' +
      'PSS is the sum of /proc/PID/smaps_rollup Pss over the master and all its descendants.',
    '',
    'Server CPU during each step (user + system time of the whole process tree, reaped sessions included):',
    '',
    opts.cpu,
  ].join('\n');
}

async function main(): Promise<void> {
  // `... | head` must not turn into an unhandled EPIPE
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  const args = parseArgs(process.argv.slice(2));
  if (args.render !== null) {
    render(args.render, args.updateDocs);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('the benchmark must run as root (it starts both daemons and creates a PAM user)');
  const root = repoRoot();
  if (!fs.existsSync(path.join(root, 'dist', 'src', 'master', 'main.js'))) throw new Error('dist/ is missing: npm run build');
  const haveVsftpd = fs.existsSync(VSFTPD_BIN);
  const p = args.quick ? QUICK : FULL;
  const started = Date.now();
  const m = machine(root);
  const extra = process.argv.slice(2).join(' ');
  const command =
    process.env.npm_lifecycle_event === 'bench'
      ? `npm run bench${extra ? ` -- ${extra}` : ''}`
      : `node dist/bench/run.js${extra ? ` ${extra}` : ''}`;
  log(`tsftpd benchmark: ${command}`);
  log(`machine: ${m.nproc} CPUs (${m.cpu}), ${m.memoryGiB} GiB; node ${m.node}, vsftpd ${m.vsftpd}, kernel ${m.kernel}`);
  log(`load average: ${m.loadavgStart}`);
  if (!haveVsftpd) log(`${VSFTPD_BIN} not found: measuring tsftpd alone, no ratios`);

  installExitHandlers();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsftpd-bench-'));
  registerDir(dir);
  fs.chmodSync(dir, 0o755);

  const client = buildClient(root, dir);
  const tsftpdRoot = snapshotTsftpd(root, path.join(dir, 'tsftpd'));

  // The run's user: a real local account with a password, authenticated through PAM.
  const pam = installPamService();
  registerPam();
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { mode: 0o755 });
  const u = users.create({ home });
  fs.chownSync(home, u.uid, u.gid);
  fs.chmodSync(home, 0o755);

  log('preparing files ...');
  makeFile(path.join(home, 'big.bin'), p.bigBytes);
  makeFile(path.join(home, 'par.bin'), p.parBytes);
  if (p.ftpsBytes === p.bigBytes) fs.linkSync(path.join(home, 'big.bin'), path.join(home, 'ftps.bin'));
  else makeFile(path.join(home, 'ftps.bin'), p.ftpsBytes);
  const listDir = path.join(home, 'list10k');
  fs.mkdirSync(listDir, { mode: 0o755 });
  for (let i = 0; i < p.listEntries; i++) fs.writeFileSync(path.join(listDir, `entry-${String(i).padStart(5, '0')}.dat`), '');

  let cert: Context['cert'] = null;
  if (wanted(args, 'ftps_retr')) {
    const c = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
    sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-keyout', c.key, '-out', c.cert]);
    fs.chmodSync(c.key, 0o600);
    cert = c;
  }

  // The same vsftpd.conf settings for both daemons (listen_port, secure_chroot_dir added per start).
  const common: Options = {
    listen: true,
    listen_address: HOST,
    background: false,
    anonymous_enable: false,
    local_enable: true,
    write_enable: true,
    local_umask: '022',
    chroot_local_user: true,
    allow_writeable_chroot: true,
    pasv_enable: true,
    pasv_min_port: 30000,
    pasv_max_port: 31999,
    pam_service_name: pam,
    max_clients: 0,
    max_per_ip: 0,
    idle_session_timeout: 600,
    xferlog_enable: false,
  };
  const ctx: Context = { args, p, root, tsftpdRoot, dir, home, client, user: u.name, pass: u.password, uid: u.uid, gid: u.gid, common, cert };

  log('client alone (raw socket source/sink) ...');
  const base = await baseline(client, p.bigBytes);
  log(`  client alone: receive ${fmt(base.retr)} MB/s, send ${fmt(base.stor)} MB/s`);

  const servers: ServerName[] = haveVsftpd ? ['tsftpd', 'vsftpd'] : ['tsftpd'];
  const rounds: RoundResult[] = [];
  for (let r = 1; r <= args.rounds; r++) {
    for (const s of servers) {
      log(`round ${r}/${args.rounds}: ${s}  (${((Date.now() - started) / 60_000).toFixed(1)} min so far)`);
      rounds.push(await runSlot(ctx, s, r));
    }
  }
  m.loadavgEnd = fs.readFileSync('/proc/loadavg', 'utf8').trim();
  const minutes = (Date.now() - started) / 60_000;

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = path.join(root, 'results', stamp);
  fs.mkdirSync(resultsDir, { recursive: true });
  const saved: SavedRun = {
    command,
    quick: args.quick,
    rounds: args.rounds,
    only: args.only === null ? null : [...args.only],
    minutes,
    params: p,
    machine: m,
    clientAlone: base,
    perRound: rounds,
  };
  fs.writeFileSync(path.join(resultsDir, 'results.json'), `${JSON.stringify(saved, null, 2)}\n`);
  // The servers' own output (warnings, errors), for the record.
  const logs = path.join(resultsDir, 'logs');
  fs.mkdirSync(logs);
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.log')) fs.copyFileSync(path.join(dir, f), path.join(logs, f));
  writeReport(root, resultsDir, saved, args.updateDocs);
}

/** What results.json holds: everything the tables are made from. */
interface SavedRun {
  command: string;
  quick: boolean;
  rounds: number;
  only: MetricKey[] | null;
  minutes: number;
  params: Params;
  machine: Machine;
  clientAlone: { retr: number; stor: number };
  perRound: RoundResult[];
}

/** results.md next to results.json, the summary on stdout, and the docs section if asked. */
function writeReport(root: string, resultsDir: string, run: SavedRun, updateDocs: boolean): void {
  const only = run.only === null ? null : new Set(run.only);
  const skipped: Parameters<typeof summarize>[1] = {};
  if (!hasFtps('tsftpd')) skipped.ftps_retr = { tsftpd: 'skipped (tsftpd has no FTPS yet)' };
  const rows = summarize(run.perRound, skipped).filter((row) => only === null || only.has(row.metric));
  const rel = path.relative(root, resultsDir);
  const section = docSection({
    m: run.machine,
    command: run.command,
    table: markdownTable(rows),
    cpu: cpuTable(run.perRound),
    base: run.clientAlone,
    p: run.params,
    rounds: run.rounds,
    quick: run.quick,
    minutes: run.minutes,
    resultsDir: rel,
  });
  const notes: string[] = [];
  for (const r of run.perRound) {
    for (const [k, v] of Object.entries(r.notes)) notes.push(`- r${r.round} ${r.server} ${k}: ${v}`);
    for (const [k, v] of Object.entries(r.errors)) notes.push(`- r${r.round} ${r.server} ${k}: **error**: ${v.split('\n')[0] ?? ''}`);
    for (const w of r.warnings.slice(0, 5)) notes.push(`- r${r.round} ${r.server} server output: \`${w.slice(0, 300)}\``);
  }
  fs.writeFileSync(
    path.join(resultsDir, 'results.md'),
    `# tsftpd vs vsftpd — ${path.basename(resultsDir)}\n\n${section}\n\n## Per round\n\n${perRoundTable(run.perRound)}\n\n## Notes\n\n${notes.join('\n')}\n`,
  );

  log('');
  log(section);
  log('');
  log(`written: ${rel}/results.json, ${rel}/results.md`);

  if (updateDocs) {
    const doc = path.join(root, 'docs', 'PERFORMANCE.md');
    const begin = '<!-- bench:begin -->';
    const end = '<!-- bench:end -->';
    const text = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : `# Performance\n\n${begin}\n${end}\n`;
    const i = text.indexOf(begin);
    const j = text.indexOf(end);
    if (i < 0 || j < i) throw new Error(`${doc} has no ${begin} … ${end} section`);
    fs.writeFileSync(doc, `${text.slice(0, i + begin.length)}\n${section}\n${text.slice(j)}`);
    log(`updated docs/PERFORMANCE.md`);
  }
}

/** --render DIR: the tables again from DIR/results.json (after a change to the report format). */
function render(dir: string, updateDocs: boolean): void {
  const root = repoRoot();
  const resultsDir = path.resolve(dir);
  const run = JSON.parse(fs.readFileSync(path.join(resultsDir, 'results.json'), 'utf8')) as SavedRun;
  writeReport(root, resultsDir, run, updateDocs);
}

main().then(
  () => {
    cleanupSync();
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    cleanupSync();
    process.exit(1);
  },
);
