/** Flags that a request's query string (or its Accept header) can carry. */

/** `?returnbody` (or `?returnbody=true`) asks a REST PUT to echo the value in its answer. */
export function wantsReturnBody(query: string | null | undefined): boolean {
  if (!query) return false;
  return query
    .split('&')
    .some((part) => part === 'returnbody' || part === 'returnbody=true' || part === 'returnbody=1');
}

/** `?raw` (with or without a value) or `Accept: application/octet-stream` asks for the bare value. */
export function wantsRawValue(query: string | null | undefined, accept: string): boolean {
  if (accept.includes('application/octet-stream')) return true;
  if (!query) return false; // uWS gives null when the URL has no query
  return query.split('&').some((part) => part === 'raw' || part.startsWith('raw='));
}
