// Evaluate a policy on the held-out prompts (one sample per prompt, seeded the same for every model):
//   meanReward          mean RM reward of its responses
//   winRateVsSft        fraction of prompts where the RM prefers its response to the SFT model's (ties ½)
//   meanResponseLength  characters
//   kl                  mean of log π(y|x) − log π_ref(y|x) over its sampled responses (estimate of KL(π‖π_ref))
//   gold                mean gold score when the demo task's grader applies (else null)
// Writes runs/<run>/{sft|iter-NNNN}/eval/{responses.jsonl, eval.json}.
import type { Prompt } from '../engine/api';
import { FILE, layout } from '../shared/layout';
import { deriveSeed } from '../shared/seeds';
import { getTask } from '../tasks';
import type { ModelCache } from './models';
import { activity, cancellationSignal, heartbeat, type Deps } from './support';
import type { Evaluation, EvaluateInput } from './types';

interface ResponseRow {
  index: number;
  prompt: Prompt;
  response: string;
  reward: number;
  logprob: number;
  ref_logprob: number;
  gold: number | null;
}

const mean = (xs: number[]): number => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function evaluateModel(deps: Deps, models: ModelCache) {
  return activity('evaluateModel', async (input: EvaluateInput): Promise<Evaluation> => {
    const prefix = layout.eval(input.run, input.stage);
    const done = await deps.store.getManifest(prefix);
    if (done) return done.meta.result as Evaluation;

    const source = await deps.requireCommitted(input.evalPrompts, 'evaluation prompts');
    const prompts = (await source.store.readCommittedJsonlAll<{ prompt: Prompt }>(source.prefix, FILE.evalPrompts)).slice(0, input.count).map((r) => r.prompt);
    const signal = cancellationSignal();

    heartbeat({ phase: 'generate', prompts: prompts.length });
    const policy = await models.policy(input.policy, input.engine);
    const generations = await policy.generate(prompts, {
      n: 1,
      temperatures: [input.temperature],
      maxNewTokens: input.maxNewTokens,
      stopStrings: input.stopStrings,
      seed: deriveSeed(input.seed, 'eval'),
      promptIds: prompts.map((_, i) => i),
      signal,
      onProgress: (p) => heartbeat({ phase: 'generate', done: p.done, total: p.total }),
    });
    const responses = generations.map((g) => g.responses[0] ?? '');
    const items = prompts.map((prompt, i) => ({ prompt, response: responses[i] as string }));

    // Both sides of the KL estimate score the same token sequences (prompt ++ response ++ eos) with
    // logProbs: the sampler's own log-probs cover a different sequence when a response was cut at
    // maxNewTokens or at a stop string, which would bias log π − log π_ref.
    heartbeat({ phase: 'reference', prompts: prompts.length });
    const refLogprobs = await (await models.policy(input.reference, input.engine)).logProbs(items, { signal });
    const logprobs = input.reference === input.policy ? refLogprobs : await policy.logProbs(items, { signal });

    heartbeat({ phase: 'score', prompts: prompts.length });
    const rm = await models.rewardModel(input.rewardModel, input.engine);
    const rewards = await rm.score(items, { signal });

    const task = input.task ? getTask(input.task) : null;
    const rows: ResponseRow[] = items.map((it, i) => ({
      index: i,
      prompt: it.prompt,
      response: it.response,
      reward: rewards[i] as number,
      logprob: logprobs[i] as number,
      ref_logprob: refLogprobs[i] as number,
      gold: task ? task.grade(it.prompt, it.response) : null,
    }));

    let winRateVsSft = 0.5;
    if (input.sftEval) {
      const sft = await deps.requireCommitted(input.sftEval, 'SFT baseline evaluation');
      const baseline = new Map((await sft.store.readCommittedJsonlAll<ResponseRow>(sft.prefix, FILE.evalResponses)).map((r) => [r.index, r.reward]));
      const wins = rows.filter((r) => baseline.has(r.index)).map((r) => {
        const b = baseline.get(r.index) as number;
        return r.reward > b ? 1 : r.reward === b ? 0.5 : 0;
      });
      winRateVsSft = wins.length > 0 ? mean(wins) : 0.5;
    }
    const result: Evaluation = {
      prefix,
      meanReward: mean(rows.map((r) => r.reward)),
      winRateVsSft,
      meanResponseLength: mean(rows.map((r) => r.response.length)),
      kl: mean(rows.map((r) => r.logprob - r.ref_logprob)),
      gold: task ? mean(rows.map((r) => r.gold as number)) : null,
      prompts: rows.length,
    };
    const responsesObj = await deps.store.writeJsonl(`${prefix}/${FILE.evalResponses}`, rows);
    const evalObj = await deps.store.putJson(`${prefix}/${FILE.eval}`, { stage: input.stage, policy: input.policy, reference: input.reference, rewardModel: input.rewardModel, ...result });
    await deps.store.commit(prefix, [responsesObj, evalObj], { result });
    return result;
  });
}
