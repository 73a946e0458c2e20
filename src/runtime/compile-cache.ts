/**
 * Keeps V8's compiled code of acihost and its dependencies on disk between starts
 * (Node's module compile cache; in the system's temporary directory unless
 * NODE_COMPILE_CACHE names another, and rebuilt by itself when it is gone or stale).
 * Compiling the few hundred modules a server loads is a large part of a cold start
 * (docs/benchmarks.md#cold-start).
 */
// A namespace import: a named one fails to link on a Node without it, before
// src/cli/require-node.ts can say which Node is needed.
import * as nodeModule from 'node:module';

// Evaluated before src/cli.ts loads any command: every module loaded after this is cached.
nodeModule.enableCompileCache?.();
