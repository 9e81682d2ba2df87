#!/usr/bin/env python3
"""Load a model folder the engine wrote with Hugging Face transformers and print what it computes.

Usage: check_checkpoint.py <model_dir> <inputs.json> [<more model dirs>...]

inputs.json: {"rows": [[token ids], ...], "messages": [{"role", "content"}...] (optional)}
Prints one JSON object per model folder (one line each, in order):
  architecture, config (a few fields as transformers parsed them),
  logits: per row, the logits of every real position [len × vocab] (LlamaForCausalLM), or
  rewards: per row, the score at the last non-pad token (LlamaForSequenceClassification),
  chat_ids: the tokenizer's chat-template rendering of `messages` with the generation prompt.
The forward runs in float64 from the saved float32 weights (exact widening).
"""

import json
import sys

import torch
from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM, LlamaForSequenceClassification


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    inputs_file = sys.argv[2]
    with open(inputs_file) as f:
        inputs = json.load(f)
    for model_dir in [sys.argv[1], *sys.argv[3:]]:
        check(model_dir, inputs)


def check(model_dir, inputs):
    cfg = AutoConfig.from_pretrained(model_dir)
    arch = (cfg.architectures or ["LlamaForCausalLM"])[0]
    cls = {"LlamaForCausalLM": LlamaForCausalLM, "LlamaForSequenceClassification": LlamaForSequenceClassification}[arch]
    model = cls.from_pretrained(model_dir, dtype=torch.float64).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else 0
    rows = inputs["rows"]
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    out = {
        "architecture": arch,
        "config": {
            "hidden_size": cfg.hidden_size,
            "num_key_value_heads": cfg.num_key_value_heads,
            "tie_word_embeddings": cfg.tie_word_embeddings,
            "pad_token_id": cfg.pad_token_id,
            "eos_token_id": cfg.eos_token_id,
        },
    }
    with torch.no_grad():
        res = model(input_ids=ids, attention_mask=mask)
    if arch == "LlamaForCausalLM":
        out["logits"] = [[[round(x, 9) for x in res.logits[i, t].tolist()] for t in range(len(r))] for i, r in enumerate(rows)]
    else:
        out["rewards"] = res.logits[:, 0].tolist()
    if inputs.get("messages"):
        out["chat_ids"] = list(tok.apply_chat_template(inputs["messages"], add_generation_prompt=True, tokenize=True, return_dict=False))
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
