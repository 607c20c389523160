/**
 * Back-pressure on gRPC streams: a write that returns false must wait for 'drain' before the next,
 * or messages pile up in memory (grpc-js buffers whatever it is given).
 */
import type { Writable } from 'node:stream';
import { ErrorCodes, LallyError } from '../errors.js';

/** Resolves at the stream's next 'drain'; rejects when it closes or fails first. */
export function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: unknown): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onError);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = (): void => done();
    const onClose = (): void =>
      done(new LallyError(ErrorCodes.PEER_UNAVAILABLE, 'the stream closed while waiting to write'));
    const onError = (error: unknown): void => done(error);
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onError);
  });
}

/** Writes `message`; when the stream's buffer is full, resolves only once it drained. */
export async function writeWithBackpressure<T>(stream: Writable, message: T): Promise<void> {
  if (!stream.write(message)) await drained(stream);
}
