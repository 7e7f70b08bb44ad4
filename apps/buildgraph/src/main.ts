import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/config';
import { startService } from './service';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`buildgraph: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const service = await startService(config);
  const log = (msg: string): boolean => process.stdout.write(JSON.stringify({ level: 30, time: Date.now(), service: 'buildgraph', msg }) + '\n');
  log(`buildgraph listening on ${service.url}`);
  // graceful: refuse new commands, finish the ones in flight, drain NATS, close the store; exit 0
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: shutting down`);
      service.close().then(
        () => process.exit(0),
        (e: unknown) => {
          process.stderr.write(`buildgraph: shutdown failed: ${e instanceof Error ? e.message : String(e)}\n`);
          process.exit(1);
        },
      );
    });
  }
}

main().catch((e: unknown) => {
  // start-up failures (a bad setting found while opening the store or NATS) name the setting in the message
  process.stderr.write(`buildgraph: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
