/*
 * vsftpd's list files (userlist_file, chroot_list_file, banned_email_file,
 * email_password_file): one entry a line, matched exactly. Read by priv as
 * root at each use, so edits apply to the next login. A missing or
 * unreadable file lists nobody.
 */

import * as fs from 'node:fs';

const LIST_FILE_MAX = 1024 * 1024;

export function fileListsLine(file: string, entry: string): boolean {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > LIST_FILE_MAX) return false;
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => line.replace(/\r$/, '') === entry);
}
