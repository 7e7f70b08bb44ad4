import { Worker } from 'node:worker_threads';

/**
 * Loads a module in a worker thread and calls one of its exports with (data, parentPort): the compiled
 * .js in production, the .ts source under swc (the bench, `npm run start:dev`, Jest), whose register
 * hook the thread needs too.
 */
const BOOT = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.module.endsWith('.ts')) require('@swc-node/register');
require(workerData.module)[workerData.entry](workerData.data, parentPort);
`;

export function startThread(module: string, entry: string, data: unknown): Worker {
  return new Worker(BOOT, { eval: true, workerData: { module, entry, data } });
}

/** A log line a thread asks the service to write (threads have no Nest logger of their own). */
export interface ThreadLog {
  type: 'log';
  level: 'log' | 'warn' | 'error';
  message: string;
  details?: Record<string, unknown>;
}
