import { describe, expect, it } from 'vitest';
import { ReleaseSpec } from '../core/index.js';
import { parseMatchFlag, parseWeights, releaseFromFlags } from './release-from-flags.js';

describe('releaseFromFlags', () => {
  it('builds the weights form, with the candidate workload inheriting all but --env', () => {
    const body = releaseFromFlags('reviews-canary', {
      service: 'reviews',
      baseline: 'v1',
      candidate: 'v2',
      weights: 'v1=50,v2=50',
      env: ['SERVICE_VERSION=v2'],
    });
    expect(body).toEqual({
      name: 'reviews-canary',
      service: 'reviews',
      strategy: 'canary',
      baseline: 'v1',
      candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
      traffic: { weights: { v1: 50, v2: 50 } },
    });
    expect(ReleaseSpec.safeParse(body).success).toBe(true);
  });

  it('builds the match form: every condition in one block, the rest to the baseline', () => {
    const body = releaseFromFlags('r', {
      service: 'reviews',
      baseline: 'v1',
      candidate: 'v2',
      header: ['end-user=jason', 'x-tier^=gold'],
      cookie: ['user~=ja.*'],
      uriPrefix: '/api',
      command: ['node server.js --v2'],
    });
    expect(body.traffic).toEqual({
      match: [
        {
          headers: { 'end-user': { exact: 'jason' }, 'x-tier': { prefix: 'gold' } },
          cookie: { user: { regex: 'ja.*' } },
          uri: { prefix: '/api' },
        },
      ],
      weights: { v1: 100 },
    });
    expect(body.candidate.workload).toEqual({ command: 'node', args: ['server.js', '--v2'] });
    expect(ReleaseSpec.safeParse(body).success).toBe(true);
  });

  it('says which flags are missing or malformed', () => {
    expect(() => releaseFromFlags(undefined, { candidate: 'v2' })).toThrow(
      'release create: missing NAME (the first argument), --service; give them as flags, or the whole release with -f FILE (see --help)',
    );
    expect(() => releaseFromFlags('r', { service: 's', candidate: 'v2' })).toThrow(/say how traffic moves: --weights/);
    expect(() => releaseFromFlags('r', { service: 's', candidate: 'v2', cookie: ['user=jason'] })).toThrow(/give --baseline/);
    expect(() => releaseFromFlags('r', { service: 's', candidate: 'v2', weights: 'v2=100', uriPrefix: '/a', uriExact: '/b' })).toThrow(
      'give one of --uri-exact, --uri-prefix and --uri-regex',
    );
    expect(() => parseWeights('v1=50,v1=50')).toThrow('weights: version "v1" is named twice');
    expect(() => parseWeights('v1=fifty')).toThrow('weights: "v1=fifty" is not VERSION=WEIGHT; write e.g. v1=80,v2=20');
    expect(() => parseMatchFlag('jason', 'cookie')).toThrow(
      '--cookie: "jason" is not NAME=VALUE (exact), NAME^=VALUE (prefix) or NAME~=REGEX; write e.g. --cookie user=jason',
    );
  });

  it('keeps = signs inside a value', () => {
    expect(parseMatchFlag('token=a=b', 'header')).toEqual(['token', { exact: 'a=b' }]);
  });
});

describe('releaseFromFlags --strategy', () => {
  const base = { service: 'reviews', candidate: 'v2', env: ['SERVICE_VERSION=v2'] };

  it('builds a blue-green release without traffic, and refuses a split', () => {
    const body = releaseFromFlags('reviews-bg', { ...base, strategy: 'blueGreen' });
    expect(body).toEqual({
      name: 'reviews-bg',
      service: 'reviews',
      strategy: 'blueGreen',
      candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
    });
    expect(ReleaseSpec.safeParse(body).success).toBe(true);
    expect(() => releaseFromFlags('r', { ...base, strategy: 'blueGreen', weights: 'v1=90,v2=10' })).toThrow(
      /--strategy blueGreen sends no ordinary traffic to the candidate until `canary release takeover`/,
    );
  });

  it('builds a mirror release with --mirror-percent (default 100), and refuses what it cannot mean', () => {
    expect(releaseFromFlags('r', { ...base, strategy: 'mirror', mirrorPercent: '20' }).traffic).toEqual({ mirror: { percent: 20 } });
    expect(releaseFromFlags('r', { ...base, strategy: 'mirror' }).traffic).toEqual({ mirror: { percent: 100 } });
    expect(() => releaseFromFlags('r', { ...base, strategy: 'mirror', mirrorPercent: '0' })).toThrow(
      '--mirror-percent: must be a number more than 0 and at most 100, got "0"',
    );
    expect(() => releaseFromFlags('r', { ...base, strategy: 'mirror', mirrorPercent: 'lots' })).toThrow(/got "lots"/);
    expect(() => releaseFromFlags('r', { ...base, strategy: 'mirror', header: ['end-user=jason'] })).toThrow(
      /answers every request from the baseline/,
    );
    expect(() => releaseFromFlags('r', { ...base, weights: 'v1=50,v2=50', mirrorPercent: '20' })).toThrow(
      '--mirror-percent: only with --strategy mirror',
    );
  });

  it('names the strategies when given another, and passes --preview-header on', () => {
    expect(() => releaseFromFlags('r', { ...base, strategy: 'bluegreen' })).toThrow(
      '--strategy: must be canary, blueGreen or mirror, got "bluegreen"',
    );
    expect(releaseFromFlags('r', { ...base, strategy: 'blueGreen', previewHeader: 'x-try' }).preview).toEqual({ header: 'x-try' });
  });
});
