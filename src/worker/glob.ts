/*
 * vsftpd's filename patterns (ls.c vsf_filename_passes_filter): the LIST /
 * NLST / STAT filter, and deny_file / hide_file.
 *
 *   *      any run of characters (also none)
 *   ?      exactly one character (one byte: names are compared as bytes)
 *   {a,b}  either alternative; not nested; the list ends at the first
 *          empty alternative ("{,a}" matches nothing, "{a,}" is "{a}")
 *   {      without a later '}': a literal '{'
 *
 * There is no escaping and no character class. Patterns apply to one path
 * component: callers split a directory part off first.
 *
 * The algorithm is vsftpd's, not fnmatch(3): it scans left to right and
 * never backtracks, except into brace alternatives. A literal run that must
 * start at the current position (at the start, after '?' or a brace) has to
 * be there; after a '*' it is looked for further on. Debian's vsftpd 3.0.3
 * (the reference) then takes the LAST of the non-overlapping occurrences of
 * that run, so "*.txt" matches "a.txt.txt" and "*a?" matches "ab" and "aab"
 * but not "aa". (Checked against /usr/sbin/vsftpd over ~6 million
 * pattern/name pairs; a sample is test/fixtures/ls/glob-vsftpd.json, used
 * by test/ls.test.ts.) What the pattern is matched against - the name, or
 * Debian's realpath() view of it for listings - is the caller's NameView.
 *
 * SECURITY (CVE-2011-0762): crafted patterns in LIST/STAT made vsftpd burn
 * CPU (brace alternatives multiply: "{*,*}{*,*}{*,*}...x" is exponential).
 * As vsftpd since 2.3.3, every step of the matcher - and every brace
 * alternative tried starts with one - counts against MATCH_ITERATIONS_MAX
 * per name; when the steps run out the name does not match. That bounds a
 * name (1000 steps, each linear in the pattern - one 4096-byte command
 * line at most - and the name) but not a listing: Debian's vsftpd needs
 * 3.5 minutes of CPU to filter 100,000 names with "{*,*}" x 20 + "x".
 * So a listing also gets a ListingBudget: MATCH_ITERATIONS_MAX steps for
 * each of its first 1024 names and 100 more per name after that; once it
 * is spent no further name matches. Ordinary patterns take a few steps a
 * name and never reach it; the crafted one above costs 100,000 names one
 * to three seconds. A deviation from vsftpd only for such patterns.
 */

/** vsftpd's VSFTP_MATCHITERS_MAX. */
export const MATCH_ITERATIONS_MAX = 1000;
/** Names of a listing that may each use MATCH_ITERATIONS_MAX steps... */
const LISTING_FULL_NAMES = 1024;
/** ...and the steps every further name adds to the listing's budget. */
const LISTING_STEPS_PER_NAME = 100;

/** The steps one listing may still spend on its filter. */
export class ListingBudget {
  remaining: number;

  constructor(names: number) {
    this.remaining =
      MATCH_ITERATIONS_MAX * Math.min(names, LISTING_FULL_NAMES) +
      LISTING_STEPS_PER_NAME * Math.max(0, names - LISTING_FULL_NAMES);
  }
}

const STAR = 0x2a; // *
const QMARK = 0x3f; // ?
const LBRACE = 0x7b; // {
const RBRACE = '}';
const COMMA = ',';

/**
 * What the pattern is matched against, given the (remaining) name and the
 * pattern about to be applied. Called once per match and once per brace
 * alternative tried, i.e. at most MATCH_ITERATIONS_MAX + 1 times per name.
 * globMatch uses the name as it is; the listing uses Debian vsftpd's view
 * (ls.ts: the last component of the name's real path).
 */
export type NameView = (name: string, pattern: string) => string;

const asIs: NameView = (name) => name;

interface Budget {
  steps: number;
}

function isToken(c: number): boolean {
  return c === STAR || c === QMARK || c === LBRACE;
}

/**
 * The start of the last of the non-overlapping occurrences of `needle` in
 * `hay` at or after `from`, or -1.
 */
function lastOccurrence(hay: string, needle: string, from: number): number {
  let at = hay.indexOf(needle, from);
  if (at < 0) return -1;
  for (let next = hay.indexOf(needle, at + needle.length); next >= 0; next = hay.indexOf(needle, next + needle.length)) {
    at = next;
  }
  return at;
}

function passes(name: string, pattern: string, view: NameView, budget: Budget): boolean {
  if (budget.steps >= MATCH_ITERATIONS_MAX) return false;
  const nm = view(name, pattern);
  let pi = 0; // next unread pattern character
  let ni = 0; // next unmatched name character
  let last = 0; // the token that ended the previous literal run (0: none)
  let anchored = true; // the next literal run must start at ni
  while (pi < pattern.length) {
    if (budget.steps >= MATCH_ITERATIONS_MAX) return false;
    budget.steps++;
    let t = pi;
    while (t < pattern.length && !isToken(pattern.charCodeAt(t))) t++;
    const runStart = pi;
    const runEnd = t;
    if (t < pattern.length) {
      last = pattern.charCodeAt(t);
      pi = t + 1;
    } else {
      last = 0;
      pi = pattern.length;
    }
    if (runEnd > runStart) {
      const run = pattern.slice(runStart, runEnd);
      const at = anchored ? nm.indexOf(run, ni) : lastOccurrence(nm, run, ni);
      if (at < 0 || (anchored && at !== ni)) return false;
      ni = at + run.length;
    }
    if (last === QMARK) {
      if (ni >= nm.length) return false;
      ni++;
      anchored = true;
    } else if (last === LBRACE) {
      anchored = true;
      const close = pattern.indexOf(RBRACE, pi);
      if (close >= 0) {
        const rest = pattern.slice(close + 1);
        const remaining = nm.slice(ni);
        let a = pi;
        while (a < close) {
          const comma = pattern.indexOf(COMMA, a);
          const altEnd = comma >= 0 && comma < close ? comma : close;
          // vsftpd stops at the first empty alternative.
          if (altEnd === a) break;
          if (passes(remaining, pattern.slice(a, altEnd) + rest, view, budget)) return true;
          if (budget.steps >= MATCH_ITERATIONS_MAX) return false;
          a = altEnd + 1;
        }
        return false;
      }
      // No closing brace: the '{' is literal.
      if (ni >= nm.length || nm.charCodeAt(ni) !== LBRACE) return false;
      ni++;
    } else {
      anchored = false;
    }
  }
  if (ni < nm.length && last !== STAR) return false;
  // vsftpd: a match found with the last allowed step still counts as none.
  return budget.steps < MATCH_ITERATIONS_MAX;
}

/**
 * Does `name` match vsftpd's `pattern`? Both are compared character by
 * character (the listing passes byte strings: Buffer latin1 decoding).
 * Bounded: at most MATCH_ITERATIONS_MAX steps.
 */
export function globMatch(pattern: string, name: string): boolean {
  return passes(name, pattern, asIs, { steps: 0 });
}

/**
 * vsftpd's filter test with a custom view of the name (see NameView); the
 * same step budget applies, and the listing's when one is given.
 */
export function filterMatch(pattern: string, name: string, view: NameView, listing?: ListingBudget): boolean {
  if (listing === undefined) return passes(name, pattern, view, { steps: 0 });
  if (listing.remaining <= 0) return false;
  const budget = { steps: 0 };
  const matched = passes(name, pattern, view, budget);
  listing.remaining -= budget.steps;
  return matched;
}
