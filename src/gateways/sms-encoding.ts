/**
 * How a text travels as SMS: which alphabet, how long it is in that alphabet's units, and how it
 * splits into concatenated parts. Pure, so the render preview, the campaign validation and the
 * gateway adapters all count the same way.
 */

export type SmsEncoding = 'GSM7' | 'UCS2';

export interface EncodedSms {
  encoding: SmsEncoding;
  /** Length in the encoding's units: septets for GSM7 (extension characters count 2), UTF-16 code units for UCS2. */
  chars: number;
  /** The text of each part, in order; one part when the whole text fits a single message. */
  parts: string[];
}

/** Concatenated messages longer than this are refused: handsets and SMSCs drop or garble them. */
export const MAX_PARTS = 10;

const GSM7_SINGLE = 160;
// A concatenated part carries a 6-octet UDH (0x05 0x00 0x03 ref total seq): 48 bits = 7 septets.
const GSM7_PART = 153;
const UCS2_SINGLE = 70;
// The same 6 octets are 3 UTF-16 code units.
const UCS2_PART = 67;

// GSM 03.38 default alphabet, basic table. The escape (0x1B) is deliberately left out: a literal
// escape in a text would swallow the character after it on the handset.
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
// The extension table: each is sent as escape + character, two septets.
const GSM7_EXTENSION = new Set('\f^{}\\[~]|€');

/** Septets the character takes in GSM 03.38, or null when it is not in the alphabet. */
function gsm7Septets(char: string): 1 | 2 | null {
  if (GSM7_BASIC.has(char)) return 1;
  if (GSM7_EXTENSION.has(char)) return 2;
  return null;
}

export function isGsm7(text: string): boolean {
  for (const char of text) {
    if (gsm7Septets(char) === null) return false;
  }
  return true;
}

/**
 * Splits `units` (each one indivisible: a character with its escape, a surrogate pair) into parts
 * of at most `perPart` cost, never cutting a unit in two.
 */
function splitUnits(units: ReadonlyArray<{ text: string; cost: number }>, perPart: number): string[] {
  const parts: string[] = [];
  let current = '';
  let used = 0;
  for (const unit of units) {
    if (used + unit.cost > perPart) {
      parts.push(current);
      current = '';
      used = 0;
    }
    current += unit.text;
    used += unit.cost;
  }
  parts.push(current);
  return parts;
}

/** Chooses the alphabet for `text`, counts it and splits it into the parts a gateway submits. */
export function encodeSms(text: string): EncodedSms {
  // `for…of` walks code points, so a surrogate pair (an emoji) is one unit of cost 2.
  const codePoints = Array.from(text);
  if (isGsm7(text)) {
    const units = codePoints.map((char) => ({ text: char, cost: gsm7Septets(char) ?? 1 }));
    const chars = units.reduce((sum, unit) => sum + unit.cost, 0);
    return { encoding: 'GSM7', chars, parts: chars <= GSM7_SINGLE ? [text] : splitUnits(units, GSM7_PART) };
  }
  const units = codePoints.map((char) => ({ text: char, cost: char.length }));
  const chars = text.length;
  return { encoding: 'UCS2', chars, parts: chars <= UCS2_SINGLE ? [text] : splitUnits(units, UCS2_PART) };
}
