import { XMLParser } from 'fast-xml-parser';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { GatewayReceipt } from '../../src/gateways/gateway.js';
import { buildMmsContent, buildSubmitRequest, parseSubmitRequest } from '../../src/gateways/mm7/mm7.content.js';
import { Mm7Gateway } from '../../src/gateways/mm7/mm7.gateway.js';
import { buildMultipartRelated, parseMultipartRelated } from '../../src/gateways/mm7/mm7.multipart.js';
import { receiptStatusOf, recipientKey, recipientMessageId } from '../../src/gateways/mm7/mm7.receipt.js';
import {
  buildDeliveryReportReq,
  buildDeliveryReportRsp,
  buildFault,
  buildSubmitReq,
  buildSubmitRsp,
  MalformedMm7Error,
  parseDeliveryReportReq,
  parseDeliveryReportRsp,
  parseSubmitReq,
  parseSubmitRsp,
} from '../../src/gateways/mm7/mm7.soap.js';
import { classifyMm7Status } from '../../src/gateways/mm7/mm7.status.js';

const NS = 'http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4';
// A tiny PNG-like payload whose bytes include CR, LF, "--" and NUL: binary transfer must keep them.
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x2d, 0x2d, 0x0d, 0x0a, 0x00, 0xff, 0x2d, 0x2d, 0x3d, 0x5f]);

// Neutral reading for comparisons: prefixes kept (they are part of what we promise), whitespace ignored.
const neutral = new XMLParser({ ignoreAttributes: false, parseTagValue: false, trimValues: true });

describe('MM7 SubmitReq envelope', () => {
  it('matches a SubmitReq written by hand from TS 23.140 (compared parsed, not as text)', () => {
    const built = buildSubmitReq({
      transactionId: 'tx-1',
      vaspId: 'VASP01',
      vasId: 'VAS01',
      senderAddress: '10658000',
      recipients: ['13800138000', '13900139000'],
      serviceCode: 'SVC-5G',
      deliveryReport: true,
      subject: '5G <升级> & more',
      contentId: 'mms-content@quanke',
    });
    const byHand = `<?xml version="1.0" encoding="UTF-8"?>
      <env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
        <env:Header>
          <mm7:TransactionID xmlns:mm7="${NS}" env:mustUnderstand="1">tx-1</mm7:TransactionID>
        </env:Header>
        <env:Body>
          <SubmitReq xmlns="${NS}">
            <MM7Version>6.8.0</MM7Version>
            <SenderIdentification>
              <VASPID>VASP01</VASPID>
              <VASID>VAS01</VASID>
              <SenderAddress><ShortCode>10658000</ShortCode></SenderAddress>
            </SenderIdentification>
            <Recipients>
              <To>
                <Number>13800138000</Number>
                <Number>13900139000</Number>
              </To>
            </Recipients>
            <ServiceCode>SVC-5G</ServiceCode>
            <DeliveryReport>true</DeliveryReport>
            <Subject>5G &lt;升级&gt; &amp; more</Subject>
            <Content href="cid:mms-content@quanke" allowAdaptations="true"/>
          </SubmitReq>
        </env:Body>
      </env:Envelope>`;
    expect(neutral.parse(built)).toEqual(neutral.parse(byHand));
  });

  it('reads back what it builds, whatever prefixes the other side would use', () => {
    const req = {
      transactionId: 'tx-2',
      vaspId: 'V',
      vasId: 'S',
      senderAddress: '1065',
      recipients: ['13800138000'],
      serviceCode: undefined,
      deliveryReport: true,
      subject: '流量包',
      contentId: 'c@x',
    };
    expect(parseSubmitReq(buildSubmitReq(req))).toEqual(req);
  });

  it('refuses a DOCTYPE (no entity expansion) and a body without SubmitReq', () => {
    expect(() => parseSubmitRsp('<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')).toThrow(MalformedMm7Error);
    expect(() => parseSubmitRsp('<Envelope><Body><Other/></Body></Envelope>')).toThrow(/no SubmitRsp/);
    expect(() => parseSubmitRsp('not xml <<<')).toThrow(MalformedMm7Error);
  });
});

