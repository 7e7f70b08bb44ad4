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
  process.stdout.write(JSON.stringify({ level: 30, time: Date.now(), msg: `buildgraph listening on ${service.url}` }) + '\n');
}

main().catch((e: unknown) => {
  // start-up failures (a bad setting found while opening the store or NATS) name the setting in the message
  process.stderr.write(`buildgraph: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
