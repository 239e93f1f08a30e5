import { describe, expect, it } from 'vitest';
import { encodeSms, isGsm7, MAX_PARTS } from '../../src/gateways/sms-encoding.js';

describe('encodeSms: GSM 03.38', () => {
  it('fits 160 basic characters in one message and splits 161 into 153 + 8', () => {
    const full = 'a'.repeat(160);
    expect(encodeSms(full)).toEqual({ encoding: 'GSM7', chars: 160, parts: [full] });

    const over = 'b'.repeat(161);
    const encoded = encodeSms(over);
    expect(encoded.encoding).toBe('GSM7');
    expect(encoded.chars).toBe(161);
    expect(encoded.parts.map((part) => part.length)).toEqual([153, 8]);
    expect(encoded.parts.join('')).toBe(over);
  });

  it('counts extension characters as two septets', () => {
    expect(encodeSms('€')).toEqual({ encoding: 'GSM7', chars: 2, parts: ['€'] });
    expect(encodeSms('^{}\\[~]|€\f').chars).toBe(20);
    // 79 letters + one € = 81 septets, one message; 80 € = 160 septets, still one message.
    expect(encodeSms(`${'x'.repeat(79)}€`).chars).toBe(81);
    expect(encodeSms('€'.repeat(80)).parts).toHaveLength(1);
    // 81 € = 162 septets: two parts, 76 € (152 septets, the 77th would make 154) then 5.
    expect(encodeSms('€'.repeat(81)).parts.map((part) => part.length)).toEqual([76, 5]);
  });

  it('never splits an escape sequence across parts', () => {
    // 152 letters then '{': the brace would be septets 153 and 154, so it opens the second part.
    const text = `${'a'.repeat(152)}{${'a'.repeat(10)}`;
    expect(encodeSms(text).chars).toBe(164);
    expect(encodeSms(text).parts).toEqual(['a'.repeat(152), `{${'a'.repeat(10)}`]);
  });

  it('treats accented letters of the basic table as GSM and others as UCS-2', () => {
    expect(isGsm7('Ça coûte 5€ à Zürich')).toBe(false); // û is not in GSM 03.38
    expect(isGsm7('Ça va à Zürich, 5€ @ 10:00?')).toBe(true);
    expect(isGsm7('escape \x1b inside')).toBe(false);
  });

  it('counts a 3-part GSM text: 2 × 153 + 1', () => {
    const parts = encodeSms('z'.repeat(307)).parts;
    expect(parts.map((part) => part.length)).toEqual([153, 153, 1]);
  });
});

describe('encodeSms: UCS-2', () => {
  it('fits 70 Chinese characters in one message and splits 71 into 67 + 4', () => {
    const full = '中'.repeat(70);
    expect(encodeSms(full)).toEqual({ encoding: 'UCS2', chars: 70, parts: [full] });

    const over = '国'.repeat(71);
    const encoded = encodeSms(over);
    expect(encoded.chars).toBe(71);
    expect(encoded.parts.map((part) => part.length)).toEqual([67, 4]);
  });

  it('switches the whole text to UCS-2 when one character is outside GSM', () => {
    expect(encodeSms('Hello 您好')).toEqual({ encoding: 'UCS2', chars: 8, parts: ['Hello 您好'] });
  });

  it('counts an emoji as two UTF-16 code units and never splits the pair', () => {
    expect(encodeSms('😀')).toEqual({ encoding: 'UCS2', chars: 2, parts: ['😀'] });
    expect(encodeSms('😀'.repeat(35)).parts).toHaveLength(1);
    // 66 Chinese characters then an emoji: the pair would be units 67 and 68, so it moves on.
    const text = `${'好'.repeat(66)}😀${'好'.repeat(10)}`;
    const encoded = encodeSms(text);
    expect(encoded.chars).toBe(78);
    expect(encoded.parts).toEqual(['好'.repeat(66), `😀${'好'.repeat(10)}`]);
  });

  it('keeps a signed Chinese marketing text to the parts an operator would count', () => {
    // 【中国移动】 (6) + 67 characters + 回T退订 (4) = 77 units: 67 + 10.
    const text = `【中国移动】${'流'.repeat(67)}回T退订`;
    expect(encodeSms(text).chars).toBe(77);
    expect(encodeSms(text).parts.map((part) => part.length)).toEqual([67, 10]);
  });
});

describe('encodeSms: edges', () => {
  it('sends an empty text as one empty part', () => {
    expect(encodeSms('')).toEqual({ encoding: 'GSM7', chars: 0, parts: [''] });
  });

  it('exports the part limit', () => {
    expect(MAX_PARTS).toBe(10);
  });
});
