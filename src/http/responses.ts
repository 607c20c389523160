/**
 * Response bodies. The shapes follow upstream Lally's HTTP API (see docs/api.md): every key operation
 * answers status, key, value, timestamp, quorum {required, achieved} and message. Bodies are built as
 * strings (JSON.stringify of each string) because this runs for every request.
 */
import { type ErrorCode, ErrorCodes, httpStatusOf, LallyError } from '../errors.js';

export type QuorumState = 'success' | 'partial' | 'error';

export interface KvAnswer {
  readonly status: QuorumState;
  readonly key: string;
  readonly value: string | undefined;
  readonly timestamp: string | undefined;
  readonly required: number;
  readonly achieved: number;
  readonly message: string;
}

function jsonOrNull(text: string | undefined): string {
  return text === undefined ? 'null' : JSON.stringify(text);
}

export function kvAnswerJson(answer: KvAnswer): string {
  return (
    `{"status":"${answer.status}","key":${JSON.stringify(answer.key)},"value":${jsonOrNull(answer.value)},` +
    `"timestamp":${jsonOrNull(answer.timestamp)},"quorum":{"required":${answer.required},"achieved":${answer.achieved}},` +
    `"message":${JSON.stringify(answer.message)}}`
  );
}

/** The content types of the API's answers. */
export const JSON_TYPE = 'application/json';
export const OCTET_TYPE = 'application/octet-stream';

export const Messages = {
  added: () => 'Operation completed successfully.',
  fetched: (key: string) => `Key '${key}' was fetched successfully.`,
  missing: (key: string) => `Key '${key}' does not exist.`,
  removed: (key: string) => `Key '${key}' was successfully removed.`,
  removeMissing: (key: string) => `Key '${key}' does not exist in the store.`,
} as const;

export interface ErrorAnswer {
  readonly httpStatus: number;
  readonly body: string;
}

/** The answer for any error: `{"status":"error","code":...,"message":...}` with the code's HTTP status. */
export function errorAnswer(error: unknown): ErrorAnswer {
  const code: ErrorCode = error instanceof LallyError ? error.code : ErrorCodes.INTERNAL;
  const message = error instanceof LallyError ? error.message : 'internal error; see the server log';
  return { httpStatus: httpStatusOf(code), body: errorJson(code, message) };
}

export function errorJson(code: string, message: string): string {
  return `{"status":"error","code":${JSON.stringify(code)},"message":${JSON.stringify(message)}}`;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  413: '413 Payload Too Large',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
  507: '507 Insufficient Storage',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}
