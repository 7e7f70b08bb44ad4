import { errorReply, HTTP_STATUS, Reply } from '@buildgraph/contracts';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The parts of Express's request/response we use (@types/express is not installed). */
export type Request = IncomingMessage & { header(name: string): string | undefined };
export type Response = ServerResponse & {
  status(code: number): Response;
  json(body: unknown): void;
  type(contentType: string): Response;
  send(body: unknown): void;
};

/** Reads the raw request body, or undefined once it exceeds `limit` bytes (the rest is discarded). */
export function readRawBody(req: Request, limit: number): Promise<Buffer | undefined> {
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

/** The HTTP form of a wire reply: the same body, the status that matches its code. */
export function sendReply(res: Response, reply: Reply<object>): void {
  res.status(reply.ok ? 200 : HTTP_STATUS[reply.error.code]).json(reply);
}

export function tooLarge(limit: number): Reply<object> {
  return errorReply('PAYLOAD_TOO_LARGE', `request body is over the limit of ${limit} bytes`, { limit });
}
