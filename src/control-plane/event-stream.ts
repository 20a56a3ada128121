import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** One open server-sent-events response. */
export interface EventStream {
  /** Writes one event; a stream that has ended ignores it. */
  send(event: string, id: number | string, data: unknown): void;
  /** Writes one event whose data is already JSON (one line), e.g. made once for many streams. */
  sendJson(event: string, id: number | string, json: string): void;
  /** Writes a comment line (`: text`), e.g. a keep-alive ping. */
  comment(text: string): void;
  /** Runs `fn` once when the stream ends (client gone, error, or the app closing). */
  onEnd(fn: () => void): void;
  end(): void;
}

/**
 * Returns a function that takes over a request's response as a server-sent-events stream. Call it while
 * registering routes (it adds a close hook): streams end when the client goes away or when the app closes
 * (an open stream would otherwise hold the server open).
 */
export function eventStreams(app: FastifyInstance): (req: FastifyRequest, reply: FastifyReply) => EventStream {
  const streams = new Set<EventStream>();
  app.addHook('preClose', async () => {
    for (const s of [...streams]) s.end();
  });
  return (req, reply) => openEventStream(streams, req, reply);
}

function openEventStream(streams: Set<EventStream>, req: FastifyRequest, reply: FastifyReply): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const enders: (() => void)[] = [];
  let ended = false;
  const stream: EventStream = {
    send(event, id, data) {
      if (ended || res.writableEnded) return;
      res.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    sendJson(event, id, json) {
      if (ended || res.writableEnded) return;
      res.write(`id: ${id}\nevent: ${event}\ndata: ${json}\n\n`);
    },
    comment(text) {
      if (!ended && !res.writableEnded) res.write(`: ${text}\n\n`);
    },
    onEnd(fn) {
      enders.push(fn);
    },
    end() {
      if (ended) return;
      ended = true;
      streams.delete(stream);
      for (const fn of enders) fn();
      if (!res.writableEnded) res.end();
    },
  };
  streams.add(stream);
  req.raw.on('close', () => stream.end());
  res.on('error', () => stream.end());
  return stream;
}
