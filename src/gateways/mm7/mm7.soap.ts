import { XMLBuilder, XMLParser } from 'fast-xml-parser';

/**
 * MM7 SOAP envelopes (3GPP TS 23.140 REL-6, schema REL-6-MM7-1-4), built and read with
 * fast-xml-parser: values are escaped by the builder, and parsing drops namespace prefixes so that
 * an MMSC writing `mm7:`, `m:` or a default namespace reads the same.
 */

export const MM7_NAMESPACE = 'http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4';
export const MM7_VERSION = '6.8.0';
export const SOAP_ENVELOPE_NAMESPACE = 'http://schemas.xmlsoap.org/soap/envelope/';

/** MM7 status codes this codebase names (TS 23.140 §8.1, table 31). */
export const MM7_STATUS = {
  SUCCESS: 1000,
  PARTIAL_SUCCESS: 1100,
  CLIENT_ERROR: 2000,
  ADDRESS_ERROR: 2002,
  SERVER_ERROR: 3000,
  MULTIPLE_ADDRESSES_NOT_SUPPORTED: 3003,
  IMPROPER_IDENTIFICATION: 4001,
  VALIDATION_ERROR: 4004,
  SERVICE_UNAVAILABLE: 4006,
} as const;

export interface SubmitReq {
  transactionId: string;
  vaspId: string;
  vasId: string;
  senderAddress: string;
  /** Numbers (or short codes, or e-mail addresses) in one `<To>`. */
  recipients: string[];
  serviceCode?: string | undefined;
  deliveryReport: boolean;
  subject: string;
  /** The Content-ID of the content part, referred to as `cid:` from `<Content href>`. */
  contentId: string;
}

export interface Mm7Status {
  transactionId: string | null;
  statusCode: number;
  statusText: string;
}

export interface SubmitRsp extends Mm7Status {
  messageId: string | null;
  /** Addresses named inside `<Status><Details>`: the failed recipients of a 1100 partial success. */
  failedRecipients: string[];
}

export type MmStatus = 'Expired' | 'Retrieved' | 'Rejected' | 'Indeterminate' | 'Forwarded' | 'Unrecognised' | 'Deferred';

export interface DeliveryReportReq {
  transactionId: string | null;
  messageId: string;
  recipient: string;
  sender: string | null;
  date: Date | null;
  mmStatus: string;
  statusText: string | null;
  relayServerId: string | null;
}

/** The envelope is not an MM7 message we can read; the message says what is missing, never the content. */
export class MalformedMm7Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMm7Error';
  }
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: true, suppressBooleanAttributes: false });

const ADDRESS_ELEMENTS = ['Number', 'ShortCode', 'RFC2822Address'] as const;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  // Every value stays a string: numbers keep their leading zeros and message ids their form.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => (ADDRESS_ELEMENTS as readonly string[]).includes(name) || name === 'To' || name === 'Cc' || name === 'Bcc',
});

type XmlNode = Record<string, unknown>;

function envelope(transactionId: string | null, body: XmlNode): string {
  const header =
    transactionId === null
      ? undefined
      : { 'mm7:TransactionID': { '@_xmlns:mm7': MM7_NAMESPACE, '@_env:mustUnderstand': '1', '#text': transactionId } };
  return builder.build({
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    'env:Envelope': {
      '@_xmlns:env': SOAP_ENVELOPE_NAMESPACE,
      ...(header ? { 'env:Header': header } : {}),
      'env:Body': body,
    },
  }) as string;
}

/** `<Number>` for a phone number, `<RFC2822Address>` for an e-mail address, `<ShortCode>` for a service number. */
function addressNode(address: string): XmlNode {
  if (address.includes('@')) return { RFC2822Address: [address] };
  if (/^\+?\d{11,}$/.test(address)) return { Number: [address] };
  return { ShortCode: [address] };
}

export function buildSubmitReq(req: SubmitReq): string {
  if (req.recipients.length === 0) throw new Error('a SubmitReq needs at least one recipient');
  const numbers = req.recipients.filter((r) => !r.includes('@'));
  const emails = req.recipients.filter((r) => r.includes('@'));
  return envelope(req.transactionId, {
    SubmitReq: {
      '@_xmlns': MM7_NAMESPACE,
      MM7Version: MM7_VERSION,
      SenderIdentification: { VASPID: req.vaspId, VASID: req.vasId, SenderAddress: addressNode(req.senderAddress) },
      Recipients: { To: [{ ...(numbers.length > 0 ? { Number: numbers } : {}), ...(emails.length > 0 ? { RFC2822Address: emails } : {}) }] },
      ...(req.serviceCode ? { ServiceCode: req.serviceCode } : {}),
      DeliveryReport: String(req.deliveryReport),
      Subject: req.subject,
      Content: { '@_href': `cid:${req.contentId}`, '@_allowAdaptations': 'true' },
    },
  });
}

