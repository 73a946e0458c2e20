import { readFileSync } from 'node:fs';

// Two levels up from both src/cli/ and dist/cli/, and always part of the installed package.
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export function packageVersion(): string {
  return (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;
}

export async function versionCommand(): Promise<number> {
  process.stdout.write(`acihost ${packageVersion()}\n`);
  return 0;
}
