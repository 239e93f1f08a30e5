import { describe, expect, it } from 'vitest';
import { jsonNestingExceeds } from '../../src/http/plugins/security.js';
import { scrubSecrets } from '../../src/security/redact.js';

describe('jsonNestingExceeds', () => {
  it('counts arrays and objects, not brackets inside strings or escaped quotes', () => {
    expect(jsonNestingExceeds('{"a":[{"b":1}]}', 3)).toBe(false);
    expect(jsonNestingExceeds('{"a":[{"b":[1]}]}', 3)).toBe(true);
    expect(jsonNestingExceeds('{"a":"[[[[[[{{{{"}', 1)).toBe(false);
    expect(jsonNestingExceeds('{"a":"quote \\" then [[[[ still a string"}', 1)).toBe(false);
    expect(jsonNestingExceeds('{"a":"ends with backslash \\\\"}', 1)).toBe(false);
    expect(jsonNestingExceeds('{"a":"x \\\\", "b":[[1]]}', 2)).toBe(true);
    expect(jsonNestingExceeds('[[],[],[],[]]', 2)).toBe(false);
    expect(jsonNestingExceeds(`${'['.repeat(100)}${']'.repeat(100)}`, 99)).toBe(true);
  });
});

describe('scrubSecrets', () => {
  it('masks standalone 11-digit numbers, with or without the country prefix', () => {
    expect(scrubSecrets('msisdn=13812345678&x=1')).toBe('msisdn=138****5678&x=1');
    expect(scrubSecrets('"+8613900001111"')).toBe('"139****1111"');
    expect(scrubSecrets('008615000000000')).toBe('150****0000');
  });

  it('leaves longer digit runs and request ids alone', () => {
    expect(scrubSecrets('"time":1795399883380')).toBe('"time":1795399883380');
    expect(scrubSecrets('id 3f2a1b4c-1d2e-4f3a-9b8c-a12345678901')).toBe('id 3f2a1b4c-1d2e-4f3a-9b8c-a12345678901');
  });

  it('keeps only the public prefix of an API key', () => {
    expect(scrubSecrets('Bearer qk_0a1b2c3d_dK4zvRmSlwW4LtXmR3tDCandeDrJ6Zv-rkMEpXCPeFQ!')).toBe('Bearer qk_0a1b2c3d_[redacted]!');
  });
});