export function buildSubmitRsp(rsp: { transactionId: string | null; statusCode: number; statusText: string; messageId?: string; failedRecipients?: string[] }): string {
  const details = rsp.failedRecipients?.length ? { Details: { FailedRecipients: { Number: rsp.failedRecipients } } } : {};
  return envelope(rsp.transactionId, {
    SubmitRsp: {
      '@_xmlns': MM7_NAMESPACE,
      MM7Version: MM7_VERSION,
      Status: { StatusCode: String(rsp.statusCode), StatusText: rsp.statusText, ...details },
      ...(rsp.messageId ? { MessageID: rsp.messageId } : {}),
    },
  });
}

export function buildDeliveryReportReq(req: Omit<DeliveryReportReq, 'date'> & { date: Date }): string {
  return envelope(req.transactionId, {
    DeliveryReportReq: {
      '@_xmlns': MM7_NAMESPACE,
      MM7Version: MM7_VERSION,
      ...(req.relayServerId ? { MMSRelayServerID: req.relayServerId } : {}),
      MessageID: req.messageId,
      Recipient: addressNode(req.recipient),
      ...(req.sender ? { Sender: addressNode(req.sender) } : {}),
      Date: req.date.toISOString(),
      MMStatus: req.mmStatus,
      ...(req.statusText ? { StatusText: req.statusText } : {}),
    },
  });
}

export function buildDeliveryReportRsp(rsp: Mm7Status): string {
  return envelope(rsp.transactionId, {
    DeliveryReportRsp: {
      '@_xmlns': MM7_NAMESPACE,
      MM7Version: MM7_VERSION,
      Status: { StatusCode: String(rsp.statusCode), StatusText: rsp.statusText },
    },
  });
}

/**
 * A SOAP fault carrying an MM7 error status: `RSErrorRsp` from an MMSC (relay/server), `VASPErrorRsp`
 * from us. `env:Client` for 2xxx and 4xxx, `env:Server` for 3xxx.
 */
export function buildFault(fault: Mm7Status & { from: 'RS' | 'VASP' }): string {
  const element = fault.from === 'RS' ? 'mm7:RSErrorRsp' : 'mm7:VASPErrorRsp';
  return envelope(fault.transactionId, {
    'env:Fault': {
      faultcode: fault.statusCode >= 3000 && fault.statusCode < 4000 ? 'env:Server' : 'env:Client',
      faultstring: fault.statusText,
      detail: {
        [element]: {
          '@_xmlns:mm7': MM7_NAMESPACE,
          'mm7:MM7Version': MM7_VERSION,
          'mm7:Status': { 'mm7:StatusCode': String(fault.statusCode), 'mm7:StatusText': fault.statusText },
        },
      },
    },
  });
}

interface ParsedEnvelope {
  transactionId: string | null;
  body: XmlNode;
}

function parseEnvelope(xml: string): ParsedEnvelope {
  // SOAP 1.1 §3 forbids a DTD; refusing it also shuts out entity expansion attacks.
  if (/<!DOCTYPE/i.test(xml)) throw new MalformedMm7Error('a SOAP message must not carry a DOCTYPE');
  let document: XmlNode;
  try {
    document = parser.parse(xml, true) as XmlNode;
  } catch {
    throw new MalformedMm7Error('the SOAP envelope is not well-formed XML');
  }
  const env = child(document, 'Envelope');
  const body = env && child(env, 'Body');
  if (!env || !body) throw new MalformedMm7Error('no SOAP Envelope with a Body');
  const header = child(env, 'Header');
  const transactionId = header ? textOf(header.TransactionID) : null;
  return { transactionId, body };
}

function child(node: XmlNode, name: string): XmlNode | undefined {
  const value = node[name];
  if (Array.isArray(value)) return value[0] as XmlNode | undefined;
  return value !== null && typeof value === 'object' ? (value as XmlNode) : value === '' ? {} : undefined;
}

/** The text of an element, whether written bare or with attributes (`{'#text': …}`). */
function textOf(value: unknown): string | null {
  if (Array.isArray(value)) return textOf(value[0]);
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && '#text' in value) return String((value as XmlNode)['#text']);
  return null;
}

