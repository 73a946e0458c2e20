/**
 * Preloaded (`node --import`) into a command the benchmark times: at exit it writes the
 * process's resource usage (maxRSS: its peak resident memory, KiB) to $BENCH_USAGE_FILE.
 */
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  const file = process.env.BENCH_USAGE_FILE;
  if (file) writeFileSync(file, JSON.stringify(process.resourceUsage()));
});
