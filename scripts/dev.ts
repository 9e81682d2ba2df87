// `npm run dev`: bring the local stack up (or reuse it), then run the all-in-one worker in the foreground.
// Ctrl-C stops the worker; the stack keeps running (`npm run stack -- down` stops it).
import { loadConfig } from '../shared/config';
import { runWorkers } from '../workers/main';
import { describeStack, stackEnv, stackOptions, stackUp } from './stack';
import { ensureTools } from './tools';

async function main(): Promise<void> {
  await ensureTools();
  const info = await stackUp(stackOptions());
  for (const line of describeStack(info)) console.log(line);
  // The worker talks to this stack unless the environment points elsewhere.
  const env = { ...stackEnv(info), ...process.env };
  const config = loadConfig(env);
  console.log('');
  console.log(`start a run:  npx durable-rlhf start            (or the Web UI: Start Workflow, type rlhfPipeline, task queue ${config.queues.control})`);
  console.log('stop stack:   npm run stack -- down');
  console.log('');
  await runWorkers(config);
}

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
