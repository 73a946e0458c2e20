/**
 * Image names and the storage keys an image can have, held to the rules every
 * published image passed (src/names.ts), lengths included, so nothing a client
 * names reaches a storage key that no push could have made.
 */
import { layout } from '../storage/layout.ts';
import { isAcIdentifier, MAX_LABEL_BYTES, MAX_NAME_BYTES, nameFits, osArchPairs } from '../names.ts';

/** An image name as the manifest must give it, within the lengths storage holds. */
export const isImageName = (name: string): boolean => nameFits(name) && isAcIdentifier(name);

const longestPlatform = osArchPairs().reduce((a, b) => (a.join('-').length >= b.join('-').length ? a : b));

const longestCoordinates = { name: 'n'.repeat(MAX_NAME_BYTES), version: 'v'.repeat(MAX_LABEL_BYTES), os: longestPlatform[0], arch: longestPlatform[1] };

/** The longest keys an image can have: its version record and tombstones at the longest name, version and os/arch. */
const LONGEST_IMAGE_KEYS = [
  layout.versionRecord(longestCoordinates),
  layout.tombstone(longestCoordinates),
  layout.recordTombstone(longestCoordinates, layout.blob('0'.repeat(32))),
];

export const LONGEST_IMAGE_KEY_BYTES = Math.max(...LONGEST_IMAGE_KEYS.map((k) => Buffer.byteLength(k)));
