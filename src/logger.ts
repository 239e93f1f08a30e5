import pino, { type Logger, type LoggerOptions } from 'pino';
import { scrubSecrets } from './security/redact.js';

/**
 * Log options shared by the API, workers and CLI. Secrets and whole phone numbers never reach a
 * log line: headers carrying keys are redacted, and code logs masked numbers only.
 */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.sharedSecret', '*.apiKey', '*.key_hash', '*.secret'],
      censor: '[redacted]',
    },
    // The net under the rules above: whatever a line still carries that looks like a phone number
    // or an API key is masked as the line is written.
    hooks: { streamWrite: scrubSecrets },
  };
}

export function createLogger(level: string): Logger {
  return pino(loggerOptions(level));
}
