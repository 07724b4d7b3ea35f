// Unit tests for src/master/ban.ts: the per-address failed-login ban list,
// driven by an injected clock (no real time passes).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_CONFIG, type Config } from '../src/config/options';
import { BanList } from '../src/master/ban';

/** A config with the ban options of a test. */
function cfg(over: Partial<Pick<Config, 'ban_enable' | 'ban_max_fails' | 'ban_window' | 'ban_time' | 'ban_max_time'>>): Config {
  return { ...DEFAULT_CONFIG, ...over };
}

/** A settable clock in milliseconds. */
class Clock {
  t = 1_000_000;
  readonly now = (): number => this.t;
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}

const A = '198.51.100.7';
const B = '198.51.100.8';

describe('BanList', () => {
  test('the defaults: ban_enable=YES, 10 failures in 600 s ban for 60 s, at most 86400 s', () => {
    assert.equal(DEFAULT_CONFIG.ban_enable, true);
    assert.equal(DEFAULT_CONFIG.ban_max_fails, 10);
    assert.equal(DEFAULT_CONFIG.ban_window, 600);
    assert.equal(DEFAULT_CONFIG.ban_time, 60);
    assert.equal(DEFAULT_CONFIG.ban_max_time, 86400);
  });

  test('ban_max_fails failures ban the address for ban_time; fewer do not', () => {
    const c = cfg({ ban_max_fails: 3, ban_time: 2 });
    const clock = new Clock();
    const bans = new BanList(clock.now);
    assert.equal(bans.bannedFor(c, A), 0, 'unknown address');
    assert.equal(bans.recordFailure(c, A), 0);
    assert.equal(bans.recordFailure(c, A), 0);
    assert.equal(bans.bannedFor(c, A), 0, 'two failures: no ban yet');
    assert.equal(bans.recordFailure(c, A), 2, 'the third failure starts a 2 s ban');
    assert.equal(bans.bannedFor(c, A), 2);
    clock.advance(1.5);
    assert.equal(bans.bannedFor(c, A), 1, 'seconds left round up');
    clock.advance(0.5);
    assert.equal(bans.bannedFor(c, A), 0, 'the ban ends after exactly ban_time');
  });

  test('addresses are counted separately', () => {
    const c = cfg({ ban_max_fails: 2, ban_time: 10 });
    const bans = new BanList(new Clock().now);
    bans.recordFailure(c, A);
    bans.recordFailure(c, B);
    assert.equal(bans.bannedFor(c, A), 0);
    assert.equal(bans.bannedFor(c, B), 0);
    assert.equal(bans.recordFailure(c, A), 10);
    assert.equal(bans.bannedFor(c, A), 10);
    assert.equal(bans.bannedFor(c, B), 0, 'B is not banned by A');
  });

  test('only failures inside ban_window count', () => {
    const c = cfg({ ban_max_fails: 3, ban_window: 10, ban_time: 5 });
    const clock = new Clock();
    const bans = new BanList(clock.now);
    bans.recordFailure(c, A); // t=0
    clock.advance(6);
    bans.recordFailure(c, A); // t=6
    clock.advance(5);
    // t=11: the first failure (t=0) left the window (11-10=1 > 0).
    assert.equal(bans.recordFailure(c, A), 0, 'the failure at t=0 is outside the 10 s window');
    clock.advance(1);
    assert.equal(bans.recordFailure(c, A), 5, 't=6, t=11, t=12 are inside the window');
  });

  test('each repeat offence doubles the ban, up to ban_max_time', () => {
    const c = cfg({ ban_max_fails: 2, ban_time: 2, ban_max_time: 10 });
    const clock = new Clock();
    const bans = new BanList(clock.now);
    const offend = (): number => {
      bans.recordFailure(c, A);
      return bans.recordFailure(c, A);
    };
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = offend();
      seen.push(s);
      assert.equal(bans.bannedFor(c, A), s);
      clock.advance(s);
      assert.equal(bans.bannedFor(c, A), 0, `ban ${i + 1} ended`);
    }
    assert.deepEqual(seen, [2, 4, 8, 10, 10]);
  });

  test('the failure count restarts after a ban: ban_max_fails new failures are needed', () => {
    const c = cfg({ ban_max_fails: 3, ban_time: 2 });
    const clock = new Clock();
    const bans = new BanList(clock.now);
    for (let i = 0; i < 3; i++) bans.recordFailure(c, A);
    clock.advance(3);
    assert.equal(bans.recordFailure(c, A), 0);
    assert.equal(bans.recordFailure(c, A), 0);
    assert.equal(bans.recordFailure(c, A), 4, 'second offence: doubled');
  });

  test('offences are forgotten a day after the last ban ended', () => {
    const c = cfg({ ban_max_fails: 1, ban_time: 3, ban_max_time: 1000 });
    const clock = new Clock();
    const bans = new BanList(clock.now);
    assert.equal(bans.recordFailure(c, A), 3);
    clock.advance(3 + 60);
    assert.equal(bans.recordFailure(c, A), 6, 'within a day: a repeat offence');
    clock.advance(6 + 24 * 3600 + 1);
    assert.equal(bans.recordFailure(c, A), 3, 'after a day: a first offence again');
  });

  test('ban_enable=NO never bans and never reports a ban', () => {
    const on = cfg({ ban_max_fails: 2, ban_time: 60 });
    const off = cfg({ ban_enable: false, ban_max_fails: 2, ban_time: 60 });
    const bans = new BanList(new Clock().now);
    for (let i = 0; i < 10; i++) assert.equal(bans.recordFailure(off, A), 0);
    assert.equal(bans.bannedFor(off, A), 0);
    assert.equal(bans.bannedFor(on, A), 0, 'failures recorded while disabled do not count later');
    // A ban made while enabled is not reported under a config that disables bans.
    bans.recordFailure(on, B);
    assert.equal(bans.recordFailure(on, B), 60);
    assert.equal(bans.bannedFor(off, B), 0);
    assert.equal(bans.bannedFor(on, B), 60);
  });

  test('ban_max_fails=0 never bans', () => {
    const c = cfg({ ban_max_fails: 0, ban_time: 60 });
    const bans = new BanList(new Clock().now);
    for (let i = 0; i < 50; i++) assert.equal(bans.recordFailure(c, A), 0);
    assert.equal(bans.bannedFor(c, A), 0);
  });

  test('ban_time above ban_max_time is capped at the first offence', () => {
    const c = cfg({ ban_max_fails: 1, ban_time: 100, ban_max_time: 30 });
    const bans = new BanList(new Clock().now);
    assert.equal(bans.recordFailure(c, A), 30);
  });

  test('doubling stays finite after many offences (no Infinity/NaN ban)', () => {
    const c = cfg({ ban_max_fails: 1, ban_time: 1, ban_max_time: 86400 });
    const clock = new Clock();
    const bans = new BanList(clock.now);
    let last = 0;
    for (let i = 0; i < 80; i++) {
      last = bans.recordFailure(c, A);
      assert.ok(Number.isFinite(last) && last >= 1 && last <= 86400, `offence ${i + 1}: ${last}`);
      clock.advance(last);
    }
    assert.equal(last, 86400);
  });
});
