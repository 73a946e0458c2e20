#!/usr/bin/env node
/**
 * `node dist/healthcheck.js [--config FILE]`: exits 0 when this machine's
 * acihost answers /-/health/ready with 200, 1 otherwise. For container
 * HEALTHCHECKs (the image has no curl). It reads the same configuration as
 * `acihost serve` to find the port and whether TLS is on, and does not verify
 * the certificate: it names the public host, and this asks 127.0.0.1.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.ts';

const TIMEOUT_MS = 5000;

function probe(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string' } }, allowPositionals: false });
  const config = loadConfig({ file: values.config });
  const tls = config.tls.enabled;
  const send = tls ? httpsRequest : httpRequest;
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${config.server.port}/-/health/ready`;
  return new Promise((resolve) => {
    const req = send(url, { rejectUnauthorized: false, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => {
      process.stderr.write(`healthcheck: ${e.message}\n`);
      resolve(0);
    });
    req.end();
  });
}

probe().then(
  (status) => {
    if (status !== 200) process.stderr.write(`healthcheck: ready answered ${status}\n`);
    process.exitCode = status === 200 ? 0 : 1;
  },
  (e: unknown) => {
    process.stderr.write(`healthcheck: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
