// Determinism guard: histories recorded from earlier runs (test/workflows/histories/*.json, refreshed with
// RLHF_RECORD_HISTORIES=1 npx vitest run test/workflows/pipeline.test.ts; reports-coalesced-*.json recorded with
// RLHF_RECORD_HISTORIES=reports-coalesced after patches progress-reports-coalesced and
// short-control-activities-local; evaluation-beside-*.json with RLHF_RECORD_HISTORIES=evaluation-beside after patch
// evaluation-beside-next-iteration; scored-as-generated-*.json with RLHF_RECORD_HISTORIES=scored-as-generated after
// patches score-shards-as-generated, prepare-data-beside-base-model and search-attributes-coalesced; self-evaluating-*.json
// with RLHF_RECORD_HISTORIES=self-evaluating after patch iterations-evaluate-themselves; epoch-*.json with
// RLHF_RECORD_HISTORIES=epoch after workflows/patches.ts: one marker per execution) must replay against the current
// workflow code. A change that alters the command sequence without `patched()` (workflows/README.md)
// fails here.
import { readdir, readFile } from 'node:fs/promises';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleWorkflows, HISTORIES_DIR, loadHistory } from './harness';

let bundle: WorkflowBundle;
const files = (await readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.json')).sort();

beforeAll(async () => {
  bundle = await bundleWorkflows();
});

describe('replay of recorded histories', () => {
  it('has a fixture for every workflow type', () => {
    // Mock-activity runs (test/workflows/pipeline.test.ts) and a real end-to-end run with the engine
    // (e2e-*, recorded by test/e2e/pipeline.e2e.test.ts with RLHF_RECORD_HISTORIES=1; <set>-e2e-* with =<set>).
    // Sets recorded after patches (RLHF_RECORD_HISTORIES=<set>): `<set>-<type>.json`, replayed beside the older ones.
    const types = ['dpoIteration', 'onlineDpo', 'rlhfPipeline', 'supervisedFineTune', 'trainRewardModel'];
    const sets = ['', 'e2e-', 'reports-coalesced-', 'reports-coalesced-e2e-', 'evaluation-beside-', 'evaluation-beside-e2e-', 'scored-as-generated-', 'scored-as-generated-e2e-', 'self-evaluating-', 'self-evaluating-e2e-', 'epoch-', 'epoch-e2e-'];
    expect(files).toEqual(sets.flatMap((set) => types.map((t) => `${set}${t}.json`)).sort());
  });

  it.each(files)('%s replays without non-determinism', async (file) => {
    const { workflowId, history } = loadHistory(await readFile(`${HISTORIES_DIR}${file}`, 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowId);
  });
});
