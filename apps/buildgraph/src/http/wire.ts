import { errorReply, HTTP_STATUS, Reply } from '@buildgraph/contracts';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The parts of Fastify's request and reply the controllers use (fastify's own types stay out of the controllers). */
export interface Request {
  raw: IncomingMessage;
  headers: IncomingMessage['headers'];
}
export interface Response {
  raw: ServerResponse;
  status(code: number): Response;
  type(contentType: string): Response;
  header(name: string, value: string): Response;
  send(body?: unknown): Response;
  /** the handler writes to `raw` itself (streaming): Fastify sends nothing more */
  hijack(): Response;
}

/** Reads the raw request body, or undefined once it exceeds `limit` bytes (the rest is discarded). */
export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (!over) chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** One header's value as Express's `req.header()` gave it: repeated headers joined by node, absent as undefined. */
export function header(req: Request, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** The HTTP form of a wire reply: the same body, the status that matches its code. */
export function sendReply(res: Response, reply: Reply<object>): void {
  res.status(reply.ok ? 200 : HTTP_STATUS[reply.error.code]).type(JSON_TYPE).send(JSON.stringify(reply));
}

export function tooLarge(limit: number): Reply<object> {
  return errorReply('PAYLOAD_TOO_LARGE', `request body is over the limit of ${limit} bytes`, { limit });
}
