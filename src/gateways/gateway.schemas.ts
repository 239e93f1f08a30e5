import { z } from 'zod';
import type { GatewaysTable } from '../db/schema.js';
import { cmppGatewayConfigSchema } from './cmpp/cmpp.gateway.js';
import { smppGatewayConfigSchema } from './smpp/smpp.gateway.js';
import { kannelGatewayConfigSchema } from './kannel/kannel.gateway.js';
import { mm7GatewayConfigSchema } from './mm7/mm7.gateway.js';

export type GatewayProtocol = GatewaysTable['protocol'];

export const GATEWAY_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
export const gatewayName = z
  .string()
  .regex(GATEWAY_NAME_PATTERN, 'a gateway name is 1–63 characters: a-z, 0-9, "_" and "-", starting with a letter');
export const gatewayParams = z.object({ name: gatewayName });

/**
 * Settings keys that hold a secret, in any protocol: stored, handed to the adapter, and otherwise
 * never shown (answers say `passwordSet`, audit rows say `[redacted]`).
 */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set(['password', 'sharedSecret', 'callbackToken']);
export const REDACTED = '[redacted]';

const ratePerSecond = z
  .number()
  .int('must be a whole number of message parts per second')
  .min(1)
  .max(100_000)
  .describe('message parts per second this gateway takes, across every worker');

const { password: smppPassword, ...smppPublicSettings } = smppGatewayConfigSchema.shape;

const smppBody = z.strictObject({
  protocol: z.literal('smpp'),
  ratePerSecond,
  ...smppPublicSettings,
  password: smppPassword.optional().describe('required for a new gateway; left out of a change, the stored one is kept'),
});

// The protocol names the CMPP version (cmpp2, cmpp3), so `version` is no setting of its own.
const { sharedSecret: cmppSharedSecret, version: _cmppVersion, ...cmppPublicSettings } = cmppGatewayConfigSchema.shape;

const cmppBody = <P extends 'cmpp2' | 'cmpp3'>(protocol: P) =>
  z.strictObject({
    protocol: z.literal(protocol),
    ratePerSecond,
    ...cmppPublicSettings,
    sharedSecret: cmppSharedSecret
      .optional()
      .describe("the ISMG's shared secret (共享密钥); required for a new gateway, left out of a change the stored one is kept"),
  });

const { password: kannelPassword, ...kannelPublicSettings } = kannelGatewayConfigSchema.shape;

const kannelBody = z.strictObject({
  protocol: z.literal('kannel'),
  ratePerSecond,
  ...kannelPublicSettings,
  password: kannelPassword.optional().describe("the sendsms-user's password; required for a new gateway, left out of a change the stored one is kept"),
});

const { password: mm7Password, callbackToken: mm7CallbackToken, ...mm7PublicSettings } = mm7GatewayConfigSchema.shape;

const mm7Body = z.strictObject({
  protocol: z.literal('mm7'),
  ratePerSecond,
  ...mm7PublicSettings,
  password: mm7Password.optional().describe("the MMSC's password for us (with username); required for a new gateway, left out of a change the stored one is kept"),
  callbackToken: mm7CallbackToken
    .optional()
    .describe('what the MMSC presents on POST /v1/feedback/mm7 (basic-auth password or bearer token); required for a new gateway, kept when left out'),
});

export const GATEWAY_PROTOCOLS = ['smpp', 'cmpp2', 'cmpp3', 'kannel', 'mm7'] as const satisfies readonly GatewayProtocol[];

export const putGatewayBody = z.discriminatedUnion(
  'protocol',
  [smppBody, cmppBody('cmpp2'), cmppBody('cmpp3'), kannelBody, mm7Body],
  {
    error: (issue) => (issue.code === 'invalid_union' ? `must be one of ${GATEWAY_PROTOCOLS.join(', ')}` : undefined),
  },
);
export type PutGatewayBody = z.output<typeof putGatewayBody>;

const liveStatus = {
  status: z.enum(['connected', 'connecting', 'down']).describe("this process's connection to the gateway"),
  lastError: z.string().optional().describe('why the last connection attempt or link failed'),
};

const common = {
  name: z.string(),
  ratePerSecond: z.number(),
  simulator: z.boolean().describe('the SMSC simulator the API starts on loopback (GATEWAY_SIMULATOR)'),
  passwordSet: z.boolean().describe('a password is stored; it is never shown'),
  ...liveStatus,
  createdBy: z.string(),
  createdAt: z.string(),
  updatedBy: z.string(),
  updatedAt: z.string(),
};

// Built from the public settings only: even a view that carried the password would lose it here.
const smppView = z.object({ protocol: z.literal('smpp'), ...common, ...smppPublicSettings });
const cmppView = <P extends 'cmpp2' | 'cmpp3'>(protocol: P) => z.object({ protocol: z.literal(protocol), ...common, ...cmppPublicSettings });
const kannelView = z.object({ protocol: z.literal('kannel'), ...common, ...kannelPublicSettings });
const mm7View = z.object({
  protocol: z.literal('mm7'),
  ...common,
  ...mm7PublicSettings,
  callbackTokenSet: z.boolean().describe('a callback token is stored; it is never shown'),
});

export const gatewayView = z.discriminatedUnion('protocol', [smppView, cmppView('cmpp2'), cmppView('cmpp3'), kannelView, mm7View]);
export type GatewayView = z.output<typeof gatewayView>;

export const gatewaysAnswer = z.object({ gateways: z.array(gatewayView) });
