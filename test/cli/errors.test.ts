// Bad input to the real command (node cli/bin.mjs): ONE clear line on stderr, no stack trace, non-zero exit.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports';

const BIN = resolve(import.meta.dirname, '../../cli/bin.mjs');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  // A closed port: nothing here may reach a real server by accident.
  const closed = `127.0.0.1:${await freePort()}`;
  return new Promise((done) => {
    execFile('node', [BIN, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: closed, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.code, `exit code (stderr: ${r.stderr})`).not.toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('durable-rlhf: bad input gives one clear line', () => {
  it('unknown key in --set lists close matches', async () => {
    const r = await cli(['start', '--set', 'online.bta=0.2']);
    expectOneLineError(r, /unknown option 'online\.bta' \(did you mean online\.beta/);
    expect(r.code).toBe(2);
  });

  it('bad grid syntax', async () => {
    expectOneLineError(await cli(['sweep', '--grid', 'beta:0.1,0.2']), /--grid expects key=v1,v2,\.\.\., got 'beta:0\.1,0\.2'/);
    expectOneLineError(await cli(['sweep', '--grid', 'beta=0.1,oops']), /online\.beta expects a number, got 'oops'/);
    expectOneLineError(await cli(['sweep']), /sweep needs at least one --grid/);
  });

  it('invalid option values name the field', async () => {
    expectOneLineError(await cli(['start', '--set', 'online.k=3', '--set', 'online.temperatures=1.0,0.7']), /online\.k \(3\) must be a multiple of the number of online\.temperatures \(2\)/);
  });

  it('missing or malformed config file', async () => {
    expectOneLineError(await cli(['start', '--config', '/nonexistent/recipe.yaml']), /^error: config file \/nonexistent\/recipe\.yaml: not found$/);
    const dir = mkdtempSync(join(tmpdir(), 'rlhf-cli-err-'));
    writeFileSync(join(dir, 'r.yaml'), 'online:\n  beta: [unclosed\n');
    expectOneLineError(await cli(['start', '--config', join(dir, 'r.yaml')]), /r\.yaml: invalid YAML/);
  });

  it('unknown command and flag', async () => {
    expectOneLineError(await cli(['strat']), /unknown command 'strat' \(did you mean start\?\)/);
    expectOneLineError(await cli(['list', '--sweeep', 'x']), /unknown flag '--sweeep' for 'list'/);
  });

  it('unreachable Temporal server', async () => {
    const port = await freePort();
    const r = await cli(['list'], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expectOneLineError(r, new RegExp(`Temporal server at 127\\.0\\.0\\.1:${port} unreachable .*TEMPORAL_ADDRESS`));
  });

  it('--help works for every command', async () => {
    const r = await cli(['sweep', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: durable-rlhf sweep --grid');
    expect(r.stdout).toContain('--max-parallel N');
  });
});
