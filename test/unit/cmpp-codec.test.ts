import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cmppTimestamp, connectAuthenticator, ismgAuthenticator } from '../../src/gateways/cmpp/cmpp.auth.js';
import {
  bodyOf,
  CmppCodecError,
  CmppFrameReader,
  decodePdu,
  decodeReport,
  encodePdu,
  encodeReport,
} from '../../src/gateways/cmpp/cmpp.codec.js';
import { contentPartCount, contentParts, decodeContent, MSG_FMT_ASCII, MSG_FMT_GBK, MSG_FMT_UCS2 } from '../../src/gateways/cmpp/cmpp.content.js';
import type { CmppPdu, CmppVersion, ReportBody } from '../../src/gateways/cmpp/cmpp.pdus.js';
import { composeMessageId, messageIdString, receiptFromReport } from '../../src/gateways/cmpp/cmpp.receipt.js';
import { classifyResult, resultCode } from '../../src/gateways/cmpp/cmpp.results.js';

// Octets written by hand from the specification's field tables.
const u8 = (n: number) => Buffer.from([n]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
/** A fixed-width octet string: ASCII, NUL-padded on the right. */
const pad = (text: string, width: number) => Buffer.concat([Buffer.from(text, 'latin1'), Buffer.alloc(width - text.length)]);
const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('CMPP CONNECT', () => {
  // Source_Addr 901234, shared secret "secret", 30 Nov 12:34:56. The digest was computed outside
  // this code base (Python: md5(b'901234' + b'\0'*9 + b'secret' + b'1130123456')).
  const AUTHENTICATOR = '8d0090b4d29250e1edea8216e3c0409f';

  it('computes AuthenticatorSource as MD5(Source_Addr + 9 zero octets + secret + Timestamp)', () => {
    expect(connectAuthenticator('901234', 'secret', 1_130_123_456).toString('hex')).toBe(AUTHENTICATOR);
    const independent = createHash('md5')
      .update(Buffer.concat([Buffer.from('901234'), Buffer.alloc(9), Buffer.from('secret'), Buffer.from('1130123456')]))
      .digest('hex');
    expect(independent).toBe(AUTHENTICATOR);
    // The timestamp is written with its leading zero (January): "0101080000".
    expect(connectAuthenticator('901234', 'secret', 101_080_000).toString('hex')).toBe('3eb4afb054a25bb1bce953e3881826e1');
  });

  it('writes the timestamp MMDDHHMMSS in the ISMG time zone', () => {
    expect(cmppTimestamp(new Date('2026-11-30T04:34:56Z'), 480)).toBe(1_130_123_456);
    expect(cmppTimestamp(new Date('2026-01-01T00:00:00Z'), 480)).toBe(101_080_000);
    expect(cmppTimestamp(new Date('2026-12-31T16:00:00Z'), 480)).toBe(101_000_000);
  });

  it('encodes CONNECT as the 39 octets of the field table, in both versions', () => {
    for (const [version, octet] of [
      [2, 0x20],
      [3, 0x30],
    ] as const) {
      const pdu: CmppPdu = {
        command: 'CONNECT',
        sequenceId: 7,
        body: { sourceAddr: '901234', authenticatorSource: hex(AUTHENTICATOR), version: octet, timestamp: 1_130_123_456 },
      };
      const expected = Buffer.concat([
        hex('00000027 00000001 00000007'),
        Buffer.from('901234'),
        hex(AUTHENTICATOR),
        u8(octet),
        hex('435c50c0'),
      ]);
      expect(encodePdu(pdu, version).toString('hex')).toBe(expected.toString('hex'));
      expect(decodePdu(expected, version)).toEqual(pdu);
    }
  });

  it('encodes CONNECT_RESP with a 1-octet Status in 2.0 and a 4-octet one in 3.0', () => {
    const auth2 = 'ec305974ac8e9e0f6d0a918d7c937755';
    const auth3 = 'd83fa8c6ca03c7b0bf6b3bc281de2c65';
    // MD5(Status + AuthenticatorSource + secret), Status as wide as the version writes it.
    expect(ismgAuthenticator(0, hex(AUTHENTICATOR), 'secret', 2).toString('hex')).toBe(auth2);
    expect(ismgAuthenticator(0, hex(AUTHENTICATOR), 'secret', 3).toString('hex')).toBe(auth3);
    const v2 = encodePdu({ command: 'CONNECT_RESP', sequenceId: 7, body: { status: 3, authenticatorIsmg: hex(auth2), version: 0x20 } }, 2);
    expect(v2.toString('hex')).toBe(`0000001e8000000100000007${'03'}${auth2}20`);
    const v3 = encodePdu({ command: 'CONNECT_RESP', sequenceId: 7, body: { status: 3, authenticatorIsmg: hex(auth3), version: 0x30 } }, 3);
    expect(v3.toString('hex')).toBe(`000000218000000100000007${'00000003'}${auth3}30`);
  });
});

describe('CMPP SUBMIT, SUBMIT_RESP, DELIVER and the status report', () => {
  const submit = bodyOf('SUBMIT', {
    msgId: 0n,
    pkTotal: 1,
    pkNumber: 1,
    registeredDelivery: 1,
    serviceId: 'MKT',
    feeUserType: 2,
    msgSrc: '901234',
    feeType: '01',
    feeCode: '000000',
    srcId: '1069000',
    destTerminalIds: ['13900000001'],
    msgContent: Buffer.from('Hi'),
  });

  it('encodes a 2.0 SUBMIT as 161 octets: 21-octet terminal ids, Reserve 8', () => {
    const expected = Buffer.concat([
      u32(161), u32(4), u32(9),
      u64(0n), u8(1), u8(1), u8(1), u8(0), pad('MKT', 10), u8(2), pad('', 21),
      u8(0), u8(0), u8(MSG_FMT_ASCII), pad('901234', 6), pad('01', 2), pad('000000', 6), pad('', 17), pad('', 17),
      pad('1069000', 21), u8(1), pad('13900000001', 21),
      u8(2), Buffer.from('Hi'), pad('', 8),
    ]);
    const encoded = encodePdu({ command: 'SUBMIT', sequenceId: 9, body: submit }, 2);
    expect(encoded.toString('hex')).toBe(expected.toString('hex'));
  });

  it('encodes a 3.0 SUBMIT as 197 octets: 32-octet terminal ids with their types, LinkID 20', () => {
    const expected = Buffer.concat([
      u32(197), u32(4), u32(9),
      u64(0n), u8(1), u8(1), u8(1), u8(0), pad('MKT', 10), u8(2), pad('', 32), u8(0),
      u8(0), u8(0), u8(MSG_FMT_ASCII), pad('901234', 6), pad('01', 2), pad('000000', 6), pad('', 17), pad('', 17),
      pad('1069000', 21), u8(1), pad('13900000001', 32), u8(0),
      u8(2), Buffer.from('Hi'), pad('', 20),
    ]);
    const encoded = encodePdu({ command: 'SUBMIT', sequenceId: 9, body: submit }, 3);
    expect(encoded.toString('hex')).toBe(expected.toString('hex'));
  });

  it('encodes SUBMIT_RESP with a 1-octet Result in 2.0 and a 4-octet one in 3.0', () => {
    const msgId = 0x0123_4567_89ab_cdefn;
    const pdu: CmppPdu = { command: 'SUBMIT_RESP', sequenceId: 9, body: { msgId, result: 8 } };
    expect(encodePdu(pdu, 2).toString('hex')).toBe('0000001580000004000000090123456789abcdef08');
    expect(encodePdu(pdu, 3).toString('hex')).toBe('000000188000000400000009' + '0123456789abcdef' + '00000008');
  });

  it('writes the status report in 60 octets (2.0) and 71 (3.0)', () => {
    const report: ReportBody = {
      msgId: 0x0123_4567_89ab_cdefn,
      stat: 'DELIVRD',
      submitTime: '2611301234',
      doneTime: '2611301235',
      destTerminalId: '13900000001',
      smscSequence: 42,
    };
    const v2 = Buffer.concat([hex('0123456789abcdef'), Buffer.from('DELIVRD'), Buffer.from('2611301234'), Buffer.from('2611301235'), pad('13900000001', 21), u32(42)]);
    const v3 = Buffer.concat([hex('0123456789abcdef'), Buffer.from('DELIVRD'), Buffer.from('2611301234'), Buffer.from('2611301235'), pad('13900000001', 32), u32(42)]);
    expect(v2).toHaveLength(60);
    expect(v3).toHaveLength(71);
    expect(encodeReport(report, 2).toString('hex')).toBe(v2.toString('hex'));
    expect(encodeReport(report, 3).toString('hex')).toBe(v3.toString('hex'));
    expect(decodeReport(v2, 2)).toEqual(report);
    expect(decodeReport(v3, 3)).toEqual(report);
  });

  it('encodes a 2.0 DELIVER carrying a report as 145 octets', () => {
    const content = Buffer.alloc(60, 0x41);
    const body = bodyOf('DELIVER', { msgId: 5n, destId: '1069000', srcTerminalId: '13900000001', registeredDelivery: 1, msgContent: content });
    const expected = Buffer.concat([
      u32(145), u32(5), u32(3),
      u64(5n), pad('1069000', 21), pad('', 10), u8(0), u8(0), u8(0), pad('13900000001', 21), u8(1), u8(60), content, pad('', 8),
    ]);
    expect(encodePdu({ command: 'DELIVER', sequenceId: 3, body }, 2).toString('hex')).toBe(expected.toString('hex'));
  });

  it('writes ACTIVE_TEST and TERMINATE as bare headers, ACTIVE_TEST_RESP with its reserved octet', () => {
    expect(encodePdu({ command: 'ACTIVE_TEST', sequenceId: 1, body: {} }, 2).toString('hex')).toBe('0000000c0000000800000001');
    expect(encodePdu({ command: 'ACTIVE_TEST_RESP', sequenceId: 1, body: { reserved: 0 } }, 3).toString('hex')).toBe('0000000d800000080000000100');
    expect(encodePdu({ command: 'TERMINATE', sequenceId: 2, body: {} }, 3).toString('hex')).toBe('0000000c0000000200000002');
    expect(encodePdu({ command: 'TERMINATE_RESP', sequenceId: 2, body: {} }, 2).toString('hex')).toBe('0000000c8000000200000002');
  });
});

describe('CMPP round trips', () => {
  // Fields of the other version are zero values: that is how a decoded body looks.
  const samples = (version: CmppVersion): CmppPdu[] => {
    const three = version === 3;
    return [
      { command: 'CONNECT', sequenceId: 1, body: { sourceAddr: '901234', authenticatorSource: Buffer.alloc(16, 7), version: three ? 0x30 : 0x20, timestamp: 1_130_123_456 } },
      { command: 'CONNECT_RESP', sequenceId: 1, body: { status: 4, authenticatorIsmg: Buffer.alloc(16, 9), version: 0x30 } },
      { command: 'TERMINATE', sequenceId: 2, body: {} },
      { command: 'TERMINATE_RESP', sequenceId: 2, body: {} },
      {
        command: 'SUBMIT',
        sequenceId: 0xffff_fffe,
        body: {
          msgId: 0xffff_ffff_ffff_ffffn,
          pkTotal: 3,
          pkNumber: 2,
          registeredDelivery: 1,
          msgLevel: 9,
          serviceId: 'ABCDEFGHIJ',
          feeUserType: 3,
          feeTerminalId: three ? '8'.repeat(32) : '8'.repeat(21),
          feeTerminalType: three ? 1 : 0,
          tpPid: 1,
          tpUdhi: 1,
          msgFmt: 8,
          msgSrc: '901234',
          feeType: '02',
          feeCode: '000010',
          validTime: '261130123456032+',
          atTime: '',
          srcId: '106900012345678901234',
          destTerminalIds: ['13900000001', '13900000002', '13900000003'],
          destTerminalType: three ? 1 : 0,
          msgContent: Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x03, 0x02, 0x4e, 0x2d]),
          reserve: three ? '' : 'RSV',
          linkId: three ? 'LINK-0001' : '',
        },
      },
      { command: 'SUBMIT_RESP', sequenceId: 3, body: { msgId: 42n, result: three ? 0xffff_ffff : 255 } },
      {
        command: 'DELIVER',
        sequenceId: 4,
        body: {
          msgId: 43n,
          destId: '10690001234',
          serviceId: 'MKT',
          tpPid: 0,
          tpUdhi: 0,
          msgFmt: 15,
          srcTerminalId: '13900000009',
          srcTerminalType: three ? 1 : 0,
          registeredDelivery: 0,
          msgContent: Buffer.from([0xc4, 0xe3, 0xba, 0xc3]),
          reserve: '',
          linkId: three ? 'L' : '',
        },
      },
      { command: 'DELIVER_RESP', sequenceId: 4, body: { msgId: 43n, result: 9 } },
      { command: 'ACTIVE_TEST', sequenceId: 5, body: {} },
      { command: 'ACTIVE_TEST_RESP', sequenceId: 5, body: { reserved: 0 } },
    ];
  };

  for (const version of [2, 3] as const) {
    it(`decodes what it encodes, every PDU, CMPP ${version}.0`, () => {
      for (const pdu of samples(version)) expect(decodePdu(encodePdu(pdu, version), version)).toEqual(pdu);
    });
  }

  it('refuses values that do not fit their fields, and short PDUs', () => {
    const body = bodyOf('SUBMIT', { srcId: 'x'.repeat(22), destTerminalIds: ['1'], msgContent: Buffer.from('a') });
    expect(() => encodePdu({ command: 'SUBMIT', sequenceId: 1, body }, 2)).toThrow(CmppCodecError);
    expect(() => encodePdu({ command: 'SUBMIT', sequenceId: 1, body: { ...body, srcId: '中' } }, 2)).toThrow(/ASCII/);
    const frame = encodePdu({ command: 'SUBMIT_RESP', sequenceId: 1, body: { msgId: 1n, result: 0 } }, 3);
    expect(() => decodePdu(frame.subarray(0, 20), 3)).toThrow(/ends 4 octet/);
    expect(() => decodePdu(hex('0000000c 00000099 00000001'), 2)).toThrow(/unknown Command_Id 0x00000099/);
  });
});

