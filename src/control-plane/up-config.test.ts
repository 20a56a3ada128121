import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../../test/support/dist.js';
import { freePort } from '../../test/support/ports.js';
import { createProgram } from '../cli/create-program.js';
import { createProxyProgram } from '../cli/create-proxy-program.js';
import { resolveUpFlags } from '../cli/entry-points/run-commands.js';
import { DEFAULT_PROXY_SETTINGS, PROXY_FLAGS, PROXY_TUNING_KEYS } from '../data-plane/proxy-settings.js';
import { CONTROL_PLANE_DEFAULTS } from './control-plane-config.js';
import { UP_DEFAULTS } from './up-config.js';

/** `canary up --config FILE`, its flags and `--help`: docs/configuration.md. */

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'canary-up-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const helpOf = (program: ReturnType<typeof createProgram>, name: string) => {
  const command = program.commands.find((c) => c.name() === name)!;
  // Commander wraps help to the terminal's width; one line per option makes each default findable.
  command.configureOutput({ getOutHelpWidth: () => 10_000 });
  return command.helpInformation();
};

/** The line of `--help` that documents `flag`. */
const helpLine = (help: string, flag: string) => help.split('\n').find((l) => l.trimStart().startsWith(`${flag} `)) ?? '';

/** Runs `bin/canary.js` with args until it exits (bounded), collecting its output. */
function runCli(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'canary.js'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`canary ${args.join(' ')} did not exit within ${timeoutMs} ms: ${out}${err}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('canary up --config', () => {
  beforeAll(() => ensureBuilt());

  it('refuses a bad file naming each bad key, and starts nothing', async () => {
    const [port, ingressPort] = [await freePort(), await freePort()];
    const data = join(dir, 'bad-data');
    const bad = file(
      'bad.yaml',
      `port: ${port}\ningressPort: ${ingressPort}\ndata: ${data}\norphanGrace: -1\nproxy:\n  headerTimeoutMs: 0\n  headerTimeout: 5\nprometheus: http://x:9090\n`,
    );
    const { code, out, err } = await runCli(['up', '--config', bad]);
    expect(code).toBe(1);
    expect(err).toContain('bad.yaml');
    expect(err).toContain('orphanGrace: must be 0 to 3600 seconds');
    expect(err).toContain('proxy.headerTimeoutMs: must be a whole number of ms from 1 to 300000');
    expect(err).toMatch(/proxy: unknown key "headerTimeout"; the keys are headerTimeoutMs, /);
    expect(err).toContain('prometheus: only with --kubernetes (kubernetes: true)');
    // Nothing started: no output of a start, no data directory, neither port bound.
    expect(out).toBe('');
    expect(existsSync(data)).toBe(false);
    expect(await portOpen(port)).toBe(false);
    expect(await portOpen(ingressPort)).toBe(false);
  });

  it('refuses a file that is not YAML or not a mapping, naming the file', async () => {
    expect((await runCli(['up', '--config', file('broken.yaml', 'port: [\n')])).err).toMatch(/broken\.yaml: not valid YAML/);
    expect((await runCli(['up', '--config', file('list.yaml', '- 1\n')])).err).toContain('list.yaml: must be a mapping of keys');
    expect((await runCli(['up', '--config', join(dir, 'missing.yaml')])).err).toContain(
      'missing.yaml: cannot read the config file (ENOENT)',
    );
  });

  it('takes the file, with a flag beating it and the defaults under both', async () => {
    const path = file('up.yaml', 'port: 9191\nhost: 127.0.0.2\nrunAs: canary\nproxy:\n  headerTimeoutMs: 5000\n  maxConnections: 50\n');
    const config = resolveUpFlags({ config: path, port: '9292', maxConnections: '70' });
    expect(config.port).toBe(9292); // flag over file
    expect(config.host).toBe('127.0.0.2'); // file over default
    expect(config.runAs).toBe('canary');
    expect(config.proxy).toEqual({ headerTimeoutMs: 5000, maxConnections: 70 });
    expect(config.ingressPort).toBe(UP_DEFAULTS.ingressPort); // neither: the default
    expect(config.drainGraceMs).toBe(CONTROL_PLANE_DEFAULTS.drainGraceMs);
  });

  it('a flag beats the file in a running canary up', async () => {
    const [filePort, flagPort, ingressPort] = [await freePort(), await freePort(), await freePort()];
    const path = file('run.yaml', `port: ${filePort}\ningressPort: ${ingressPort}\ndata: ${join(dir, 'run-data')}\n`);
    const child: ChildProcess = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'canary.js'), 'up', '--config', path, '--port', String(flagPort)],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CANARY_ADMIN_TOKEN: 'up-config-test-token' },
      },
    );
    try {
      const started = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`canary up did not start: ${out}`)), 30_000);
        child.stdout!.on('data', (d: Buffer) => {
          out += d;
          if (out.includes('mesh ingress:')) {
            clearTimeout(timer);
            resolve(out);
          }
        });
        child.stderr!.on('data', (d: Buffer) => (out += d));
        child.once('exit', (code) => reject(new Error(`canary up exited ${code}: ${out}`)));
      });
      expect(started).toContain(`control plane and console: http://127.0.0.1:${flagPort}`);
      expect(started).toContain(`mesh ingress: http://127.0.0.1:${ingressPort}`);
      const health = await fetch(`http://127.0.0.1:${flagPort}/healthz`);
      expect(health.status).toBe(200);
      expect(await portOpen(filePort)).toBe(false);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('--help prints the defaults from the schemas', () => {
  it('canary up --help', () => {
    const help = helpOf(createProgram(), 'up');
    const flags: [string, unknown][] = [
      ['--data', UP_DEFAULTS.data],
      ['--port', UP_DEFAULTS.port],
      ['--ingress-port', UP_DEFAULTS.ingressPort],
      ['--host', UP_DEFAULTS.host],
      ['--run-as', UP_DEFAULTS.runAs],
      ['--orphan-grace', UP_DEFAULTS.orphanGrace],
      ['--drain-grace', UP_DEFAULTS.drainGraceMs],
      ['--trace-sampling', CONTROL_PLANE_DEFAULTS.telemetry.traceSampling],
      ...PROXY_TUNING_KEYS.map((k): [string, unknown] => [PROXY_FLAGS[k].flag.split(' ')[0]!, DEFAULT_PROXY_SETTINGS[k]]),
    ];
    for (const [flag, value] of flags)
      expect(helpLine(help, flag), flag).toMatch(new RegExp(`[( ]${String(value).replace(/\./g, '\\.')}\\)`));
  });

  it('canary proxy --help', () => {
    const help = helpOf(createProxyProgram(), 'proxy');
    for (const key of ['listen', 'workers', 'traceSampling', ...PROXY_TUNING_KEYS] as const) {
      const flag = PROXY_FLAGS[key].flag.split(' ')[0]!;
      expect(helpLine(help, flag), flag).toContain(`(default: ${DEFAULT_PROXY_SETTINGS[key]})`);
    }
  });
});
