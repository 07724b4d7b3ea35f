// Types for the parts of the `posix` package tsftpd uses (it ships none).
declare module 'posix' {
  export interface RLimit {
    soft: number | null;
    hard: number | null;
  }
  export interface Passwd {
    name: string;
    passwd: string;
    uid: number;
    gid: number;
    gecos: string;
    shell: string;
    dir: string;
  }
  export function chroot(path: string): void;
  export function setrlimit(resource: 'nproc' | 'nofile' | 'core' | 'as' | 'fsize', limit: RLimit): void;
  export function getrlimit(resource: 'nproc' | 'nofile' | 'core' | 'as' | 'fsize'): RLimit;
  export function getpwnam(user: string | number): Passwd;
  export function setsid(): number;
  export function initgroups(user: string, group: number): void;
}
declare module 'posix' {
  export function openlog(ident: string, options: { pid?: boolean; ndelay?: boolean; cons?: boolean; odelay?: boolean; nowait?: boolean }, facility: string): void;
  export function syslog(priority: 'emerg' | 'alert' | 'crit' | 'err' | 'warning' | 'notice' | 'info' | 'debug', message: string): void;
  export function closelog(): void;
}