describe('MM7 SubmitRsp', () => {
  it('reads an MMSC answer written with other prefixes', () => {
    const xml = `<?xml version="1.0"?>
      <SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
        <SOAP-ENV:Header><mm7:TransactionID xmlns:mm7="${NS}">tx-9</mm7:TransactionID></SOAP-ENV:Header>
        <SOAP-ENV:Body>
          <mm7:SubmitRsp xmlns:mm7="${NS}">
            <mm7:MM7Version>6.8.0</mm7:MM7Version>
            <mm7:Status><mm7:StatusCode>1000</mm7:StatusCode><mm7:StatusText>Success</mm7:StatusText></mm7:Status>
            <mm7:MessageID>0001A2B3</mm7:MessageID>
          </mm7:SubmitRsp>
        </SOAP-ENV:Body>
      </SOAP-ENV:Envelope>`;
    expect(parseSubmitRsp(xml)).toEqual({ transactionId: 'tx-9', statusCode: 1000, statusText: 'Success', messageId: '0001A2B3', failedRecipients: [] });
  });

  it('reads the status of a SOAP fault (RSErrorRsp), as MMSCs answer errors', () => {
    const xml = `<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>
        <env:Fault><faultcode>env:Server</faultcode><faultstring>no</faultstring>
          <detail><RSErrorRsp xmlns="${NS}"><MM7Version>6.8.0</MM7Version>
            <Status><StatusCode>3003</StatusCode><StatusText>Multiple addresses not supported</StatusText></Status>
          </RSErrorRsp></detail>
        </env:Fault></env:Body></env:Envelope>`;
    const rsp = parseSubmitRsp(xml);
    expect(rsp.statusCode).toBe(3003);
    expect(rsp.messageId).toBeNull();
  });

  it('round-trips a 1100 naming its failed recipients, and a fault', () => {
    const partial = parseSubmitRsp(buildSubmitRsp({ transactionId: 't', statusCode: 1100, statusText: 'Partial success', messageId: 'M1', failedRecipients: ['13900139000'] }));
    expect(partial).toMatchObject({ statusCode: 1100, messageId: 'M1', failedRecipients: ['13900139000'] });
    const fault = parseSubmitRsp(buildFault({ from: 'RS', transactionId: 't', statusCode: 2002, statusText: 'Address Error' }));
    expect(fault).toMatchObject({ statusCode: 2002, statusText: 'Address Error', messageId: null });
  });
});

describe('MM7 status classification', () => {
  it('sorts the codes of TS 23.140 table 31 into what the send pipeline does', () => {
    // Worked from the specification's names, independently of the table in the code.
    const expected: Array<[number, string]> = [
      [1000, 'accepted'],
      [1100, 'partial'],
      [2002, 'rejected'], // address error
      [2004, 'rejected'], // content refused
      [3000, 'retryable'], // server error
      [3001, 'retryable'], // not possible (now)
      [3002, 'rejected'], // message rejected: the same message would be again
      [3003, 'split'],
      [4001, 'gateway'], // our credentials
      [4004, 'rejected'], // validation error of this message
      [4006, 'retryable'], // service unavailable
      [4007, 'gateway'], // service denied
      [2999, 'rejected'], // an MMSC's own client error
      [3999, 'retryable'],
    ];
    for (const [code, kind] of expected) expect(classifyMm7Status(code).kind, String(code)).toBe(kind);
  });
});

