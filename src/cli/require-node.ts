/**
 * The first module the command line evaluates: on a Node older than the package's
 * `engines` (a system Node found first on the PATH, say), one line that says what
 * to do instead of an error from deep inside a module. It may use nothing newer
 * than the Nodes it refuses.
 */
const MINIMUM = 22;
const major = Number(process.versions.node.split('.')[0]);
if (major < MINIMUM) {
  process.stderr.write(
    `acihost: needs Node ${MINIMUM} or newer, and this is ${process.version} (${process.execPath}); ` +
      "put the checkout's node_modules/.bin first on your PATH (it holds Node 24), or install Node 24\n",
  );
  process.exit(2);
}
