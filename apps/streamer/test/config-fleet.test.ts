import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parseCli } from '../src/cli/args.js';
import { type Config, parseConfig, parseTomlConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';

const BASE = `destination: { url: "postgres://dw@h/w" }
databases: [{ database: d, urls: [{ url: "postgres://u@h/d", sid: 1 }], tables: { t: } }]
`;

function fleetOf(fleet: string | undefined, env: NodeJS.ProcessEnv = {}, argv: string[] = []) {
  const text = fleet === undefined ? BASE : `${BASE}fleet: ${fleet}\n`;
  return parseConfig(text, 'c.yaml', { env, flags: parseCli(['run', ...argv]).settings }).fleet;
}

function issuesOf(load: () => Config): string[] {
  try {
    load();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
}

const yamlIssues = (fleet: string, env: NodeJS.ProcessEnv = {}) =>
  issuesOf(() => parseConfig(`${BASE}fleet: ${fleet}\n`, 'c.yaml', { env }));

describe('the fleet section', () => {
  test('absent or disabled: no fleet', () => {
    expect(fleetOf(undefined)).toBeUndefined();
    expect(fleetOf('{ enabled: false }')).toBeUndefined();
    expect(fleetOf('{ instance_id: web-1, lease_seconds: 30 }')).toBeUndefined();
  });

  test('enabled: the defaults', () => {
    expect(fleetOf('{ enabled: true }')).toEqual({
      instanceId: `${os.hostname()}-${process.pid}`,
      leaseSeconds: 10,
      renewSeconds: 2,
      takePerRound: 4,
    });
  });

  test('every key given; ${VAR} in the instance id', () => {
    expect(
      fleetOf(
        '{ enabled: true, instance_id: "${POD_NAME}", lease_seconds: 2, renew_seconds: 0.5, take_per_round: 1 }',
        { POD_NAME: 'kuvasz-streamer-7d9f8-x2x4q' },
      ),
    ).toEqual({
      instanceId: 'kuvasz-streamer-7d9f8-x2x4q',
      leaseSeconds: 2,
      renewSeconds: 0.5,
      takePerRound: 1,
    });
  });

  test.each([
    ['lease_seconds: 1', 'fleet.lease_seconds (line 3): Too small: expected number to be >=2'],
    ['lease_seconds: 7200', 'fleet.lease_seconds (line 3): Too big: expected number to be <=3600'],
    ['renew_seconds: 0', 'fleet.renew_seconds (line 3): Too small: expected number to be >0'],
    ['renew_seconds: -1', 'fleet.renew_seconds (line 3): Too small: expected number to be >0'],
    ['take_per_round: 0', 'fleet.take_per_round (line 3): Too small: expected number to be >=1'],
    ['take_per_round: 1.5', 'fleet.take_per_round (line 3): expected int, received number'],
    [
      'instance_id: ""',
      'fleet.instance_id (line 3): Too small: expected string to have >=1 characters',
    ],
    [
      `instance_id: ${'w'.repeat(101)}`,
      'fleet.instance_id (line 3): Too big: expected string to have <=100 characters',
    ],
    [
      'instance_id: "web\\t1"',
      'fleet.instance_id (line 3): printable characters only (no control characters)',
    ],
    ['enabled: yes', 'fleet.enabled (line 3): expected boolean, received string'],
    ['lease: 10', 'fleet (line 3): unknown key "lease"'],
  ])('%s is refused', (entry, expected) => {
    const fleet = entry.startsWith('enabled') ? `{ ${entry} }` : `{ enabled: true, ${entry} }`;
    expect(yamlIssues(fleet)).toEqual([expected]);
  });

  test('renew_seconds above lease_seconds / 3: both keys and the fix', () => {
    expect(yamlIssues('{ enabled: true, renew_seconds: 5 }')).toEqual([
      'fleet.renew_seconds (line 3): fleet.renew_seconds (5) must be at most fleet.lease_seconds / 3 (3.333), so that a lease outlives two missed renewals: set renew_seconds to 3.333 or less, or lease_seconds to 15 or more',
    ]);
    expect(yamlIssues('{ enabled: true, lease_seconds: 2, renew_seconds: 0.7 }')).toEqual([
      expect.stringMatching(
        /at most fleet\.lease_seconds \/ 3 \(0\.666\).*renew_seconds to 0\.666 or less, or lease_seconds to 2\.1 or more$/,
      ),
    ]);
    // Exactly a third is allowed; a disabled section is checked all the same.
    expect(fleetOf('{ enabled: true, lease_seconds: 6, renew_seconds: 2 }')?.renewSeconds).toBe(2);
    expect(yamlIssues('{ enabled: false, renew_seconds: 4 }')).toHaveLength(1);
  });
});

describe('the environment and flags', () => {
  test('KUVASZ_FLEET_INSTANCE_ID over the file (any case)', () => {
    const fleet = '{ enabled: true, instance_id: from-file }';
    expect(fleetOf(fleet, { KUVASZ_FLEET_INSTANCE_ID: 'pod-a' })?.instanceId).toBe('pod-a');
    expect(fleetOf(fleet, { KUVASZ_fleet_instance_id: 'pod-b' })?.instanceId).toBe('pod-b');
  });

  test('the instance id alone does not enable the fleet; KUVASZ_FLEET_ENABLED does', () => {
    expect(fleetOf(undefined, { KUVASZ_FLEET_INSTANCE_ID: 'pod-a' })).toBeUndefined();
    expect(fleetOf(undefined, { KUVASZ_FLEET_ENABLED: 'true' })?.leaseSeconds).toBe(10);
    expect(fleetOf('{ enabled: true }', { KUVASZ_FLEET_ENABLED: 'false' })).toBeUndefined();
  });

  test('flags over the environment', () => {
    expect(
      fleetOf('{ enabled: true }', { KUVASZ_FLEET_LEASE_SECONDS: '20' }, [
        '--fleet.lease_seconds=30',
        '--fleet.take_per_round',
        '8',
      ]),
    ).toMatchObject({ leaseSeconds: 30, takePerRound: 8 });
  });

  test('a bad value is named by its variable or flag', () => {
    expect(yamlIssues('{ enabled: true }', { KUVASZ_FLEET_RENEW_SECONDS: 'soon' })).toEqual([
      'environment KUVASZ_FLEET_RENEW_SECONDS: expected a positive number, got "soon"',
    ]);
    expect(yamlIssues('{ enabled: true }', { KUVASZ_FLEET_RENEW_SECONDS: '4' })).toEqual([
      expect.stringMatching(
        /^environment KUVASZ_FLEET_RENEW_SECONDS: fleet\.renew_seconds \(4\) must be at most fleet\.lease_seconds \/ 3/,
      ),
    ]);
    expect(() => parseCli(['run', '--fleet.lease=3'])).toThrow(
      /unknown parameter 'lease' of section fleet \(its parameters are enabled, instance_id, lease_seconds, renew_seconds, take_per_round\)/,
    );
  });
});

describe('TOML', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvsz-fleet-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const map = path.join(dir, 'map.yaml');
  fs.writeFileSync(
    map,
    '- database: d\n  urls: [{ url: "postgres://u@h/d", sid: 1 }]\n  tables: { t: }\n',
  );
  const toml = (fleet: string, env: NodeJS.ProcessEnv = {}) =>
    parseTomlConfig(
      `[database]\nurl = "postgres://dw@h/w"\n[app]\nmap_file = "${map}"\n[fleet]\n${fleet}`,
      'kuvasz-streamer.toml',
      { env },
    );

  test('a [fleet] table', () => {
    expect(
      toml(
        'enabled = true\ninstance_id = "web-1"\nlease_seconds = 15\nrenew_seconds = 5\ntake_per_round = 2\n',
      ).fleet,
    ).toEqual({ instanceId: 'web-1', leaseSeconds: 15, renewSeconds: 5, takePerRound: 2 });
    expect(toml('enabled = false\n').fleet).toBeUndefined();
    expect(toml('enabled = true\n', { KUVASZ_FLEET_INSTANCE_ID: 'pod-c' }).fleet?.instanceId).toBe(
      'pod-c',
    );
  });

  test('mistakes are named by line and setting', () => {
    expect(issuesOf(() => toml('enabled = true\ntake_per_round = "many"\n'))).toEqual([
      'kuvasz-streamer.toml line 7: fleet.take_per_round: expected a positive integer, got "many"',
    ]);
    expect(issuesOf(() => toml('enabled = true\nrenew_seconds = 4\n'))).toEqual([
      expect.stringMatching(
        /^kuvasz-streamer\.toml line 7: fleet\.renew_seconds: fleet\.renew_seconds \(4\) must be at most fleet\.lease_seconds \/ 3 \(3\.333\)/,
      ),
    ]);
    expect(issuesOf(() => toml('enabled = true\nlease_seconds = 1\n'))).toEqual([
      'kuvasz-streamer.toml line 7: fleet.lease_seconds: Too small: expected number to be >=2',
    ]);
  });
});
