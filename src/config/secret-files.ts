/**
 * auth_token_file and cluster_secret_file: one token a line, read once at start and added after the
 * tokens given inline. Keeping secrets in a file (mode 0600) keeps them out of `ps` and of the
 * environment of child processes.
 */
import { readFile } from 'node:fs/promises';
import { MAX_SECRET_LENGTH, MIN_SECRET_LENGTH } from './options.js';

export type SecretFileResult =
  | { readonly ok: true; readonly secrets: readonly string[] }
  | { readonly ok: false; readonly error: string };

/** The tokens of a file: one a line, blank lines and `#` comments skipped. */
export async function readSecretFile(path: string, name: string): Promise<SecretFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { ok: false, error: `${name}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code}` };
  }
  const secrets: string[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.length < MIN_SECRET_LENGTH || line.length > MAX_SECRET_LENGTH || !/^[\x21-\x7e]+$/.test(line)) {
      // The line's number, never its text: it may be a secret with a typo.
      return {
        ok: false,
        error: `${name}: line ${index + 1} of ${path} must be a token of ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} printable ASCII characters without spaces`,
      };
    }
    secrets.push(line);
  }
  if (secrets.length === 0) return { ok: false, error: `${name}: ${path} holds no token` };
  return { ok: true, secrets };
}
