// pause / resume / stop-after-iteration / set-next reach the workflow as its signals and update. No worker
// runs here, so the signals are checked in the workflow's history; the update (which needs a worker to
// accept it) must fail in one line.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../cli/context';
import { main } from '../../cli/main';
import { getTestClient, getTestEnv, uniqueId } from '../helpers/services';

let client: Client;
const started: string[] = [];

beforeAll(async () => {
  Object.assign(process.env, getTestEnv());
  client = await getTestClient();
});

afterAll(async () => {
  for (const id of started) await client.workflow.getHandle(id).terminate('test cleanup').catch(() => undefined);
  await client?.connection.close();
});

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), stdout: process.stdout };
}

describe('run control commands', () => {
  it('send pause, resume and stopAfterIteration as signals with their arguments', async () => {
    const id = uniqueId('control');
    await client.workflow.start('rlhfPipeline', { taskQueue: uniqueId('no-worker'), workflowId: id, args: [{}] });
    started.push(id);
    const io = capture();
    expect(await main(['pause', id, '--reason', 'disk full'], io)).toBe(0);
    expect(await main(['resume', id], io)).toBe(0);
    expect(await main(['stop-after-iteration', id, '2'], io)).toBe(0);
    expect(await main(['stop-after-iteration', id], io)).toBe(0);
    expect(io.errors).toEqual([]);
    expect(io.lines).toEqual([
      `pause requested for ${id} (takes effect at the next step boundary)`,
      `resume sent to ${id}`,
      `${id} will stop after iteration 2`,
      `${id} will stop after the current iteration`,
    ]);
    const history = await client.workflow.getHandle(id).fetchHistory();
    const signals = (history.events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a)
      .map((a) => [a!.signalName, (a!.input?.payloads ?? []).map((p) => JSON.parse(Buffer.from(p.data as Uint8Array).toString('utf8')) as unknown)]);
    expect(signals).toEqual([
      ['pause', ['disk full']],
      ['resume', []],
      ['stopAfterIteration', [2]],
      ['stopAfterIteration', []],
    ]);
  });

  it('reject bad arguments and unknown workflows in one line', async () => {
    const io = capture();
    expect(await main(['stop-after-iteration', 'x', 'two'], io)).toBe(2);
    expect(await main(['set-next', 'x', 'seed=3'], io)).toBe(2);
    expect(await main(['pause', uniqueId('missing')], io)).toBe(1);
    expect(io.errors[0]).toBe("error: iteration must be a positive integer, got 'two'");
    expect(io.errors[1]).toBe("error: 'seed' cannot be changed while running (allowed: beta, learningRate, k, temperatures)");
    expect(io.errors[2]).toMatch(/^error: workflow 'missing-[0-9a-f]+' not found in namespace 'default'$/);
  });
});
