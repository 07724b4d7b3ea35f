// Metric definitions, statistics and the markdown/JSON report.
import type { ServerName } from './servers';

export type MetricKey =
  | 'retr_1g'
  | 'stor_1g'
  | 'login_latency_p50'
  | 'login_latency_p99'
  | 'login_rate'
  | 'idle_pss_total'
  | 'idle_pss_per_session'
  | 'idle_procs'
  | 'small_files'
  | 'list_10k'
  | 'parallel_retr'
  | 'ftps_retr';

export interface Target {
  /** 'ratio': on the median of per-round ratios tsftpd/vsftpd; 'tsftpd': on tsftpd's median. */
  on: 'ratio' | 'tsftpd';
  op: '>=' | '<=';
  value: number;
}

export interface MetricDef {
  key: MetricKey;
  unit: string;
  target?: Target;
}

export const METRICS: readonly MetricDef[] = [
  { key: 'retr_1g', unit: 'MB/s', target: { on: 'ratio', op: '>=', value: 1.0 } },
  { key: 'stor_1g', unit: 'MB/s', target: { on: 'ratio', op: '>=', value: 1.0 } },
  { key: 'login_latency_p50', unit: 'ms', target: { on: 'ratio', op: '<=', value: 1.1 } },
  { key: 'login_latency_p99', unit: 'ms' },
  { key: 'login_rate', unit: 'logins/s', target: { on: 'ratio', op: '>=', value: 0.8 } },
  { key: 'idle_pss_total', unit: 'MiB' },
  { key: 'idle_pss_per_session', unit: 'MiB', target: { on: 'tsftpd', op: '<=', value: 10 } },
  { key: 'idle_procs', unit: 'processes' },
  { key: 'small_files', unit: 'files/s', target: { on: 'ratio', op: '>=', value: 1.0 } },
  { key: 'list_10k', unit: 'ms', target: { on: 'ratio', op: '<=', value: 1.0 } },
  { key: 'parallel_retr', unit: 'MB/s', target: { on: 'ratio', op: '>=', value: 1.0 } },
  { key: 'ftps_retr', unit: 'MB/s', target: { on: 'ratio', op: '>=', value: 1.0 } },
];

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1] as number;
}

/** One server's values in one round; a metric is absent when skipped, null when it failed. */
export type Values = Partial<Record<MetricKey, number | null>>;

export interface RoundResult {
  round: number;
  server: ServerName;
  values: Values;
  /** Extra facts per metric (failed logins, bytes, ...). */
  notes: Partial<Record<MetricKey, string>>;
  errors: Partial<Record<MetricKey, string>>;
  /** Lines of the server's output worth a look (see logWarnings). */
  warnings: string[];
  /** Server CPU (whole process tree) during the step that produced the metric. */
  cpu: Partial<Record<MetricKey, { seconds: number; perUnit: number; unit: string }>>;
}

export interface SummaryRow {
  metric: MetricKey;
  unit: string;
  tsftpd: number | null;
  vsftpd: number | null;
  /** Median of the per-round ratios tsftpd/vsftpd. */
  ratio: number | null;
  ratios: number[];
  target: string;
  /** true met, false missed, null no target or no data. */
  met: boolean | null;
  /** Text instead of a tsftpd value (e.g. a skipped metric). */
  tsftpdNote?: string;
}

