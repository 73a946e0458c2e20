import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/load.ts';

/**
 * The operator's secret that encrypts the server signing keys in storage. It is never a
 * setting of the configuration file: it comes from the environment, or from a file the
 * environment names (a mounted secret), so the file and storage alone never open the keys.
 */
export const SIGNING_SECRET_VARIABLE = 'ACIHOST_SIGNING_SECRET';
export const SIGNING_SECRET_FILE_VARIABLE = 'ACIHOST_SIGNING_SECRET_FILE';
export const MIN_SIGNING_SECRET_CHARS = 16;

/** How to set it, for messages. */
export const SIGNING_SECRET_HINT =
  `set ${SIGNING_SECRET_VARIABLE} (at least ${MIN_SIGNING_SECRET_CHARS} characters), ` +
  `or ${SIGNING_SECRET_FILE_VARIABLE} to a file holding it`;

/**
 * The secret, or undefined when neither variable is set. Both set, an unreadable file or a
 * secret too short is a configuration error; no message repeats the secret.
 */
export function readSigningSecret(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env[SIGNING_SECRET_VARIABLE];
  const file = env[SIGNING_SECRET_FILE_VARIABLE];
  if (direct && file) {
    throw new ConfigError([`${SIGNING_SECRET_VARIABLE} and ${SIGNING_SECRET_FILE_VARIABLE} are both set; set one of them`]);
  }
  let secret = direct || undefined;
  if (file) {
    try {
      // A file written by echo or an editor ends in a newline that is no part of the secret.
      secret = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new ConfigError([
        `${SIGNING_SECRET_FILE_VARIABLE}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      ]);
    }
  }
  if (secret === undefined) return undefined;
  if ([...secret].length < MIN_SIGNING_SECRET_CHARS) {
    const from = file ? `the file ${file} named by ${SIGNING_SECRET_FILE_VARIABLE}` : SIGNING_SECRET_VARIABLE;
    throw new ConfigError([`the signing secret in ${from} is shorter than ${MIN_SIGNING_SECRET_CHARS} characters; use a longer one`]);
  }
  return secret;
}
