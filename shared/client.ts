// One way to reach Temporal: the client (CLI, tests, bench) and the worker connection, both from the
// envconfig-based settings in shared/config.ts.
import { Client, Connection } from '@temporalio/client';
import type { DataConverter, Duration } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { dataConverterFromEnv } from './codec';
import { loadConfig, type RlhfConfig } from './config';

/** The Temporal server cannot be reached. One line naming the address and the fix. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
  constructor(
    readonly address: string,
    reason: string,
  ) {
    super(`Temporal server at ${address} unreachable (${reason}); start it with \`npm run stack -- up\` or set TEMPORAL_ADDRESS`);
  }
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split('\n')[0] ?? message;
  return first.length > 200 ? `${first.slice(0, 200)}...` : first;
}

/** A connected Temporal client for the configured address and namespace. Close it with `closeClient`. */
export async function connectClient(
  config: Pick<RlhfConfig, 'temporal'> = loadConfig(),
  // dataConverter: default = payload encryption when RLHF_PAYLOAD_KEY is set (shared/codec), else the SDK's.
  options: { connectTimeout?: Duration; dataConverter?: DataConverter } = {},
): Promise<Client> {
  const t = config.temporal;
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...t.connectionOptions, connectTimeout: options.connectTimeout ?? '10s' });
  } catch (err) {
    throw new TemporalUnreachableError(t.address, reasonOf(err));
  }
  const dataConverter = options.dataConverter ?? dataConverterFromEnv();
  return new Client({ connection, namespace: t.namespace, ...(dataConverter ? { dataConverter } : {}) });
}

/** Closes the client's connection. */
export async function closeClient(client: Client): Promise<void> {
  await client.connection.close();
}

/** A native (Rust core) connection for workers. */
export async function connectWorker(config: Pick<RlhfConfig, 'temporal'> = loadConfig()): Promise<NativeConnection> {
  const t = config.temporal;
  try {
    return await NativeConnection.connect(t.connectionOptions);
  } catch (err) {
    throw new TemporalUnreachableError(t.address, reasonOf(err));
  }
}