export function summarize(
  rounds: readonly RoundResult[],
  skipped: Partial<Record<MetricKey, Partial<Record<ServerName, string>>>>,
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const m of METRICS) {
    const of = (server: ServerName): number[] =>
      rounds
        .filter((r) => r.server === server)
        .map((r) => r.values[m.key])
        .filter((v): v is number => typeof v === 'number');
    const ratios: number[] = [];
    const roundNos = [...new Set(rounds.map((r) => r.round))];
    for (const n of roundNos) {
      const t = rounds.find((r) => r.round === n && r.server === 'tsftpd')?.values[m.key];
      const v = rounds.find((r) => r.round === n && r.server === 'vsftpd')?.values[m.key];
      if (typeof t === 'number' && typeof v === 'number' && v !== 0) ratios.push(t / v);
    }
    const ts = median(of('tsftpd'));
    const vs = median(of('vsftpd'));
    const ratio = median(ratios);
    let met: boolean | null = null;
    let target = '';
    if (m.target) {
      const subject = m.target.on === 'ratio' ? ratio : ts;
      target = `${m.target.on === 'ratio' ? 'ratio' : 'tsftpd'} ${m.target.op} ${m.target.value}`;
      if (subject !== null) met = m.target.op === '>=' ? subject >= m.target.value : subject <= m.target.value;
    }
    const row: SummaryRow = { metric: m.key, unit: m.unit, tsftpd: ts, vsftpd: vs, ratio, ratios, target, met };
    const note = skipped[m.key]?.tsftpd;
    if (note !== undefined) row.tsftpdNote = note;
    rows.push(row);
  }
  return rows;
}

export function fmt(v: number | null, digits?: number): string {
  if (v === null) return '—';
  const a = Math.abs(v);
  const d = digits ?? (a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
  return v.toFixed(d);
}

export function markdownTable(rows: readonly SummaryRow[]): string {
  const lines = [
    '| metric | unit | tsftpd (median) | vsftpd (median) | tsftpd/vsftpd (median of per-round ratios) | per-round ratios (min–max) | target | status |',
    '|---|---|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const status = r.met === null ? '' : r.met ? 'met' : '**missed**';
    const ts = r.tsftpdNote ?? fmt(r.tsftpd);
    const range =
      r.ratios.length > 1 ? `${Math.min(...r.ratios).toFixed(2)}–${Math.max(...r.ratios).toFixed(2)}` : '';
    lines.push(
      `| ${r.metric} | ${r.unit} | ${ts} | ${fmt(r.vsftpd)} | ${r.ratio === null ? '—' : r.ratio.toFixed(2)} | ${range} | ${r.target} | ${status} |`,
    );
  }
  return lines.join('\n');
}

/** A step's name where its CPU is filed under its first metric. */
const STEP_NAMES: Partial<Record<MetricKey, string>> = {
  login_latency_p50: 'login_latency',
  idle_pss_total: 'idle_sessions',
};

/** Median server CPU per unit of work, per step: where the time goes. */
export function cpuTable(rounds: readonly RoundResult[]): string {
  const lines = [
    '| step | server CPU per unit of work | tsftpd (median) | vsftpd (median) | tsftpd/vsftpd |',
    '|---|---|---:|---:|---:|',
  ];
  for (const m of METRICS) {
    const samples = (server: ServerName): number[] =>
      rounds.filter((r) => r.server === server).flatMap((r) => {
        const c = r.cpu[m.key];
        return c ? [c.perUnit] : [];
      });
    const unit = rounds.map((r) => r.cpu[m.key]?.unit).find((u) => u !== undefined);
    if (unit === undefined) continue;
    const ts = median(samples('tsftpd'));
    const vs = median(samples('vsftpd'));
    const ratio = ts !== null && vs !== null && vs > 0 ? (ts / vs).toFixed(1) : '—';
    lines.push(`| ${STEP_NAMES[m.key] ?? m.key} | ${unit} | ${fmt(ts)} | ${fmt(vs)} | ${ratio} |`);
  }
  return lines.join('\n');
}

/** Every round's values, one column per (round, server). */
export function perRoundTable(rounds: readonly RoundResult[]): string {
  const head = rounds.map((r) => `r${r.round} ${r.server}`);
  const lines = [`| metric | ${head.join(' | ')} |`, `|---|${head.map(() => '---:').join('|')}|`];
  for (const m of METRICS) {
    if (!rounds.some((r) => m.key in r.values)) continue;
    lines.push(`| ${m.key} | ${rounds.map((r) => (m.key in r.values ? fmt(r.values[m.key] ?? null) : '')).join(' | ')} |`);
  }
  return lines.join('\n');
}
