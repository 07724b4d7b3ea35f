// Types for the parts of the `userid` package tsftpd uses (it ships none).
declare module 'userid' {
  export function ids(user: string): { uid: number; gid: number };
  export function gids(user: string): number[];
  export function username(uid: number): string;
  export function groupname(gid: number): string;
  export function uid(user: string): number;
  export function gid(group: string): number;
}
