/**
 * `acihost serve` re-executes itself, in place (same process id, signals, standard
 * streams and exit code), when it was started without the runtime settings of
 * src/runtime/runtime-settings.ts: however it is started (npm start, a global install's
 * bin, the container, systemd), the server runs with them. The new process has
 * them, so this happens at most once. Other commands run as started.
 */
import { has, readCommandLine } from './command-line.ts';
import { missingSettings, MMAP_THRESHOLD_BYTES, MMAP_THRESHOLD_VARIABLE, SEMI_SPACE_FLAG } from '../runtime/runtime-settings.ts';

function relaunch(argv: string[]): void {
  const line = readCommandLine(argv);
  if (line.words[0] !== 'serve' || has(line, 'help')) return;
  const settings = missingSettings(process.env, process.execArgv);
  if (!settings) return;
  const script = process.argv[1]!;
  try {
    // process.execve is Node >= 22.15 (and not on Windows); without it the server runs as started.
    if (process.execve) process.execve(process.execPath, [process.execPath, ...settings.execArgv, script, ...argv], settings.env);
  } catch {
    // fall through to the warning: the process is still this one
  }
  process.stderr.write(
    `acihost: could not restart with ${MMAP_THRESHOLD_VARIABLE}=${MMAP_THRESHOLD_BYTES} and ${SEMI_SPACE_FLAG}; ` +
      `serving without them uses more memory (Node 22.15 or newer restarts itself with them; or set them in the environment and NODE_OPTIONS)\n`,
  );
}

// Evaluated first by src/cli.ts, before the heap policy and the compile cache.
relaunch(process.argv.slice(2));
