/* The version, read once from package.json (before any jail). */
import * as fs from 'node:fs';
import * as path from 'node:path';

function findPackageJson(start: string): string {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('package.json not found');
}

export const PROJECT_ROOT = path.dirname(findPackageJson(__dirname));

function readVersion(): string {
  const parsed: unknown = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') {
    return parsed.version;
  }
  return '0.0.0';
}

export const VERSION = readVersion();
