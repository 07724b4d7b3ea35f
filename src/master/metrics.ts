/*
 * Counters master keeps, and (metrics_enable=YES) a Prometheus text
 * endpoint on metrics_address:metrics_port — loopback by default, off by
 * default. Read-only, no parameters, one fixed path: /metrics.
 */

import * as http from 'node:http';

type Labels = Readonly<Record<string, string>>;

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' = 'counter',
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  set(value: number, labels: Labels = {}): void {
    this.values.set(labelText(labels), value);
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
    if (this.values.size === 0 && this.type === 'counter') out += `${this.name} 0\n`;
    for (const [k, v] of this.values) out += `${this.name}${k} ${v}\n`;
    return out;
  }
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, '_')}"`).join(',')}}`;
}

export class Metrics {
  readonly sessions = new Counter('tsftpd_sessions', 'Sessions currently open', 'gauge');
  readonly connections = new Counter('tsftpd_connections_total', 'Connections accepted');
  readonly refused = new Counter('tsftpd_connections_refused_total', 'Connections refused at accept, by cause');
  readonly logins = new Counter('tsftpd_logins_total', 'Login attempts, by result and kind');
  readonly transfers = new Counter('tsftpd_transfers_total', 'Transfers, by direction and result');
  readonly bytes = new Counter('tsftpd_bytes_total', 'Bytes transferred, by direction');
  readonly dataRefused = new Counter('tsftpd_data_connections_failed_total', 'Failed data connections, by cause');
  readonly poolReady = new Counter('tsftpd_pool_ready_workers', 'Pre-forked workers ready', 'gauge');
  readonly spawnSeconds = new Counter('tsftpd_worker_spawn_seconds_sum', 'Total seconds from fork to ready');
  readonly spawns = new Counter('tsftpd_worker_spawn_seconds_count', 'Workers that became ready');
  readonly privRestarts = new Counter('tsftpd_priv_restarts_total', 'Restarts of the priv helper', 'counter');

  render(): string {
    return [
      this.sessions,
      this.connections,
      this.refused,
      this.logins,
      this.transfers,
      this.bytes,
      this.dataRefused,
      this.poolReady,
      this.spawnSeconds,
      this.spawns,
      this.privRestarts,
    ]
      .map((c) => c.render())
      .join('');
  }
}

export function startMetricsServer(m: Metrics, host: string, port: number, before: () => void): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    before();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(m.render());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}
