// scripts/tools.ts without the network: a fake `go` on PATH stands in for `go install`, fake binaries for
// version detection on PATH.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTool, findTool, toolCacheDir, ToolError } from '../../scripts/tools';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function temp(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `durable-rlhf-${label}-`));
  dirs.push(dir);
  return dir;
}

async function script(path: string, body: string): Promise<void> {
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
}

describe('tools', () => {
  it('builds a missing tool with go install into the versioned cache dir, with the pinned module and env', async () => {
    const bin = await temp('fakego');
    const cache = await temp('cache');
    const log = join(bin, 'go.log');
    await script(
      join(bin, 'go'),
      `echo "$@ CGO_ENABLED=$CGO_ENABLED" > "${log}"
echo "github.com/versity/versitygw/backend" >&2
printf '#!/bin/sh\\necho built\\n' > "$GOBIN/versitygw"; /bin/chmod +x "$GOBIN/versitygw"`,
    );
    const lines: string[] = [];
    const env = { PATH: bin, DURABLE_RLHF_CACHE: cache };
    const path = await ensureTool('versitygw', { env, log: (l) => lines.push(l) });
    expect(path).toBe(join(cache, 'bin', 'versitygw-1.7.0', 'versitygw'));
    expect(path).toBe(join(toolCacheDir('versitygw', env), 'versitygw'));
    expect((await readFile(log, 'utf8')).trim()).toBe('install -v github.com/versity/versitygw/cmd/versitygw@v1.7.0 CGO_ENABLED=0');
    expect(lines[0]).toMatch(/^building versitygw 1\.7\.0: go install github\.com\/versity\/versitygw\/cmd\/versitygw@v1\.7\.0/);
    expect(lines.at(-1)).toMatch(/^built versitygw 1\.7\.0 in \d+s -> /);
    // Second call: found in the cache, no build.
    await rm(log);
    expect(await ensureTool('versitygw', { env, log: (l) => lines.push(l) })).toBe(path);
    await expect(readFile(log)).rejects.toThrow();
  });

  it('reports a failed build in one line with the last output line', async () => {
    const bin = await temp('badgo');
    await script(join(bin, 'go'), 'echo "go: github.com/temporalio/cli@v1.5.1: connection refused" >&2; exit 1');
    const err = await ensureTool('temporal', { env: { PATH: bin, DURABLE_RLHF_CACHE: await temp('cache') }, log: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toBe('building temporal 1.5.1 with go install failed (exit 1): go: github.com/temporalio/cli@v1.5.1: connection refused');
  });

  it('takes a binary on PATH only when its --version names the pinned version', async () => {
    const good = await temp('path-good');
    const old = await temp('path-old');
    const cache = await temp('cache');
    await script(join(good, 'temporal'), 'echo "temporal version 1.5.1 (Server 1.29.1, UI 2.41.0)"');
    await script(join(old, 'temporal'), 'echo "temporal version 1.4.0 (Server 1.28.0, UI 2.38.0)"');
    await script(join(good, 'versitygw'), 'printf "Version  : v1.7.0\\nBuild    : abc\\n"');
    expect(findTool('temporal', { PATH: `${old}:${good}`, DURABLE_RLHF_CACHE: cache })).toBe(join(good, 'temporal'));
    expect(findTool('temporal', { PATH: old, DURABLE_RLHF_CACHE: cache })).toBeUndefined();
    expect(findTool('versitygw', { PATH: good, DURABLE_RLHF_CACHE: cache })).toBe(join(good, 'versitygw'));
  });
});
