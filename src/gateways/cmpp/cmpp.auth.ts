import { createHash } from 'node:crypto';
import type { CmppVersion } from './cmpp.pdus.js';

/**
 * CMPP login: the shared secret never travels; both sides prove they hold it with MD5 digests over
 * the enterprise code, the secret and a timestamp.
 */

/** MMDDHHMMSS of `date` in a zone `utcOffsetMinutes` ahead of UTC (480 for China), as the number CONNECT carries. */
export function cmppTimestamp(date: Date, utcOffsetMinutes: number): number {
  const local = new Date(date.getTime() + utcOffsetMinutes * 60_000);
  return (
    (local.getUTCMonth() + 1) * 100_000_000 +
    local.getUTCDate() * 1_000_000 +
    local.getUTCHours() * 10_000 +
    local.getUTCMinutes() * 100 +
    local.getUTCSeconds()
  );
}

/** AuthenticatorSource = MD5(Source_Addr + 9 zero octets + shared secret + Timestamp as 10 digits). */
export function connectAuthenticator(sourceAddr: string, sharedSecret: string, timestamp: number): Buffer {
  return createHash('md5')
    .update(Buffer.from(sourceAddr, 'latin1'))
    .update(Buffer.alloc(9))
    .update(Buffer.from(sharedSecret, 'utf8'))
    .update(String(timestamp).padStart(10, '0'), 'latin1')
    .digest();
}

/**
 * AuthenticatorISMG = MD5(Status + AuthenticatorSource + shared secret), Status written as wide as
 * CONNECT_RESP carries it (1 octet in 2.0, 4 in 3.0).
 */
export function ismgAuthenticator(status: number, authenticatorSource: Buffer, sharedSecret: string, version: CmppVersion): Buffer {
  const statusOctets = Buffer.alloc(version === 3 ? 4 : 1);
  statusOctets.writeUIntBE(status, 0, statusOctets.length);
  return createHash('md5').update(statusOctets).update(authenticatorSource).update(Buffer.from(sharedSecret, 'utf8')).digest();
}
