/**
 * The one import point for `@peculiar/x509`: its dependency injection needs the
 * Reflect metadata polyfill loaded first, and it must use Node's WebCrypto.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
