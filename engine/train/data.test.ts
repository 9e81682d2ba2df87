import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeByteTokenizer } from '../tokenizer/byte';
import { loadTokenizer } from '../tokenizer/tokenizer';
import { collate, collatePairs, planEpoch, tokenizePairRows, tokenizeSftRows } from './data';
import { batchFeeds } from './objectives';

const tmp = mkdtempSync(join(tmpdir(), 'e2-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
writeByteTokenizer(tmp);
const tok = loadTokenizer(tmp);

describe('tokenization and truncation', () => {
  it('SFT: prompt keeps its end, response is cut to fit, both counted', () => {
    const { examples, counts } = tokenizeSftRows(
      tok,
      [
        { prompt: 'abc', response: 'xy' },
        { prompt: 'abcdefghij', response: 'xyz' },
        { prompt: 'ab', response: 'uvwxyz' },
      ],
      { maxLength: 8, maxPromptLength: 5 },
    );
    expect(examples[0]).toEqual({ promptIds: [256, 97, 98, 99], responseIds: [120, 121, 257] });
    expect(examples[1]!.promptIds).toEqual([102, 103, 104, 105, 106]); // last 5 of bos+abcdefghij
    expect(examples[1]!.responseIds).toEqual([120, 121, 122]); // 3 room: eos cut
    expect(examples[2]!.responseIds).toEqual([117, 118, 119, 120, 121]);
    expect(counts).toEqual({ rows: 3, kept: 3, promptsTruncated: 1, responsesTruncated: 2, dropped: 0 });
  });
  it('reward pairs that do not fit whole are dropped; DPO pairs are truncated', () => {
    const rows = [
      { prompt: 'p', chosen: 'short', rejected: 'this one is far too long' },
      { prompt: 'p', chosen: 'a', rejected: 'b' },
    ];
    const rm = tokenizePairRows(tok, rows, { maxLength: 10, maxPromptLength: 4 }, 'reward');
    expect(rm.counts).toMatchObject({ kept: 1, dropped: 1 });
    expect(rm.rowIndex).toEqual([1]);
    const dpo = tokenizePairRows(tok, rows, { maxLength: 10, maxPromptLength: 4 }, 'dpo');
    expect(dpo.counts).toMatchObject({ kept: 2, dropped: 0, responsesTruncated: 1 });
    expect(dpo.examples[0]!.rejected.responseIds.length).toBe(8);
  });
  it('rejects bad limits naming the field', () => {
    expect(() => tokenizeSftRows(tok, [], { maxLength: 8, maxPromptLength: 8 })).toThrow(/hyper\.maxPromptLength/);
  });
});

describe('collation', () => {
  it('right-pads, masks response tokens and shifts targets', () => {
    const b = collate(
      [
        { promptIds: [256, 97], responseIds: [98, 257] },
        { promptIds: [256], responseIds: [99] },
      ],
      258,
    );
    expect(b.length).toBe(4);
    expect([...b.inputIds].map(Number)).toEqual([256, 97, 98, 257, 256, 99, 258, 258]);
    expect([...b.attentionMask].map(Number)).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    expect([...b.responseMask]).toEqual([0, 0, 1, 1, 0, 1, 0, 0]);
    const f = batchFeeds(b, 258);
    expect([...(f['targets']!.data as BigInt64Array)].map(Number)).toEqual([97, 98, 257, 258, 99, 258, 258, 258]);
    expect([...(f['loss_mask']!.data as Float32Array)]).toEqual([0, 1, 1, 0, 1, 0, 0, 0]);
    const p = collatePairs([{ chosen: { promptIds: [1], responseIds: [2] }, rejected: { promptIds: [1], responseIds: [3, 4] } }], 0);
    expect(p.batch).toBe(2);
    expect([...p.inputIds].map(Number)).toEqual([1, 2, 0, 1, 3, 4]);
  });
  it('plans optimizer steps of micro-batches over one epoch', () => {
    expect(planEpoch([4, 0, 3, 1, 2], 2, 2)).toEqual([[[4, 0], [3, 1]], [[2]]]);
  });
});