describe('MM7 multipart/related', () => {
  it('round-trips binary parts with CR, LF, NUL and dashes, and finds the start part', () => {
    const built = buildMultipartRelated(
      [
        { headers: { 'Content-Type': 'text/plain', 'Content-ID': '<first@x>' }, body: Buffer.from('one') },
        { headers: { 'Content-Type': 'image/png', 'Content-ID': '<root@x>' }, body: PNG },
      ],
      { type: 'image/png', start: 'root@x' },
    );
    expect(built.contentType).toMatch(/^multipart\/related;boundary="[^"]+";type="image\/png";start="<root@x>"$/);
    const parsed = parseMultipartRelated(built.contentType, built.body);
    expect(parsed.root.contentId).toBe('root@x');
    expect(parsed.root.body.equals(PNG)).toBe(true);
    expect(parsed.parts.map((p) => p.body.toString('latin1'))).toEqual(['one', PNG.toString('latin1')]);
  });

  it('reads a hand-written body with a base64 part and no start (the first part is the root)', () => {
    const body = [
      '--b1',
      'Content-Type: text/xml',
      '',
      '<x/>',
      '--b1',
      'Content-Type: image/gif',
      'Content-Transfer-Encoding: base64',
      'Content-ID: <g@x>',
      '',
      Buffer.from('GIF89a-bytes').toString('base64'),
      '--b1--',
      '',
    ].join('\r\n');
    const parsed = parseMultipartRelated('multipart/related; boundary=b1; type="text/xml"', Buffer.from(body));
    expect(parsed.root.body.toString()).toBe('<x/>');
    expect(parsed.parts[1]!.body.toString()).toBe('GIF89a-bytes');
    expect(parsed.parts[1]!.contentId).toBe('g@x');
  });

  it('refuses a header value with a line break (no header injection)', () => {
    expect(() => buildMultipartRelated([{ headers: { 'Content-ID': '<a>\r\nX-Evil: 1' }, body: Buffer.from('') }], { type: 'text/plain', start: 'a' })).toThrow(
      /line break/,
    );
  });
});

describe('MM7 SubmitReq request body', () => {
  const mms = {
    subject: '5G 升级',
    parts: [
      { type: 'image' as const, contentType: 'image/png' as const, content: PNG },
      { type: 'text' as const, text: '尊敬的张三，您本月流量已用 1024MB' },
    ],
  };

  it('carries the envelope as start, the content by cid:, a SMIL naming every media part', () => {
    const request = buildSubmitRequest(
      { transactionId: 't', vaspId: 'V', vasId: 'S', senderAddress: '1065', recipients: ['13800138000'], deliveryReport: true, subject: mms.subject },
      mms,
    );
    const outer = parseMultipartRelated(request.contentType, request.body);
    expect(outer.root.contentType?.essence).toBe('text/xml');
    const { req, mms: received } = parseSubmitRequest(request.contentType, request.body);
    expect(req.recipients).toEqual(['13800138000']);
    expect(received.subject).toBe('5G 升级');
    expect(received.parts).toEqual([
      { type: 'image', contentType: 'image/png', content: PNG },
      { type: 'text', text: '尊敬的张三，您本月流量已用 1024MB' },
    ]);
    const smil = neutral.parse(received.smil!) as { smil: { body: { par: Array<Record<string, Record<string, string>>> } } };
    expect(smil.smil.body.par.map((par) => par.img?.['@_src'] ?? par.text?.['@_src'])).toEqual(['cid:image-1@quanke', 'cid:text-2@quanke']);
  });

  it('labels the text part UTF-8 and the SMIL as application/smil', () => {
    const content = buildMmsContent(mms);
    const parts = parseMultipartRelated(content.contentType, content.body).parts;
    expect(parts.map((p) => p.contentType?.toString())).toEqual(['application/smil;charset=utf-8', 'image/png', 'text/plain;charset=utf-8']);
  });
});

