// Loading a Hugging Face tokenizer folder: tokenizer.json (via @huggingface/tokenizers), the chat template
// (tokenizer_config.json `chat_template`, or chat_template.jinja) rendered with @huggingface/jinja, and the
// special ids (bos, eos — every id that ends a response —, pad).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import type { ChatMessage, Prompt } from '../api';
import { EngineInputError } from '../hf/errors';

export interface EngineTokenizer {
  readonly dir: string;
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** Render chat messages with the tokenizer's chat template (a string; encode it without special tokens). */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  /**
   * Token ids of a prompt as the model sees it before the response: chat messages through the chat template
   * with the generation prompt; plain text with special tokens (bos prepended when the tokenizer has one).
   */
  renderPrompt(prompt: Prompt): number[];
  /**
   * Token ids of a response that follows `renderPrompt(prompt)`: the text without special tokens, then
   * `eosTokenId` (as TRL appends eos to chosen/rejected/completions). `appendEos: false` leaves it off.
   */
  encodeResponse(response: string, opts?: { appendEos?: boolean }): number[];
  readonly bosTokenId: number | null;
  /** The tokenizer's own eos token (`eos_token` in tokenizer_config.json); ends a response in training. */
  readonly eosTokenId: number | null;
  /** Every id that stops generation: eos_token plus config.json / generation_config.json eos_token_id. */
  readonly eosTokenIds: number[];
  readonly padTokenId: number | null;
  /** One more than the largest token id (vocab + added tokens). */
  readonly vocabSize: number;
}

type Json = Record<string, unknown>;

function readJson(file: string): Json {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (e) {
    throw new EngineInputError(`${file}: cannot read tokenizer file (${(e as Error).message})`, { cause: e });
  }
}

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
  return null;
}

function idsOf(v: unknown): number[] {
  if (typeof v === 'number' && Number.isInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
  return [];
}

/** Load the tokenizer of a Hugging Face model folder. Missing files → EngineInputError naming the folder. */
export function loadTokenizer(dir: string): EngineTokenizer {
  const tokFile = join(dir, 'tokenizer.json');
  if (!existsSync(tokFile)) {
    throw new EngineInputError(`no tokenizer in ${dir}: tokenizer.json is missing (the engine needs a fast tokenizer file)`);
  }
  const tokJson = readJson(tokFile);
  const cfgFile = join(dir, 'tokenizer_config.json');
  const tokCfg: Json = existsSync(cfgFile) ? readJson(cfgFile) : {};
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(tokJson, tokCfg);
  } catch (e) {
    throw new EngineInputError(`${tokFile}: unsupported or invalid tokenizer (${(e as Error).message})`, { cause: e });
  }

  // Chat template: tokenizer_config.json, or chat_template.jinja (transformers ≥ 4.43 may save it apart).
  let templateText: string | null = null;
  const ct = tokCfg['chat_template'];
  if (typeof ct === 'string') templateText = ct;
  else if (Array.isArray(ct)) {
    const d = (ct as { name?: string; template?: string }[]).find((t) => t.name === 'default');
    templateText = d?.template ?? null;
  } else if (ct && typeof ct === 'object') templateText = ((ct as Json)['default'] as string | undefined) ?? null;
  const jinjaFile = join(dir, 'chat_template.jinja');
  if (templateText === null && existsSync(jinjaFile)) templateText = readFileSync(jinjaFile, 'utf8');
  let template: Template | null = null;
  if (templateText !== null) {
    try {
      template = new Template(templateText);
    } catch (e) {
      throw new EngineInputError(`${cfgFile}: chat_template does not parse (${(e as Error).message})`, { cause: e });
    }
  }

  const idOfToken = (field: string): number | null => {
    const content = tokenContent(tokCfg[field]);
    if (content === null) return null;
    const id = tok.token_to_id(content);
    if (id === undefined) throw new EngineInputError(`${cfgFile}: ${field} ${JSON.stringify(content)} is not in ${tokFile}`);
    return id;
  };
  const modelCfg: Json = existsSync(join(dir, 'config.json')) ? readJson(join(dir, 'config.json')) : {};
  const genCfg: Json = existsSync(join(dir, 'generation_config.json')) ? readJson(join(dir, 'generation_config.json')) : {};

  const bosTokenId = idOfToken('bos_token') ?? idsOf(modelCfg['bos_token_id'])[0] ?? null;
  const eosTokenId = idOfToken('eos_token') ?? idsOf(modelCfg['eos_token_id'])[0] ?? null;
  const eosTokenIds = [...new Set([...(eosTokenId === null ? [] : [eosTokenId]), ...idsOf(genCfg['eos_token_id']), ...idsOf(modelCfg['eos_token_id'])])];
  const padTokenId = idOfToken('pad_token') ?? idsOf(modelCfg['pad_token_id'])[0] ?? null;
  let vocabSize = 0;
  for (const id of tok.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);

  const bosToken = tokenContent(tokCfg['bos_token']) ?? '';
  const eosToken = tokenContent(tokCfg['eos_token']) ?? '';
  const padToken = tokenContent(tokCfg['pad_token']) ?? '';
  const unkToken = tokenContent(tokCfg['unk_token']) ?? '';

  const encode = (text: string, opts: { addSpecialTokens?: boolean } = {}): number[] =>
    tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;

  const applyChatTemplate = (messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string => {
    if (template === null) throw new EngineInputError(`${dir}: the tokenizer has no chat_template, so chat prompts cannot be rendered`);
    try {
      return template.render({
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        bos_token: bosToken,
        eos_token: eosToken,
        pad_token: padToken,
        unk_token: unkToken,
      });
    } catch (e) {
      throw new EngineInputError(`${dir}: chat template failed on these messages (${(e as Error).message})`, { cause: e });
    }
  };

  return {
    dir,
    encode,
    decode: (ids, opts = {}) => (ids.length === 0 ? '' : tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false })),
    applyChatTemplate,
    renderPrompt(prompt: Prompt): number[] {
      if (typeof prompt === 'string') {
        const ids = encode(prompt, { addSpecialTokens: true });
        if (bosTokenId !== null && ids[0] !== bosTokenId) ids.unshift(bosTokenId);
        return ids;
      }
      return encode(applyChatTemplate(prompt, { addGenerationPrompt: true }), { addSpecialTokens: false });
    },
    encodeResponse(response: string, opts: { appendEos?: boolean } = {}): number[] {
      const ids = encode(response, { addSpecialTokens: false });
      if ((opts.appendEos ?? true) && eosTokenId !== null) ids.push(eosTokenId);
      return ids;
    },
    bosTokenId,
    eosTokenId,
    eosTokenIds,
    padTokenId,
    vocabSize,
  };
}
