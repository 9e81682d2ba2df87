// The engine's byte-level tokenizer for tiny models: one token per UTF-8 byte (ids 0..255, spelled with
// GPT-2's byte→unicode table as every byte-level BPE does) plus a few special tokens. It is an ordinary
// Hugging Face `tokenizer.json` (a BPE model with no merges, ByteLevel pre-tokenizer and decoder) so that
// both this engine's loader and transformers' PreTrainedTokenizerFast read it.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BYTE_SPECIAL_TOKENS = {
  bos: '<|bos|>',
  /** End of a response/turn: generation stops here. */
  eos: '<|end|>',
  /** Padding; distinct from eos (a reward model reads the last non-pad token). */
  pad: '<|pad|>',
  system: '<|system|>',
  user: '<|user|>',
  assistant: '<|assistant|>',
} as const;

const SPECIALS_IN_ORDER = [
  BYTE_SPECIAL_TOKENS.bos,
  BYTE_SPECIAL_TOKENS.eos,
  BYTE_SPECIAL_TOKENS.pad,
  BYTE_SPECIAL_TOKENS.system,
  BYTE_SPECIAL_TOKENS.user,
  BYTE_SPECIAL_TOKENS.assistant,
];

export const BYTE_BOS_ID = 256;
export const BYTE_EOS_ID = 257;
export const BYTE_PAD_ID = 258;
/** 256 bytes + 6 special tokens. */
export const BYTE_VOCAB_SIZE = 256 + SPECIALS_IN_ORDER.length;

/**
 * `<|bos|>` then each turn as `<|role|>content<|end|>`; with add_generation_prompt, `<|assistant|>`.
 * Roles other than system/user/assistant raise (as the template would otherwise emit plain text).
 */
export const BYTE_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}" +
  "{% if message['role'] not in ['system', 'user', 'assistant'] %}{{ raise_exception('unsupported chat role: ' + message['role']) }}{% endif %}" +
  "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

/** GPT-2's reversible byte → printable unicode character table. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) table[b] = String.fromCharCode(b);
    else table[b] = String.fromCharCode(256 + extra++);
  }
  return table;
}

/** The tokenizer.json object. */
export function byteTokenizerJson(): Record<string, unknown> {
  const table = bytesToUnicode();
  const vocab: Record<string, number> = {};
  table.forEach((ch, b) => (vocab[ch] = b));
  const added = SPECIALS_IN_ORDER.map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  for (const a of added) vocab[a.content] = a.id;
  const bos = BYTE_SPECIAL_TOKENS.bos;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [BYTE_BOS_ID], tokens: [bos] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/** The tokenizer_config.json object (PreTrainedTokenizerFast, chat template, bos/eos/pad). */
export function byteTokenizerConfigJson(): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  SPECIALS_IN_ORDER.forEach((content, i) => {
    decoder[String(256 + i)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  });
  return {
    added_tokens_decoder: decoder,
    bos_token: BYTE_SPECIAL_TOKENS.bos,
    eos_token: BYTE_SPECIAL_TOKENS.eos,
    pad_token: BYTE_SPECIAL_TOKENS.pad,
    chat_template: BYTE_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_input_names: ['input_ids', 'attention_mask'],
    model_max_length: 1_000_000,
    padding_side: 'right',
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
}

/** Files of the byte tokenizer, by name. */
export function byteTokenizerFiles(): Record<string, string> {
  return {
    'tokenizer.json': JSON.stringify(byteTokenizerJson(), null, 1),
    'tokenizer_config.json': JSON.stringify(byteTokenizerConfigJson(), null, 2),
    'special_tokens_map.json': JSON.stringify(
      { bos_token: BYTE_SPECIAL_TOKENS.bos, eos_token: BYTE_SPECIAL_TOKENS.eos, pad_token: BYTE_SPECIAL_TOKENS.pad },
      null,
      2,
    ),
  };
}

/** Write tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir`. */
export function writeByteTokenizer(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(byteTokenizerFiles())) writeFileSync(join(dir, name), text);
}