describe('MM7 delivery reports', () => {
  const gateway = () =>
    new Mm7Gateway({
      name: 'mms',
      config: { url: 'http://127.0.0.1:9/mm7', vaspId: 'V', vasId: 'S', password: 'p', senderAddress: '1065', callbackToken: 'a-long-callback-token' },
      logger: pino({ level: 'silent' }),
    });

  it('maps every MMStatus to a receipt status', () => {
    expect(['Retrieved', 'Expired', 'Rejected', 'Deferred', 'Indeterminate', 'Forwarded', 'Unrecognised', 'Whatever'].map(receiptStatusOf)).toEqual([
      'DELIVRD',
      'EXPIRED',
      'REJECTD',
      'ENROUTE',
      'UNKNOWN',
      'ENROUTE',
      'UNDELIV',
      'UNKNOWN',
    ]);
  });

  it('keys a recipient the same however the MMSC spells the number', () => {
    for (const spelling of ['13800138000', '+8613800138000', '8613800138000', '008613800138000', '+86 138-0013-8000/TYPE=PLMN']) {
      expect(recipientKey(spelling), spelling).toBe('13800138000');
    }
    expect(recipientMessageId(' M1 ', '+8613800138000')).toBe('M1/13800138000');
  });

  it('turns a hand-written DeliveryReportReq into a receipt and answers DeliveryReportRsp 1000 with the same TransactionID', () => {
    const receipts: GatewayReceipt[] = [];
    const mm7 = gateway();
    mm7.on('receipt', (r) => receipts.push(r));
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
      <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
        <soap:Header><mm7:TransactionID xmlns:mm7="${NS}" soap:mustUnderstand="1">rpt-7</mm7:TransactionID></soap:Header>
        <soap:Body><mm7:DeliveryReportReq xmlns:mm7="${NS}">
          <mm7:MM7Version>6.8.0</mm7:MM7Version>
          <mm7:MMSRelayServerID>mmsc-1</mm7:MMSRelayServerID>
          <mm7:MessageID>MSG42</mm7:MessageID>
          <mm7:Recipient><mm7:Number>+8613800138000</mm7:Number></mm7:Recipient>
          <mm7:Sender><mm7:ShortCode>1065</mm7:ShortCode></mm7:Sender>
          <mm7:Date>2026-11-30T08:00:00+08:00</mm7:Date>
          <mm7:MMStatus>Expired</mm7:MMStatus>
        </mm7:DeliveryReportReq></soap:Body>
      </soap:Envelope>`;
    const answer = mm7.handleDeliveryReport('text/xml; charset=utf-8', Buffer.from(xml));
    expect(answer.statusCode).toBe(200);
    expect(parseDeliveryReportRsp(answer.body)).toEqual({ transactionId: 'rpt-7', statusCode: 1000, statusText: 'Success' });
    expect(receipts).toEqual([
      {
        gateway: 'mms',
        gatewayMessageId: 'MSG42/13800138000',
        status: 'EXPIRED',
        errorCode: 'MM7_Expired',
        doneAt: new Date('2026-11-30T00:00:00Z'),
        receivedAt: expect.any(Date),
      },
    ]);
  });

  it('answers an unreadable report with a SOAP fault and emits nothing', () => {
    const receipts: GatewayReceipt[] = [];
    const mm7 = gateway();
    mm7.on('receipt', (r) => receipts.push(r));
    const answer = mm7.handleDeliveryReport('text/xml', Buffer.from('<Envelope><Body><DeliveryReportReq/></Body></Envelope>'));
    expect(answer.statusCode).toBe(500);
    expect(parseSubmitRsp(answer.body).statusCode).toBe(4004);
    expect(receipts).toEqual([]);
  });

  it('round-trips a DeliveryReportReq and its answer', () => {
    const date = new Date('2026-12-01T02:03:04Z');
    const req = { transactionId: 'x', relayServerId: 'r', messageId: 'M', recipient: '13800138000', sender: '1065', date, mmStatus: 'Retrieved', statusText: 'ok' };
    expect(parseDeliveryReportReq(buildDeliveryReportReq(req))).toEqual(req);
    expect(parseDeliveryReportRsp(buildDeliveryReportRsp({ transactionId: 'x', statusCode: 1000, statusText: 'Success' }))).toEqual({
      transactionId: 'x',
      statusCode: 1000,
      statusText: 'Success',
    });
  });

  it('accepts the callback token as a basic-auth password or a bearer token, and nothing else', () => {
    const mm7 = gateway();
    const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    expect(mm7.acceptsCallbackCredentials(basic('mmsc', 'a-long-callback-token'))).toBe(true);
    expect(mm7.acceptsCallbackCredentials('Bearer a-long-callback-token')).toBe(true);
    expect(mm7.acceptsCallbackCredentials(basic('mmsc', 'a-long-callback-tokeN'))).toBe(false);
    expect(mm7.acceptsCallbackCredentials('Bearer ')).toBe(false);
    expect(mm7.acceptsCallbackCredentials(undefined)).toBe(false);
    expect(mm7.acceptsCallbackCredentials('Digest a-long-callback-token')).toBe(false);
  });
});