/** Every address under an element (`<To>`, `<Recipient>`, `<Details>`…), in document order per kind. */
function addressesIn(node: unknown): string[] {
  const found: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value as XmlNode)) {
      if ((ADDRESS_ELEMENTS as readonly string[]).includes(key)) {
        for (const item of [inner].flat()) {
          const text = textOf(item);
          if (text) found.push(text);
        }
      } else if (!key.startsWith('@_') && key !== '#text') {
        visit(inner);
      }
    }
  };
  visit(node);
  return found;
}

function statusOf(node: XmlNode, transactionId: string | null): Mm7Status {
  const status = child(node, 'Status');
  const code = status ? Number(textOf(status.StatusCode)) : NaN;
  if (!status || !Number.isInteger(code)) throw new MalformedMm7Error('no Status with a numeric StatusCode');
  return { transactionId, statusCode: code, statusText: textOf(status.StatusText) ?? '' };
}

/** The MM7 status of an answer: the named response element, or a SOAP fault's RSErrorRsp / VASPErrorRsp. */
function responseStatus(body: XmlNode, element: string, transactionId: string | null): { node: XmlNode; status: Mm7Status } {
  const response = child(body, element);
  if (response) return { node: response, status: statusOf(response, transactionId) };
  const fault = child(body, 'Fault');
  if (fault) {
    const detail = child(fault, 'detail') ?? child(fault, 'Detail');
    const error = detail && (child(detail, 'RSErrorRsp') ?? child(detail, 'VASPErrorRsp'));
    if (error) return { node: error, status: statusOf(error, transactionId) };
    throw new MalformedMm7Error(`a SOAP fault without an MM7 status (${textOf(fault.faultcode) ?? 'no faultcode'})`);
  }
  throw new MalformedMm7Error(`no ${element} in the SOAP Body`);
}

export function parseSubmitRsp(xml: string): SubmitRsp {
  const { transactionId, body } = parseEnvelope(xml);
  const { node, status } = responseStatus(body, 'SubmitRsp', transactionId);
  const details = child(node, 'Status')?.Details;
  return { ...status, messageId: textOf(node.MessageID), failedRecipients: details === undefined ? [] : addressesIn(details) };
}

export function parseSubmitReq(xml: string): SubmitReq {
  const { transactionId, body } = parseEnvelope(xml);
  const req = child(body, 'SubmitReq');
  if (!req) throw new MalformedMm7Error('no SubmitReq in the SOAP Body');
  const sender = child(req, 'SenderIdentification') ?? {};
  const recipients = child(req, 'Recipients');
  const content = child(req, 'Content');
  const href = content ? textOf(content['@_href']) : null;
  if (!recipients || !href) throw new MalformedMm7Error('a SubmitReq needs Recipients and Content');
  return {
    transactionId: transactionId ?? '',
    vaspId: textOf(sender.VASPID) ?? '',
    vasId: textOf(sender.VASID) ?? '',
    senderAddress: addressesIn(sender.SenderAddress)[0] ?? '',
    recipients: addressesIn(recipients),
    serviceCode: textOf(req.ServiceCode) ?? undefined,
    deliveryReport: textOf(req.DeliveryReport) === 'true',
    subject: textOf(req.Subject) ?? '',
    contentId: href.replace(/^cid:/i, ''),
  };
}

export function parseDeliveryReportReq(xml: string): DeliveryReportReq {
  const { transactionId, body } = parseEnvelope(xml);
  const req = child(body, 'DeliveryReportReq');
  if (!req) throw new MalformedMm7Error('no DeliveryReportReq in the SOAP Body');
  const messageId = textOf(req.MessageID);
  const recipient = addressesIn(req.Recipient)[0];
  const mmStatus = textOf(req.MMStatus);
  if (!messageId || !recipient || !mmStatus) throw new MalformedMm7Error('a DeliveryReportReq needs MessageID, Recipient and MMStatus');
  const dateText = textOf(req.Date);
  const date = dateText ? new Date(dateText) : null;
  return {
    transactionId,
    messageId,
    recipient,
    sender: addressesIn(req.Sender)[0] ?? null,
    date: date && !Number.isNaN(date.getTime()) ? date : null,
    mmStatus,
    statusText: textOf(req.StatusText),
    relayServerId: textOf(req.MMSRelayServerID),
  };
}

export function parseDeliveryReportRsp(xml: string): Mm7Status {
  const { transactionId, body } = parseEnvelope(xml);
  return responseStatus(body, 'DeliveryReportRsp', transactionId).status;
}