describe('CmppFrameReader', () => {
  const frames = [
    encodePdu({ command: 'ACTIVE_TEST', sequenceId: 1, body: {} }, 2),
    encodePdu({ command: 'SUBMIT_RESP', sequenceId: 2, body: { msgId: 9n, result: 0 } }, 2),
    encodePdu({ command: 'ACTIVE_TEST_RESP', sequenceId: 3, body: { reserved: 0 } }, 2),
  ];
  const stream = Buffer.concat(frames);

  it('finds every PDU whatever the chunking: one octet at a time, all at once, cut anywhere', () => {
    const oneByOne = new CmppFrameReader();
    const got: Buffer[] = [];
    for (const octet of stream) got.push(...oneByOne.push(Buffer.from([octet])));
    expect(got.map((f) => f.toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
    expect(oneByOne.buffered).toBe(0);

    expect(new CmppFrameReader().push(stream)).toHaveLength(3);
    for (let cut = 1; cut < stream.length; cut += 1) {
      const reader = new CmppFrameReader();
      const parts = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      expect(parts.map((f) => f.toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
    }
  });

  it('keeps an incomplete PDU until the rest comes', () => {
    const reader = new CmppFrameReader();
    expect(reader.push(stream.subarray(0, 15))).toHaveLength(1);
    expect(reader.buffered).toBe(3);
  });

  it('refuses a Total_Length no PDU can have', () => {
    expect(() => new CmppFrameReader().push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(CmppCodecError);
    expect(() => new CmppFrameReader().push(hex('00000005 00000000'))).toThrow(/Total_Length 5/);
  });
});

describe('CMPP Msg_Id, reports and results', () => {
  it('composes Msg_Id from month 4, day 5, hour 5, minute 6, second 6, ISMG code 22, sequence 16 bits', () => {
    // 30 Nov 12:34:56 in China.
    const id = composeMessageId({ at: new Date('2026-11-30T04:34:56Z'), ismgCode: 0x12345, sequence: 0xabcd }, 480);
    const time = (((11 * 32 + 30) * 32 + 12) * 64 + 34) * 64 + 56;
    expect(id).toBe((BigInt(time) << 38n) | (0x12345n << 16n) | 0xabcdn);
    expect(messageIdString(0x0000_00ff_00ab_0012n)).toBe('ff00ab0012');
    expect(messageIdString(0xb6_9e_f4_d4_b8_04_ab_cdn)).toBe('b69ef4d4b804abcd');
  });

  it('reads a report: standard words as they are, operator codes as UNDELIV with the code', () => {
    const base = { msgId: 0xabn, submitTime: '2611301234', destTerminalId: '13900000001', smscSequence: 1 };
    expect(receiptFromReport({ ...base, stat: 'DELIVRD', doneTime: '2611301235' }, 480)).toEqual({
      messageId: 'ab',
      status: 'DELIVRD',
      errorCode: null,
      doneAt: new Date('2026-11-30T04:35:00Z'),
    });
    expect(receiptFromReport({ ...base, stat: 'MK:0005', doneTime: '2611301235' }, 480)).toMatchObject({ status: 'UNDELIV', errorCode: 'MK:0005' });
    expect(receiptFromReport({ ...base, stat: 'EXPIRED', doneTime: 'garbage' }, 480)).toMatchObject({ status: 'EXPIRED', errorCode: null, doneAt: null });
  });

  it('classifies Results: 0 taken, flow control retryable, the rest final with a stable code', () => {
    const retryable = new Set([8]);
    expect(classifyResult(0, retryable)).toBe('accepted');
    expect(classifyResult(8, retryable)).toBe('retryable');
    expect(classifyResult(3, retryable)).toBe('rejected');
    expect(classifyResult(13, new Set([8, 13]))).toBe('retryable');
    expect(resultCode(3)).toBe('CMPP_RESULT_3');
  });
});

describe('CMPP message content', () => {
  it('sends ASCII as Msg_Fmt 0 in one part, other texts as UCS-2 big-endian', () => {
    expect(contentParts('Hi', 1)).toEqual([{ msgFmt: MSG_FMT_ASCII, tpUdhi: 0, pkTotal: 1, pkNumber: 1, content: Buffer.from('Hi'), text: 'Hi' }]);
    const [part] = contentParts('你好', 1);
    expect(part?.msgFmt).toBe(MSG_FMT_UCS2);
    expect(part?.content.toString('hex')).toBe('4f60597d');
    // é is GSM 03.38 but not ASCII.
    expect(contentParts('café', 1)[0]?.content.toString('hex')).toBe('006300610066' + '00e9');
  });

  it('cuts a long Chinese text into parts of 67 characters, each led by the 6-octet UDH, TP_udhi 1', () => {
    const text = '流'.repeat(150);
    const parts = contentParts(text, 0x2a);
    expect(parts.map((p) => [p.tpUdhi, p.pkTotal, p.pkNumber, p.content.length])).toEqual([
      [1, 3, 1, 6 + 134],
      [1, 3, 2, 6 + 134],
      [1, 3, 3, 6 + 32],
    ]);
    expect(parts[1]?.content.subarray(0, 6).toString('hex')).toBe('0500032a0302');
    expect(parts.map((p) => decodeContent(p.content, p.msgFmt, p.tpUdhi).text).join('')).toBe(text);
    expect(decodeContent(parts[2]!.content, MSG_FMT_UCS2, 1).concatenation).toEqual({ reference: 0x2a, total: 3, sequence: 3 });
    expect(contentPartCount(text)).toBe(3);
    // 200 ASCII characters: 153 + 47, as GSM 7-bit is cut.
    expect(contentParts('x'.repeat(200), 1).map((p) => p.content.length)).toEqual([6 + 153, 6 + 47]);
  });

  it('reads GBK (Msg_Fmt 15) and a 16-bit reference UDH', () => {
    expect(decodeContent(hex('c4e3bac3'), MSG_FMT_GBK, 0).text).toBe('你好');
    expect(decodeContent(hex('060804beef0201 0041'), MSG_FMT_UCS2, 1)).toEqual({ text: 'A', concatenation: { reference: 0xbeef, total: 2, sequence: 1 } });
  });
});
